"""The engine against an in-memory CRM: reliability.md's rules, one by one."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from agreements.models import Agreement, SkippedAgreement
from customers.models import ChangeLog, Contact, Customer, CustomerSource, Phase
from integrations.models import (
    Connection,
    ExternalRef,
    ObjectType,
    QuarantinedRecord,
    SyncMode,
    SyncRun,
    SyncState,
)
from integrations.sync import sync_connection
from interactions.models import Interaction
from tests.factories import CustomerFactory, InteractionFactory, UserFactory
from tests.integrations.conftest import block

pytestmark = pytest.mark.django_db


def run(connection, crm, **kwargs):
    return sync_connection(connection_id=connection.pk, connector=crm, **kwargs)


def names(workspace):
    return sorted(Customer.objects.filter(workspace=workspace).values_list("name", flat=True))


def test_a_first_run_creates_customers_and_a_second_changes_nothing(connection, crm, workspace):
    for n in range(5):
        crm.put("customers", f"c{n}", name=f"Company {n}", domain=f"company{n}.com")

    first = run(connection, crm)
    assert first.status == SyncRun.Status.SUCCEEDED
    assert first.created == 5
    snapshot = list(
        Customer.objects.filter(workspace=workspace).values("pk", "name", "domain", "ref_id").order_by("pk")
    )

    second = run(connection, crm)
    assert (second.created, second.updated) == (0, 0)
    assert (
        list(
            Customer.objects.filter(workspace=workspace)
            .values("pk", "name", "domain", "ref_id")
            .order_by("pk")
        )
        == snapshot
    )
    assert ExternalRef.objects.filter(connection=connection).count() == 5
    assert CustomerSource.objects.filter(source="hubspot").count() == 5
    assert Customer.objects.get(name="Company 3").ref_id == "c3"


def test_the_cursor_is_the_newest_modification_time_and_the_next_run_reads_only_changes(connection, crm):
    for n in range(4):
        crm.put("customers", f"c{n}", name=f"Company {n}")
    run(connection, crm)
    state = SyncState.objects.get(connection=connection, object_type="customers")
    assert state.cursor == crm.data["customers"]["c3"].modified.isoformat()

    crm.change("customers", "c1", name="Company One")
    crm.reads.clear()
    second = run(connection, crm)
    assert second.updated == 1
    assert crm.reads[0].since is not None
    assert Customer.objects.filter(name="Company One").exists()


def test_changes_the_connector_reads_and_drops_still_move_the_cursor(connection, crm, workspace):
    crm.put("customers", "c0", name="Company 0")
    crm.put("customers", "c1", name="Company 1")
    run(connection, crm)
    state = SyncState.objects.get(connection=connection, object_type="customers")
    assert state.cursor == crm.data["customers"]["c1"].modified.isoformat()

    # A page holding only records the connector drops (out of the selection) keeps nothing...
    crm.put("customers", "c2", name="Company 2", dropped=True)
    crm.put("customers", "c3", name="Company 3", dropped=True)
    crm.reads.clear()
    second = run(connection, crm)
    assert second.status == SyncRun.Status.SUCCEEDED
    assert second.created == 0
    # ...yet the cursor moves past them, so the next run does not read them again.
    state.refresh_from_db()
    assert state.cursor == crm.data["customers"]["c3"].modified.isoformat()
    crm.reads.clear()
    run(connection, crm)
    assert crm.reads[0].since > crm.data["customers"]["c3"].modified - dt.timedelta(minutes=10)
    assert crm.reads[0].since > crm.data["customers"]["c2"].modified
    assert names(workspace) == ["Company 0", "Company 1"]


def test_a_crash_after_a_page_of_dropped_records_resumes_and_the_cursor_ends_past_them(
    connection, crm, workspace
):
    for n in range(6):
        crm.put("customers", f"c{n}", name=f"Company {n}", dropped=n in (0, 1, 4, 5))
    crm.fail_after_pages = 2

    crashed = run(connection, crm)
    assert crashed.status == SyncRun.Status.FAILED
    state = SyncState.objects.get(connection=connection, object_type="customers")
    assert (state.page_cursor, state.cursor) == ("4", "")
    assert state.high_water == crm.data["customers"]["c3"].modified.isoformat()
    assert names(workspace) == ["Company 2", "Company 3"]

    crm.fail_after_pages = None
    crm.reads.clear()
    resumed = run(connection, crm)
    assert resumed.status == SyncRun.Status.SUCCEEDED
    assert crm.reads[0].cursor == "4"
    state.refresh_from_db()
    assert (state.page_cursor, state.high_water) == ("", "")
    assert state.cursor == crm.data["customers"]["c5"].modified.isoformat()
    assert names(workspace) == ["Company 2", "Company 3"]


def test_a_crashed_run_resumes_from_its_last_committed_page(connection, crm, workspace):
    for n in range(6):
        crm.put("customers", f"c{n}", name=f"Company {n}")
    crm.fail_after_pages = 2

    crashed = run(connection, crm)
    assert crashed.status == SyncRun.Status.FAILED
    assert len(names(workspace)) == 4
    assert SyncState.objects.get(connection=connection, object_type="customers").page_cursor == "4"

    crm.fail_after_pages = None
    crm.reads.clear()
    resumed = run(connection, crm)
    assert resumed.status == SyncRun.Status.SUCCEEDED
    assert crm.reads[0].cursor == "4"
    assert len(names(workspace)) == 6
    assert Customer.objects.filter(workspace=workspace).count() == 6


def test_a_blank_crm_value_keeps_the_local_one_unless_the_field_is_clearable(connection, crm, workspace):
    crm.put("customers", "c1", name="Acme", domain="acme.com")
    run(connection, crm)
    crm.change("customers", "c1", domain="")

    second = run(connection, crm)
    assert Customer.objects.get(name="Acme").domain == "acme.com"
    assert second.skipped_empty == 1

    connection.object_settings.get(object_type="customers").mappings.filter(local_field="domain").update(
        clearable=True
    )
    crm.change("customers", "c1", domain="")
    run(connection, crm)
    assert Customer.objects.get(name="Acme").domain == ""


def test_merge_keys_find_an_existing_customer_instead_of_duplicating_it(connection, crm, workspace):
    existing = CustomerFactory(workspace=workspace, name="ＡＣＭＥ  Corp", domain="")
    crm.put("customers", "c1", name="acme corp", domain="acme.io")

    run(connection, crm)
    assert Customer.objects.filter(workspace=workspace).count() == 1
    existing.refresh_from_db()
    assert existing.domain == "acme.io"
    assert ExternalRef.objects.get(connection=connection, external_id="c1").local_id == existing.pk


def test_an_ambiguous_merge_key_quarantines_the_record(connection, crm, workspace):
    CustomerFactory(workspace=workspace, name="Twin A", domain="twins.com")
    CustomerFactory(workspace=workspace, name="Twin B", domain="twins.com")
    crm.put("customers", "c1", name="Twins Inc", domain="twins.com")

    result = run(connection, crm)
    assert result.quarantined == 1
    row = QuarantinedRecord.objects.get(connection=connection, external_id="c1")
    assert "2 customers share the domain 'twins.com'" in row.reason
    assert Customer.objects.filter(workspace=workspace).count() == 2


def test_a_custom_merge_key_is_named_by_its_field_label_in_merge_notes_and_quarantine(
    connection, crm, workspace
):
    from customers.models import CustomField

    CustomField.objects.create(workspace=workspace, target="customer", key="old_crm_id", label="Old CRM ID")
    block(
        connection,
        ObjectType.CUSTOMERS,
        options={"merge_keys": ["custom:old_crm_id"]},
        mappings=[("custom:old_crm_id", "legacy_id")],
    )
    CustomerFactory(workspace=workspace, name="Legacy Acme", custom_values={"old_crm_id": "L-1"})
    CustomerFactory(workspace=workspace, name="Twin A", custom_values={"old_crm_id": "L-2"})
    CustomerFactory(workspace=workspace, name="Twin B", custom_values={"old_crm_id": "L-2"})
    crm.put("customers", "c1", name="Acme", legacy_id="L-1")
    crm.put("customers", "c2", name="Twins", legacy_id="L-2")

    plan = run(connection, crm, dry_run=True)
    samples = plan.plan["customers"]
    assert samples["merge"][0]["key"] == "Old CRM ID"
    assert samples["quarantine"][0]["reason"] == "2 customers share the Old CRM ID 'L-2'."

    result = run(connection, crm)
    assert result.quarantined == 1
    reason = QuarantinedRecord.objects.get(connection=connection, external_id="c2").reason
    assert reason == "2 customers share the Old CRM ID 'L-2'."
    acme = Customer.objects.get(workspace=workspace, custom_values__old_crm_id="L-1")
    assert ExternalRef.objects.get(connection=connection, external_id="c1").local_id == acme.pk


def test_a_free_mail_domain_never_merges(connection, crm, workspace):
    CustomerFactory(workspace=workspace, name="Solo Consulting", domain="gmail.com")
    crm.put("customers", "c1", name="Another Freelancer", domain="gmail.com")

    run(connection, crm)
    assert Customer.objects.filter(workspace=workspace).count() == 2


def test_churn_on_absence_churns_on_the_transition_only(connection, crm, workspace):
    block(connection, ObjectType.CUSTOMERS, options={"churn_on_absence": True})
    crm.put("customers", "c1", name="Stays")
    crm.put("customers", "c2", name="Leaves")
    run(connection, crm)

    crm.change("customers", "c2", selected=False)
    result = run(connection, crm)
    leaver = Customer.objects.get(name="Leaves")
    assert result.churned == 1
    assert leaver.is_churned
    assert ChangeLog.objects.filter(customer=leaver, field="phase", actor_kind="sync_run").exists()

    # An Admin un-churns it by hand: the next runs leave it alone.
    run_phase = Phase.objects.get(workspace=workspace, technical_name="run")
    Customer.objects.filter(pk=leaver.pk).update(phase=run_phase)
    assert run(connection, crm).churned == 0
    assert not Customer.objects.get(pk=leaver.pk).is_churned


def test_a_truncated_listing_churns_nobody(connection, crm):
    block(connection, ObjectType.CUSTOMERS, options={"churn_on_absence": True})
    crm.put("customers", "c1", name="One")
    run(connection, crm)

    crm.fail_ids_only = True
    result = run(connection, crm)
    assert result.status == SyncRun.Status.FAILED
    assert not Customer.objects.get(name="One").is_churned


def test_a_customer_back_in_the_selection_leaves_churn(connection, crm, workspace):
    block(connection, ObjectType.CUSTOMERS, options={"churn_on_absence": True})
    crm.put("customers", "c1", name="Returns")
    run(connection, crm)
    crm.change("customers", "c1", selected=False)
    run(connection, crm)
    assert Customer.objects.get(name="Returns").is_churned

    crm.change("customers", "c1", selected=True)
    run(connection, crm)
    assert not Customer.objects.get(name="Returns").is_churned


def test_parents_are_linked_and_a_third_level_goes_to_the_top_most(connection, crm):
    block(connection, ObjectType.CUSTOMERS, options={"parent_child": True})
    crm.put("customers", "g", name="Grandchild", links={"parent": ["c"]})
    crm.put("customers", "c", name="Child", links={"parent": ["p"]})
    crm.put("customers", "p", name="Parent")

    result = run(connection, crm)
    parent = Customer.objects.get(name="Parent")
    assert Customer.objects.get(name="Child").parent == parent
    assert Customer.objects.get(name="Grandchild").parent == parent
    assert any("more than two levels" in warning for warning in result.warnings)


def test_a_changed_mapping_resets_the_cursor_and_reads_everything_again(connection, crm):
    crm.put("customers", "c1", name="One")
    run(connection, crm)
    block(connection, ObjectType.CUSTOMERS, mappings=[("custom:old_id", "old_id")])
    crm.reads.clear()
    run(connection, crm)
    assert crm.reads[0].since is None


def test_overlapping_runs_give_one_run_and_a_skipped_one(connection, crm):
    SyncRun.objects.create(connection=connection, status=SyncRun.Status.RUNNING)
    skipped = run(connection, crm)
    assert skipped.status == SyncRun.Status.SKIPPED
    assert crm.reads == []


def test_a_disabled_connection_writes_nothing(connection, crm, workspace):
    Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.DISABLED)
    crm.put("customers", "c1", name="One")
    result = run(connection, crm)
    assert result.status == SyncRun.Status.SKIPPED
    assert not Customer.objects.filter(workspace=workspace).exists()


def test_a_page_that_mostly_fails_stops_the_run(connection, crm, workspace):
    crm.page_size = 5
    for n in range(5):
        crm.put("customers", f"c{n}", name="")
    result = run(connection, crm)
    assert result.status == SyncRun.Status.FAILED
    assert "mapping is probably wrong" in result.errors[0]["message"]


def test_contacts_are_matched_on_email_and_get_their_mapped_roles_only(connection, crm, workspace):
    crm.put("customers", "c1", name="Acme")
    block(
        connection,
        ObjectType.CONTACTS,
        mappings=[
            ("email", "email"),
            ("first_name", "firstname"),
            ("role:champion", "buying_role", {"value_table": {"CHAMPION": "yes"}}),
        ],
    )
    crm.put(
        "contacts",
        "p1",
        email="Ann@Acme.com",
        firstname="Ann",
        buying_role="CHAMPION",
        links={"customers": ["c1"]},
    )
    run(connection, crm)
    ann = Contact.objects.get(email="ann@acme.com")
    assert ann.role_tags == ["champion"]

    Contact.objects.filter(pk=ann.pk).update(role_tags=["champion", "sponsor"])
    crm.change("contacts", "p1", buying_role="END_USER")
    run(connection, crm)
    ann.refresh_from_db()
    assert ann.role_tags == ["sponsor"]


def test_incomplete_contracts_are_skipped_and_say_what_is_missing(connection, crm, workspace):
    crm.put("customers", "c1", name="Acme")
    block(
        connection,
        ObjectType.AGREEMENTS,
        options={"amount_format": "arr", "end": {"mode": "duration", "field": "months", "unit": "month"}},
        mappings=[("amount", "amount"), ("start_date", "start"), ("plan_name", "dealname")],
    )
    crm.put(
        "agreements",
        "d1",
        amount="€12 000,00",
        start="2026-01-01",
        months="12",
        dealname="Pro",
        links={"customers": ["c1"]},
    )
    crm.put(
        "agreements",
        "d2",
        amount="",
        start="2026-01-01",
        months="12",
        dealname="Broken",
        links={"customers": ["c1"]},
    )

    result = run(connection, crm)
    agreement = Agreement.objects.get(external_id="d1")
    assert str(agreement.mrr) == "1000.00"
    assert str(agreement.ends_on) == "2027-01-01"
    skipped = SkippedAgreement.objects.get(external_id="d2")
    assert skipped.missing_fields == ["amount"]
    assert result.skipped == 1


def test_scores_are_pushed_and_an_ignored_push_makes_the_run_partial(connection, crm, workspace):
    block(connection, ObjectType.CUSTOMERS, options={"data_back": {"enabled": True}})
    crm.put("customers", "c1", name="Acme")
    run(connection, crm)
    Customer.objects.filter(name="Acme").update(health_score=7, csm_pulse=4)

    pushed = run(connection, crm)
    assert pushed.status == SyncRun.Status.SUCCEEDED
    assert crm.data["customers"]["c1"].fields["skalin_healthscore"] == 7

    crm.ignore_score_writes = True
    Customer.objects.filter(name="Acme").update(health_score=2)
    partial = run(connection, crm)
    assert partial.status == SyncRun.Status.PARTIAL
    assert "Super Admin" in partial.errors[-1]["message"]


def test_only_interactions_entered_in_skalin_are_pushed(connection, crm, workspace):
    crm.put("customers", "c1", name="Acme")
    block(connection, ObjectType.INTERACTIONS, mode=SyncMode.TWO_WAYS, options={"kinds": ["note", "call"]})
    run(connection, crm)  # first two-way run: pushing starts from now
    customer = Customer.objects.get(name="Acme")
    manual = InteractionFactory(customer=customer, kind="note", direction="", source="manual")
    InteractionFactory(customer=customer, kind="note", direction="", source="hubspot", external_id="e1")

    result = run(connection, crm)
    created = [w for w in crm.writes if w[0] == ObjectType.INTERACTIONS]
    assert len(created) == 1
    assert ExternalRef.objects.get(connection=connection, object_type="interactions").local_id == manual.pk
    assert result.pushed == 1
    run(connection, crm)
    assert len([w for w in crm.writes if w[0] == ObjectType.INTERACTIONS]) == 1


def test_pulled_interactions_are_upserted_once(connection, crm, workspace):
    crm.put("customers", "c1", name="Acme")
    block(connection, ObjectType.INTERACTIONS, options={"kinds": ["email"]})
    crm.put(
        "interactions",
        "e1",
        kind="email",
        subject="Hi",
        occurred_at="2026-01-05T10:00:00Z",
        direction="incoming",
        links={"customers": ["c1"]},
    )
    run(connection, crm)
    run(connection, crm)
    assert Interaction.objects.filter(source="hubspot", external_id="e1").count() == 1
    assert Customer.objects.get(name="Acme").last_contact_at is not None


def test_an_unknown_owner_keeps_the_current_one_and_is_reported(connection, crm, workspace, csm_membership):
    block(connection, ObjectType.CUSTOMERS, mappings=[("owner", "csm_email")])
    crm.put("customers", "c1", name="Acme", csm_email=csm_membership.user.email.upper())
    run(connection, crm)
    assert Customer.objects.get(name="Acme").owner == csm_membership.user

    UserFactory(email="stranger@else.test")
    crm.change("customers", "c1", csm_email="stranger@else.test")
    result = run(connection, crm)
    assert Customer.objects.get(name="Acme").owner == csm_membership.user
    assert any("not a member" in warning for warning in result.warnings)


def test_a_pulse_change_pushes_that_customer_only_without_reading_the_crm(connection, crm, workspace):
    block(connection, ObjectType.CUSTOMERS, options={"data_back": {"enabled": True}})
    crm.put("customers", "c1", name="Acme")
    crm.put("customers", "c2", name="Globex")
    run(connection, crm)
    Customer.objects.filter(workspace=workspace).update(csm_pulse=3)
    acme = Customer.objects.get(name="Acme")
    crm.reads.clear()

    result = run(connection, crm, scores_only_for=[acme.pk])

    assert crm.reads == []
    assert result.pushed == 1
    assert crm.data["customers"]["c1"].fields["skalin_csm_pulse"] == 3
    assert "skalin_csm_pulse" not in crm.data["customers"]["c2"].fields


def two_way_customers(connection):
    return block(
        connection,
        ObjectType.CUSTOMERS,
        mode=SyncMode.TWO_WAYS,
        mappings=[("domain", "domain", {"direction": "two_ways"})],
    )


def test_a_two_way_field_changed_in_skalin_is_pushed_and_not_overwritten_by_the_older_crm_value(
    connection, crm, workspace
):
    two_way_customers(connection)
    crm.put("customers", "c1", name="Acme", domain="acme.com")
    run(connection, crm)
    Customer.objects.filter(name="Acme").update(domain="acme.io")
    crm.change("customers", "c1", name="Acme Inc")  # touched in the CRM, domain untouched there

    result = run(connection, crm)
    assert Customer.objects.get(name="Acme Inc").domain == "acme.io"
    assert crm.data["customers"]["c1"].fields["domain"] == "acme.io"
    assert result.pushed == 1

    # Our own push comes back as a modification: an echo, not a change, and nothing is pushed again.
    again = run(connection, crm)
    assert again.pushed == 0
    assert not again.warnings


def test_a_two_way_field_changed_on_both_sides_keeps_the_crm_value_and_says_so(connection, crm, workspace):
    two_way_customers(connection)
    crm.put("customers", "c1", name="Acme", domain="acme.com")
    run(connection, crm)
    Customer.objects.filter(name="Acme").update(domain="acme.io")
    crm.change("customers", "c1", domain="acme.fr")

    result = run(connection, crm)
    assert Customer.objects.get(name="Acme").domain == "acme.fr"
    assert any("changed in Skalin and in" in warning for warning in result.warnings)
    assert result.pushed == 0
    conflict = ChangeLog.objects.get(field="domain (conflict)")
    assert (conflict.old_value, conflict.new_value) == ("acme.io", "acme.fr")


def test_an_input_only_field_always_follows_the_crm(connection, crm, workspace):
    crm.put("customers", "c1", name="Acme", domain="acme.com")
    run(connection, crm)
    Customer.objects.filter(name="Acme").update(domain="acme.io")
    crm.change("customers", "c1", name="Acme")

    run(connection, crm)
    assert Customer.objects.get(name="Acme").domain == "acme.com"
    assert crm.writes == []


def test_a_crm_user_field_is_matched_to_a_member_by_the_users_email(
    connection, crm, workspace, csm_membership
):
    block(connection, ObjectType.CUSTOMERS, mappings=[("owner", "owner_id")])
    crm.users = {"005A": csm_membership.user.email, "005B": "nobody@else.test"}
    crm.put("customers", "c1", name="Acme", owner_id="005A")
    crm.put("customers", "c2", name="Globex", owner_id="005A")
    crm.put("customers", "c3", name="Initech", owner_id="005Z")

    result = run(connection, crm)
    assert Customer.objects.get(name="Acme").owner == csm_membership.user
    assert Customer.objects.get(name="Globex").owner == csm_membership.user
    assert Customer.objects.get(name="Initech").owner is None
    assert crm.user_lookups == 2  # one per distinct user, not per record
    assert any("CRM user 005Z" in warning for warning in result.warnings)


def test_the_run_report_gives_the_fill_rate_of_each_mapped_field(connection, crm, workspace):
    crm.put("customers", "c1", name="Acme", domain="acme.com")
    crm.put("customers", "c2", name="Globex", domain="")
    crm.put("customers", "c3", name="Initech", domain="initech.com")
    run(connection, crm)
    crm.change("customers", "c1", domain="")

    result = run(connection, crm)
    # The look-back window re-reads Initech (filled); Acme came blank and kept its domain.
    assert result.fill_rates["customers"]["domain"] == {"filled": 1, "empty": 0, "kept": 1}
    first = SyncRun.objects.order_by("pk").first()
    assert first.fill_rates["customers"]["domain"] == {"filled": 2, "empty": 1, "kept": 0}
    assert first.fill_rates["customers"]["name"]["filled"] == 3


def test_each_score_has_its_own_toggle(connection, crm, workspace):
    block(
        connection, ObjectType.CUSTOMERS, options={"data_back": {"enabled": True, "health_score_on": False}}
    )
    crm.put("customers", "c1", name="Acme")
    run(connection, crm)
    Customer.objects.filter(name="Acme").update(health_score=8, csm_pulse=2)

    run(connection, crm)
    fields = crm.data["customers"]["c1"].fields
    assert fields["skalin_csm_pulse"] == 2
    assert "skalin_healthscore" not in fields


def test_a_company_deleted_in_the_crm_becomes_a_tombstone_and_its_children_are_unlinked(
    connection, crm, workspace
):
    block(connection, ObjectType.CUSTOMERS, options={"parent_child": True})
    crm.put("customers", "p", name="Group")
    crm.put("customers", "c", name="Subsidiary", links={"parent": ["p"]})
    run(connection, crm)
    assert Customer.objects.get(name="Subsidiary").parent == Customer.objects.get(name="Group")

    crm.delete("customers", "p")
    result = run(connection, crm)

    group = Customer.objects.get(name="Group")  # never deleted in Skalin
    assert not group.is_churned  # the connection does not churn customers no longer found
    assert Customer.objects.get(name="Subsidiary").parent is None
    ref = ExternalRef.objects.get(connection=connection, external_id="p")
    assert ref.deleted_in_crm_at is not None and not ref.in_selection
    assert any("was deleted in" in warning for warning in result.warnings)
    assert ChangeLog.objects.filter(
        customer__name="Subsidiary", field="parent", actor_kind="sync_run"
    ).exists()


def test_a_deleted_company_churns_when_the_connection_churns_customers_no_longer_found(
    connection, crm, workspace
):
    block(connection, ObjectType.CUSTOMERS, options={"churn_on_absence": True})
    for n in range(30):
        crm.put("customers", f"c{n}", name=f"Company {n}")
    run(connection, crm)
    crm.delete("customers", "c1")
    result = run(connection, crm)
    assert result.churned == 1
    assert Customer.objects.get(name="Company 1").is_churned


def test_a_first_sync_reads_the_contacts_once(connection, crm):
    crm.put("customers", "c1", name="Acme")
    block(connection, ObjectType.CONTACTS, mappings=[("email", "email")])
    crm.put("contacts", "p1", email="ann@acme.com", links={"customers": ["c1"]})
    run(connection, crm)
    assert len([r for r in crm.reads if r.object_type == ObjectType.CONTACTS]) == 1


def test_a_customer_joining_later_brings_its_older_contracts_and_interactions(connection, crm, workspace):
    block(connection, ObjectType.AGREEMENTS, options={"end": {"mode": "duration", "field": "months", "unit": "month"}},
          mappings=[("amount", "amount"), ("start_date", "start")])  # fmt: skip
    block(connection, ObjectType.INTERACTIONS, options={"kinds": ["note"]})
    crm.put("customers", "c1", name="Early")
    crm.put("customers", "c2", name="Late", selected=False)
    crm.put("agreements", "d2", amount="100", start="2026-01-01", months="12", links={"customers": ["c2"]})
    crm.put("interactions", "n2", kind="note", subject="Old note", occurred_at="2026-01-05T10:00:00Z",
            links={"customers": ["c2"]})  # fmt: skip
    # Newer records of the early customer move both cursors past the late customer's.
    crm.put("agreements", "d1", amount="50", start="2026-01-01", months="12", links={"customers": ["c1"]})
    crm.put("interactions", "n1", kind="note", subject="New note", occurred_at="2026-02-05T10:00:00Z",
            links={"customers": ["c1"]})  # fmt: skip
    run(connection, crm)
    assert not Agreement.objects.filter(external_id="d2").exists()

    crm.change("customers", "c2", selected=True)  # its deal and note are older than the cursors
    run(connection, crm)
    assert Agreement.objects.get(external_id="d2").customer.name == "Late"
    assert Interaction.objects.filter(external_id="n2", customer__name="Late").exists()


def test_a_crm_contact_matches_a_contact_by_one_of_its_secondary_emails(connection, crm, workspace):
    from tests.factories import ContactFactory

    crm.put("customers", "c1", name="Acme")
    run(connection, crm)
    known = ContactFactory(customer=Customer.objects.get(name="Acme"), email="ann@acme.com",
                           secondary_emails=["ann.b@acme.com"])  # fmt: skip
    block(connection, ObjectType.CONTACTS, mappings=[("email", "email"), ("title", "jobtitle")])
    crm.put("contacts", "p1", email="ANN.B@acme.com", jobtitle="CFO", links={"customers": ["c1"]})
    run(connection, crm)
    known.refresh_from_db()
    assert known.title == "CFO"
    assert Contact.objects.filter(workspace=workspace).count() == 1


def test_an_engagement_seen_again_unchanged_is_counted_unchanged_and_not_rewritten(
    connection, crm, workspace
):
    crm.put("customers", "c1", name="Acme")
    block(connection, ObjectType.INTERACTIONS, options={"kinds": ["email"]})
    crm.put("interactions", "e1", kind="email", subject="Hi", occurred_at="2026-01-05T10:00:00Z",
            direction="incoming", links={"customers": ["c1"]})  # fmt: skip
    run(connection, crm)
    stamp = Interaction.objects.get(external_id="e1").updated_at
    crm.change("customers", "c1", name="Acme")  # the engagement is re-read inside the look-back window

    again = run(connection, crm)
    assert again.by_object["interactions"].get("updated", 0) == 0
    assert again.by_object["interactions"]["unchanged"] == 1
    assert Interaction.objects.get(external_id="e1").updated_at == stamp


def test_a_quarantined_record_leaves_the_quarantine_once_it_goes_through(connection, crm, workspace):
    CustomerFactory(workspace=workspace, name="Twin A", domain="twins.com")
    CustomerFactory(workspace=workspace, name="Twin B", domain="twins.com")
    crm.put("customers", "c1", name="Twins Inc", domain="twins.com")
    crm.put("customers", "c2", name="Other")
    run(connection, crm)
    assert QuarantinedRecord.objects.get(external_id="c1").resolved_at is None

    crm.change("customers", "c1", domain="twins-inc.com")  # fixed in the CRM
    run(connection, crm)
    assert QuarantinedRecord.objects.get(external_id="c1").resolved_at is not None
    assert Customer.objects.filter(name="Twins Inc").exists()


# ---- pages: what is loaded per page and recomputed once per page ---------------------------------------


def _contracts_block(connection):
    block(connection, ObjectType.AGREEMENTS, options={"end": {"mode": "duration", "field": "months", "unit": "month"}},
          mappings=[("amount", "amount"), ("start_date", "start")])  # fmt: skip


def test_last_contact_after_a_page_of_interactions_for_several_customers(connection, crm, workspace):
    from interactions.services import customer_last_contact

    crm.page_size = 10
    crm.put("customers", "c1", name="Acme")
    crm.put("customers", "c2", name="Beta")
    crm.put("customers", "c3", name="Quiet")
    block(connection, ObjectType.INTERACTIONS, options={"kinds": ["email", "note"]})
    for n, (customer, day, direction) in enumerate(
        [("c1", 5, "incoming"), ("c1", 9, "incoming"), ("c1", 12, "outgoing"), ("c2", 7, "incoming"),
         ("c2", 3, "incoming")]
    ):  # fmt: skip
        crm.put("interactions", f"e{n}", kind="email", subject=f"Mail {n}", direction=direction,
                occurred_at=f"2026-01-{day:02d}T10:00:00Z", links={"customers": [customer]})  # fmt: skip
    crm.put("interactions", "n1", kind="note", subject="Internal", occurred_at="2026-01-20T10:00:00Z",
            links={"customers": ["c3"]})  # fmt: skip

    run(connection, crm)
    acme, beta, quiet = (Customer.objects.get(name=name) for name in ("Acme", "Beta", "Quiet"))
    assert acme.last_contact_at.day == 9  # the outgoing email of the 12th does not count
    assert beta.last_contact_at.day == 7
    assert quiet.last_contact_at is None
    for customer in (acme, beta, quiet):
        assert customer.last_contact_at == customer_last_contact(customer=customer)

    # An engagement moved to another company in the CRM: both customers' Last contact follow.
    crm.change("interactions", "e1", links={"customers": ["c2"]})
    run(connection, crm)
    acme.refresh_from_db()
    beta.refresh_from_db()
    assert acme.last_contact_at.day == 5
    assert beta.last_contact_at.day == 9


def test_mrr_and_renewal_after_several_contracts_of_one_customer_in_a_page(connection, crm, workspace):
    from agreements.services import customer_active_mrr, customer_next_renewal

    crm.page_size = 10
    crm.put("customers", "c1", name="Acme")
    crm.put("customers", "c2", name="Beta")
    _contracts_block(connection)
    today = timezone.localdate()
    running = (today - dt.timedelta(days=40)).isoformat()
    later = (today + dt.timedelta(days=20)).isoformat()
    crm.put("agreements", "d1", amount="100", start=running, months="12", links={"customers": ["c1"]})
    crm.put("agreements", "d2", amount="250", start=running, months="24", links={"customers": ["c1"]})
    crm.put("agreements", "d3", amount="999", start=later, months="12", links={"customers": ["c1"]})
    crm.put("agreements", "d4", amount="40", start=running, months="6", links={"customers": ["c2"]})

    run(connection, crm)
    acme, beta = Customer.objects.get(name="Acme"), Customer.objects.get(name="Beta")
    assert acme.active_mrr == Decimal("350.00")  # the contract starting later is not running yet
    assert beta.active_mrr == Decimal("40.00")
    for customer in (acme, beta):
        assert customer.active_mrr == customer_active_mrr(customer=customer)
        assert customer.next_renewal_on == customer_next_renewal(customer=customer)
    assert acme.next_renewal_on == Agreement.objects.get(external_id="d1").renews_on

    crm.change("agreements", "d2", amount="300")
    crm.change("agreements", "d4", links={"customers": ["c1"]})
    run(connection, crm)
    acme.refresh_from_db()
    beta.refresh_from_db()
    assert acme.active_mrr == Decimal("440.00")
    assert beta.active_mrr == Decimal("0")
    assert beta.next_renewal_on is None


def test_one_bad_record_of_a_page_is_quarantined_and_the_others_land(connection, crm, workspace):
    crm.page_size = 10
    crm.put("customers", "c1", name="Acme")
    block(connection, ObjectType.INTERACTIONS, options={"kinds": ["call"]})
    for n in range(4):
        crm.put("interactions", f"k{n}", kind="call", subject=f"Call {n}", occurred_at=f"2026-01-0{n + 1}T10:00:00Z",
                links={"customers": ["c1"]})  # fmt: skip
    crm.put(
        "interactions", "bad", kind="call", subject="No date", occurred_at="", links={"customers": ["c1"]}
    )

    result = run(connection, crm)
    assert result.status == SyncRun.Status.SUCCEEDED
    assert sorted(Interaction.objects.values_list("external_id", flat=True)) == ["k0", "k1", "k2", "k3"]
    assert QuarantinedRecord.objects.get(external_id="bad").reason == "The interaction has no date."
    assert Customer.objects.get(name="Acme").last_contact_at.day == 4


def test_a_record_failing_inside_a_domain_service_rolls_back_alone(connection, crm, workspace):
    """The services skip their own savepoint under the engine's: a write they made before failing must
    still vanish with the record, and the page's other records stay."""
    crm.page_size = 10
    crm.put("customers", "c1", name="Acme")
    _contracts_block(connection)
    crm.put("agreements", "d1", amount="100", start="2026-01-01", months="12", links={"customers": ["c1"]})
    crm.put("agreements", "d2", amount="-5", start="2026-01-01", months="12", links={"customers": ["c1"]})
    crm.put("agreements", "d3", amount="70", start="2026-01-01", months="12", links={"customers": ["c1"]})
    SkippedAgreement.objects.create(workspace=workspace, customer=CustomerFactory(workspace=workspace),
                                    source="hubspot", external_id="d2", label="d2", missing_fields=["amount"])  # fmt: skip

    run(connection, crm)
    assert sorted(Agreement.objects.values_list("external_id", flat=True)) == ["d1", "d3"]
    assert "negative" in QuarantinedRecord.objects.get(external_id="d2").reason
    # The service deleted the skipped-contract note before failing: rolled back with the record.
    assert SkippedAgreement.objects.filter(external_id="d2").exists()
    assert not ExternalRef.objects.filter(object_type="agreements", external_id="d2").exists()


