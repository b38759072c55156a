"""Plans (dry runs), the mass-change breaker, and pushing Skalin values now (reliability R7, R11)."""

from unittest import mock

import pytest
from django.core.exceptions import ValidationError

from customers.models import ChangeLog, Customer, CustomerSource
from integrations import safety
from integrations.models import Connection, ExternalRef, QuarantinedRecord, SyncMode, SyncRun, SyncState
from integrations.sync import sync_connection
from integrations.tasks import awaiting_decision, sync_all_connections
from tests.factories import CustomerFactory
from tests.integrations.conftest import block

pytestmark = pytest.mark.django_db


def run(connection, crm, **kwargs):
    return sync_connection(connection_id=connection.pk, connector=crm, **kwargs)


def snapshot(workspace):
    return (
        list(
            Customer.objects.filter(workspace=workspace)
            .values_list("name", "domain", "phase_id")
            .order_by("pk")
        ),
        ExternalRef.objects.count(),
        SyncState.objects.filter(cursor__gt="").count(),
        QuarantinedRecord.objects.count(),
        ChangeLog.objects.count(),
        CustomerSource.objects.count(),
    )


def test_a_plan_reads_the_crm_and_writes_nothing(connection, crm, workspace):
    CustomerFactory(workspace=workspace, name="Acme", domain="")
    CustomerFactory(workspace=workspace, name="Twin", domain="twins.com")
    CustomerFactory(workspace=workspace, name="Twin 2", domain="twins.com")
    crm.put("customers", "c1", name="ACME", domain="acme.com")
    crm.put("customers", "c2", name="Brand new", domain="new.com")
    crm.put("customers", "c3", name="Twin Co", domain="twins.com")
    before = snapshot(workspace)

    plan = run(connection, crm, dry_run=True)

    assert plan.status == SyncRun.Status.SUCCEEDED
    assert plan.dry_run
    assert snapshot(workspace) == before
    counts = plan.by_object["customers"]
    assert (counts["created"], counts["updated"], counts["quarantined"]) == (1, 1, 1)
    samples = plan.plan["customers"]
    assert samples["create"][0]["label"] == "Brand new"
    assert samples["merge"][0] == {"external_id": "c1", "label": "ACME", "customer": "ACME", "key": "name"}
    assert {"field": "domain", "old": "", "new": "acme.com"}.items() <= samples["update"][0].items()
    assert "share the domain" in samples["quarantine"][0]["reason"]
    connection.refresh_from_db()
    assert connection.last_synced_at is None


def test_applying_a_plan_does_what_it_said_and_a_new_plan_is_then_empty(connection, crm, workspace):
    for n in range(4):
        crm.put("customers", f"c{n}", name=f"Company {n}", domain=f"company{n}.com")
    plan = run(connection, crm, dry_run=True)

    applied = run(connection, crm, applies=plan)
    assert applied.by_object["customers"]["created"] == plan.by_object["customers"]["created"] == 4
    assert not applied.warnings

    again = run(connection, crm, dry_run=True)
    assert again.by_object["customers"].get("created", 0) == 0
    assert again.by_object["customers"].get("updated", 0) == 0


def test_an_apply_reports_what_changed_in_the_crm_since_the_plan(connection, crm):
    crm.put("customers", "c1", name="One")
    plan = run(connection, crm, dry_run=True)
    crm.put("customers", "c2", name="Two")

    applied = run(connection, crm, applies=plan)
    assert any("2 created where the plan said 1" in warning for warning in applied.warnings)


def test_a_plan_sends_no_write_to_the_crm(connection, crm, workspace):
    block(connection, "customers", options={"data_back": {"enabled": True}})
    crm.put("customers", "c1", name="Acme")
    run(connection, crm)
    Customer.objects.filter(name="Acme").update(csm_pulse=4)

    plan = run(connection, crm, dry_run=True)
    assert crm.writes == []
    assert plan.plan["scores"]["push"][0]["new"] == 4


def test_a_run_that_would_churn_too_many_customers_pauses_until_an_admin_approves(
    connection, crm, workspace, admin_membership
):
    block(connection, "customers", options={"churn_on_absence": True})
    for n in range(10):
        crm.put("customers", f"c{n}", name=f"Company {n}")
    run(connection, crm)
    for n in range(4):  # 40 % leave the selection
        crm.change("customers", f"c{n}", selected=False)

    paused = run(connection, crm)
    assert paused.status == SyncRun.Status.PAUSED
    assert "4 of 10 customers would be churned" in paused.errors[0]["message"]
    assert not Customer.objects.filter(workspace=workspace, phase__technical_name="churn").exists()
    assert awaiting_decision(connection.pk)
    with mock.patch("integrations.tasks.sync_connection_task") as task:
        assert sync_all_connections() == 0
    task.delay.assert_not_called()

    with mock.patch("integrations.safety.sync_connection_task"):
        safety.run_approve(run=paused, user=admin_membership.user)
    approved = run(connection, crm, approved=True)
    assert approved.churned == 4
    with pytest.raises(ValidationError):
        safety.run_approve(run=paused, user=admin_membership.user)