def test_links_are_found_whatever_page_they_were_made_on(connection, crm, workspace):
    for n in range(7):
        crm.put("customers", f"c{n}", name=f"Company {n}")
    block(connection, ObjectType.CONTACTS, mappings=[("email", "email"), ("title", "jobtitle")])
    for n in range(7):
        crm.put("contacts", f"p{n}", email=f"p{n}@c{n}.com", jobtitle="CEO", links={"customers": [f"c{n}"]})
    run(connection, crm)

    # Changed in an order that puts each on another page than the one that linked it.
    for n in (6, 0, 3):
        crm.change("customers", f"c{n}", domain=f"c{n}.com")  # filling a blank: no overwrite
        crm.change("contacts", f"p{n}", jobtitle="CFO")
    second = run(connection, crm)
    assert second.by_object["customers"].get("created", 0) == 0
    assert second.by_object["customers"]["updated"] == 3
    assert second.by_object["contacts"].get("created", 0) == 0
    assert second.by_object["contacts"]["updated"] == 3
    assert Customer.objects.filter(workspace=workspace).count() == 7
    assert Customer.objects.get(name="Company 6").domain == "c6.com"
    assert sorted(Contact.objects.filter(title="CFO").values_list("email", flat=True)) == [
        "p0@c0.com", "p3@c3.com", "p6@c6.com"
    ]  # fmt: skip


def test_two_crm_contacts_with_one_email_in_a_page_link_the_first_and_quarantine_the_second(
    connection, crm, workspace
):
    crm.page_size = 10
    crm.put("customers", "c1", name="Acme")
    block(connection, ObjectType.CONTACTS, mappings=[("email", "email")])
    crm.put("contacts", "p1", email="ann@acme.com", links={"customers": ["c1"]})
    crm.put("contacts", "p2", email="ANN@acme.com", links={"customers": ["c1"]})

    run(connection, crm)
    assert Contact.objects.filter(workspace=workspace).count() == 1
    assert (
        "ann@acme.com is already the contact of HubSpot record p1"
        in QuarantinedRecord.objects.get(external_id="p2").reason
    )


def test_the_links_held_are_those_of_the_page_not_the_whole_connection(connection, crm, workspace):
    from integrations.pull.common import Refs
    from integrations.sync import RunContext

    for n in range(30):
        crm.put("customers", f"c{n}", name=f"Company {n}")
    first = run(connection, crm)
    ctx = RunContext(connection=connection, run=first, connector=crm, settings={})
    refs = Refs(ctx, ObjectType.CUSTOMERS)

    refs.load(["c3", "c4", "unknown"])
    assert set(refs.loaded) == {"c3", "c4", "unknown"}
    assert refs.loaded["unknown"] is None
    assert refs.get("c4").local_id == Customer.objects.get(name="Company 4").pk
    assert refs.get("c20").local_id == Customer.objects.get(name="Company 20").pk  # not loaded: one query
    refs.load(["c5"])
    assert set(refs.loaded) == {"c5"}
    assert refs.linked_to(Customer.objects.get(name="Company 5").pk, other_than="c9") == "c5"
    assert refs.linked_to(Customer.objects.get(name="Company 5").pk, other_than="c5") is None