def test_a_run_that_would_overwrite_too_many_customers_pauses_before_writing_them(connection, crm, workspace):
    crm.page_size = 10
    for n in range(10):
        crm.put("customers", f"c{n}", name=f"Company {n}", domain=f"c{n}.com")
    run(connection, crm)
    for n in range(10):
        crm.change("customers", f"c{n}", domain=f"renamed{n}.com")

    paused = run(connection, crm)
    assert paused.status == SyncRun.Status.PAUSED
    assert "overwritten" in paused.errors[0]["message"]
    assert Customer.objects.filter(workspace=workspace, domain__startswith="renamed").count() == 0


def test_a_cancelled_pause_writes_nothing(connection, crm, admin_membership):
    paused = SyncRun.objects.create(connection=connection, status=SyncRun.Status.PAUSED)
    safety.run_cancel(run=paused, user=admin_membership.user)
    paused.refresh_from_db()
    assert paused.status == SyncRun.Status.CANCELLED
    assert paused.decided_by == admin_membership.user
    assert not awaiting_decision(connection.pk)


def test_output_fields_of_an_input_block_are_pushed(connection, crm, workspace):
    block(connection, "customers", mappings=[("custom:tier", "skalin_tier", {"direction": "output"})])
    from customers.models import CustomField

    CustomField.objects.create(workspace=workspace, target="customer", key="tier", label="Tier")
    crm.put("customers", "c1", name="Acme")
    run(connection, crm)
    customer = Customer.objects.get(name="Acme")
    customer.custom_values = {"tier": "gold"}
    customer.save()

    result = run(connection, crm)
    assert crm.data["customers"]["c1"].fields["skalin_tier"] == "gold"
    assert result.pushed == 1


def test_push_now_sends_every_output_field_that_differs_without_reading(connection, crm, workspace):
    block(
        connection,
        "customers",
        mode=SyncMode.INPUT,
        mappings=[("custom:tier", "skalin_tier", {"direction": "output"})],
    )
    from customers.models import CustomField

    CustomField.objects.create(workspace=workspace, target="customer", key="tier", label="Tier")
    crm.put("customers", "c1", name="Acme")
    run(connection, crm)
    Customer.objects.filter(name="Acme").update(custom_values={"tier": "silver"})  # no updated_at bump
    crm.reads.clear()

    pushed = run(connection, crm, push_only=True)
    assert crm.reads == []
    assert crm.data["customers"]["c1"].fields["skalin_tier"] == "silver"
    assert pushed.pushed == 1


def test_queued_runs_can_be_followed_from_the_page_that_started_them(connection, crm):
    crm.put("customers", "c1", name="One")
    with mock.patch("integrations.safety.sync_connection_task"):
        queued = safety.plan_start(connection=connection)
    assert queued.status == SyncRun.Status.QUEUED
    done = run(connection, crm, dry_run=True, queued_run_id=queued.pk)
    assert done.pk == queued.pk
    queued.refresh_from_db()
    assert queued.status == SyncRun.Status.SUCCEEDED
    assert queued.by_object["customers"]["created"] == 1


def test_a_draft_connection_can_be_planned_but_not_synced(connection, crm, workspace):
    Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.DRAFT)
    crm.put("customers", "c1", name="One")
    assert run(connection, crm).status == SyncRun.Status.SKIPPED
    plan = run(connection, crm, dry_run=True)
    assert plan.status == SyncRun.Status.SUCCEEDED
    with mock.patch("integrations.safety.sync_connection_task"):
        safety.plan_apply(plan_run=plan)
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE


def test_a_failing_plan_still_keeps_a_token_refreshed_during_it(connection, crm):
    class Tokens:
        persisted = 0

        def persist(self):
            self.persisted += 1

    crm.http.tokens = Tokens()
    crm.put("customers", "c1", name="One")
    crm.fail_after_pages = 0

    plan = run(connection, crm, dry_run=True)
    assert plan.status == SyncRun.Status.FAILED
    assert crm.http.tokens.persisted == 1


def test_a_rate_limited_connection_is_parked_until_its_resume_time(connection):
    import datetime as dt

    from django.utils import timezone

    run_row = SyncRun.objects.create(
        connection=connection, status=SyncRun.Status.RATE_LIMITED, resume_at=timezone.now() + dt.timedelta(hours=3)
    )
    with mock.patch("integrations.tasks.sync_connection_task") as task:
        assert sync_all_connections() == 0
    task.delay.assert_not_called()

    SyncRun.objects.filter(pk=run_row.pk).update(resume_at=timezone.now() - dt.timedelta(minutes=1))
    with mock.patch("integrations.tasks.sync_connection_task") as task:
        assert sync_all_connections() == 1