def _interactions_for(crm, customers, count, start):
    for n in range(count):
        crm.put("interactions", f"e{start + n}", kind="email", subject=f"Mail {start + n}", direction="incoming",
                occurred_at="2026-01-05T10:00:00Z", links={"customers": [customers[n % len(customers)]]})  # fmt: skip


def test_the_sql_statements_of_a_page_do_not_grow_with_the_links_held_nor_per_record_beyond_a_few(
    connection, crm, workspace, django_assert_max_num_queries
):
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    crm.page_size = 50
    for n in range(5):
        crm.put("customers", f"c{n}", name=f"Company {n}")
    block(connection, ObjectType.INTERACTIONS, options={"kinds": ["email"]})
    run(connection, crm)

    _interactions_for(crm, ["c0", "c1", "c2", "c3", "c4"], 10, 0)
    with CaptureQueriesContext(db) as ten:
        run(connection, crm)
    _interactions_for(crm, ["c0", "c1", "c2", "c3", "c4"], 40, 100)
    with CaptureQueriesContext(db) as forty:
        run(connection, crm)
    assert Interaction.objects.count() == 50
    # A new interaction: its savepoint (2) and its INSERT; links, contacts and earlier interactions are
    # loaded, and Last contact recomputed, per page. (A few more: engagements re-read in the look-back.)
    assert len(forty) - len(ten) <= 30 * 3 + 4

    # A run that reads nothing new costs the same whatever number of records was synced before.
    with django_assert_max_num_queries(len(ten)):
        run(connection, crm)


def test_a_contact_moved_and_refused_in_the_same_record_stays_where_it_was(connection, crm, workspace):
    """The contact service writes the move (and its history) before its email check refuses the update:
    both vanish with the record, since the record's savepoint is the one that isolates it."""
    crm.put("customers", "c1", name="Acme")
    crm.put("customers", "c2", name="Beta")
    block(connection, ObjectType.CONTACTS, mappings=[("email", "email")])
    crm.put("contacts", "p1", email="ann@acme.com", links={"customers": ["c1"]})
    crm.put("contacts", "p2", email="bob@beta.com", links={"customers": ["c2"]})
    run(connection, crm)

    crm.change("contacts", "p1", email="bob@beta.com", links={"customers": ["c2"]})
    run(connection, crm)
    ann = Contact.objects.get(email="ann@acme.com")
    assert ann.customer.name == "Acme"
    assert "already the email of" in QuarantinedRecord.objects.get(external_id="p1").reason
    assert not ChangeLog.objects.filter(field="contact moved to").exists()


def test_the_merge_key_index_is_built_only_when_a_record_without_a_link_needs_it(
    connection, crm, workspace, monkeypatch
):
    from integrations.pull.customers import CustomerIndex

    builds = []
    build = CustomerIndex.build
    monkeypatch.setattr(CustomerIndex, "build", lambda *args: builds.append(1) or build(*args))
    crm.put("customers", "c1", name="Acme")
    run(connection, crm)
    assert len(builds) == 1

    crm.change("customers", "c1", domain="acme.com")
    run(connection, crm)
    assert len(builds) == 1  # an update of a linked customer reads no other customer

    CustomerFactory(workspace=workspace, name="Beta Corp")
    crm.put("customers", "c2", name="beta corp")
    run(connection, crm)
    assert len(builds) == 2
    assert Customer.objects.filter(workspace=workspace).count() == 2


def test_scores_of_customers_over_several_chunks_are_all_pushed_and_unscored_ones_skipped(
    connection, crm, workspace, monkeypatch
):
    from integrations import push

    monkeypatch.setattr(push, "LINK_CHUNK", 2)
    block(connection, ObjectType.CUSTOMERS, options={"data_back": {"enabled": True}})
    for n in range(6):
        crm.put("customers", f"c{n}", name=f"Company {n}")
    run(connection, crm)
    Customer.objects.filter(workspace=workspace).exclude(name="Company 2").update(health_score=6)
    CustomerFactory(workspace=workspace, name="Not linked", health_score=9)

    pushed = run(connection, crm)
    assert pushed.pushed == 5
    scored = {ext for _, ext, fields in crm.writes if fields.get("skalin_healthscore") == 6}
    assert scored == {"c0", "c1", "c3", "c4", "c5"}


def test_a_skipped_contract_completed_in_the_crm_is_imported_and_its_note_cleared(connection, crm, workspace):
    crm.page_size = 10
    crm.put("customers", "c1", name="Acme")
    _contracts_block(connection)
    crm.put("agreements", "d1", amount="", start="2026-01-01", months="12", links={"customers": ["c1"]})
    crm.put("agreements", "d2", amount="80", start="2026-01-01", months="12", links={"customers": ["c1"]})
    run(connection, crm)
    assert SkippedAgreement.objects.filter(external_id="d1").exists()

    crm.change("agreements", "d1", amount="120")
    crm.change("agreements", "d2", amount="90")
    run(connection, crm)
    assert not SkippedAgreement.objects.filter(external_id="d1").exists()
    assert sorted(Agreement.objects.values_list("external_id", "amount")) == [
        ("d1", Decimal("120.00")), ("d2", Decimal("90.00"))
    ]  # fmt: skip
    assert Agreement.objects.count() == 2
