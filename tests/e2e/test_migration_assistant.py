"""An Admin migrates a workspace synced from Salesforce to HubSpot with the assistant, in a real browser:
the HubSpot checklist, the Old CRM ID and its fill rate, the old connection disabled then deleted, the
HubSpot connection detected, step A applied and validated on the validation page. The CRMs are in-memory
(the sync runs are started by the test where a worker would run them); a Manager is refused."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from crm_migration.models import Migration
from customers.models import Customer
from integrations.models import Connection
from integrations.sync import sync_connection
from tests.crm_migration import scenario
from tests.e2e.people import log_in, member
from tests.factories import WorkspaceFactory
from workspaces.models import Role

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def workspace(transactional_db):
    return WorkspaceFactory(name="Migrating SaaS")


def step(page, key):
    return page.locator(f"#step-{key}")


def check(page, key):
    step(page, key).get_by_role("button", name="Check this step").click()
    expect(page.locator(".messages")).to_contain_text("passed its check")
    expect(step(page, key).locator(".badge-ok")).to_be_visible()


def test_an_admin_walks_the_migration_from_salesforce_to_hubspot(
    page, sandbox, workspace, screenshot, console
):
    member(workspace, "admin@migrating.test", Role.ADMIN)
    old = scenario.old_connection(workspace)
    old_crm = scenario.old_crm()
    scenario.synced(workspace, old, old_crm)
    log_in(page, "admin@migrating.test")

    page.goto("/settings/integrations/")
    page.get_by_role("link", name="Migrate to another CRM").click()
    expect(page.get_by_role("heading", name="Migrate to another CRM")).to_be_visible()
    screenshot("migration-01-start")
    page.get_by_role("button", name="Start the migration to HubSpot").click()
    expect(page.get_by_role("heading", name="Migrate from Salesforce to HubSpot")).to_be_visible()
    expect(page.locator("body")).to_contain_text("3 customers, MRR 600.00")
    migration = Migration.objects.get()

    # 1. HubSpot preparation: outside Skalin, ticked by the Admin; the check refuses a partial list.
    preparation = step(page, "preparation")
    preparation.get_by_label("The HubSpot Super Admin").check()
    preparation.get_by_role("button", name="Save the checklist").click()
    step(page, "preparation").get_by_role("button", name="Check this step").click()
    expect(step(page, "preparation").locator(".form-errors")).to_contain_text("Not ticked")
    for checkbox in step(page, "preparation").get_by_role("checkbox").all():
        checkbox.check()
    step(page, "preparation").get_by_role("button", name="Save the checklist").click()
    check(page, "preparation")
    screenshot("migration-02-preparation-passed")

    # 2. Old CRM ID: created and mapped; the fill rate rises once the old connection's sync ran.
    step(page, "old_id").get_by_role("button", name="Create or pick the field, and map it").click()
    expect(page.locator("#fill-rate")).to_contain_text("Fill rate: 0 %")
    expect(page.locator("#fill-rate")).to_contain_text("let a sync run")
    screenshot("migration-03-old-id-empty")
    sync_connection(connection_id=old.pk, connector=old_crm)  # what a worker does after "Let one sync run"
    expect(page.locator("#fill-rate")).to_contain_text("Fill rate: 100 %", timeout=15_000)  # HTMX refresh
    page.locator("#fill-rate summary").click()
    expect(page.locator("#fill-rate")).to_contain_text("001B")
    screenshot("migration-04-old-id-filled")
    check(page, "old_id")

    # 3. Disable, then delete (typed confirmation).
    step(page, "old_connection").get_by_role("button", name="Disable every block and the connection").click()
    expect(page.locator(".messages")).to_contain_text("Disabled")
    step(page, "old_connection").get_by_label("Type DELETE").fill("DELETE")
    step(page, "old_connection").get_by_role("button", name="Delete the old connection").click()
    expect(page.locator(".messages")).to_contain_text("deleted. Customers, their history and data are kept")
    assert not Connection.objects.filter(pk=old.pk).exists()
    check(page, "old_connection")

    # 4. Connect HubSpot through its Allow page (the sandbox's), come back, use the detected connection.
    step(page, "connect").get_by_role("button", name="Connect HubSpot").click()
    page.get_by_role("button", name="Allow").click()
    expect(page.get_by_role("heading", name="Set up HubSpot")).to_be_visible()
    hubspot = Connection.objects.get(workspace=workspace, crm="hubspot")
    page.goto(f"/settings/integrations/migrate/{migration.pk}/#step-connect")
    step(page, "connect").get_by_role("button", name="Use this HubSpot connection").click()
    expect(page.locator(".messages")).to_contain_text(f"HubSpot account {hubspot.remote_account_id}")
    check(page, "connect")

    # 5. Step A: applied from the page, synced, validated on the validation page.
    step_a = step(page, "step_a")
    # The property pickers list HubSpot's own company properties, read live.
    expect(page.locator("#hubspot-properties option[value='domain']")).to_be_attached()
    step_a.get_by_label("HubSpot company property holding the Salesforce id").fill("salesforce_id")
    step_a.get_by_role("button", name="Apply step A's configuration").click()
    expect(page.locator(".messages")).to_contain_text("Step A applied")
    screenshot("migration-05-step-a-applied")
    Connection.objects.filter(pk=hubspot.pk).update(status="active")
    run = sync_connection(connection_id=hubspot.pk, connector=scenario.hubspot_crm())
    assert run.status == "succeeded", run.errors
    step(page, "step_a").get_by_role("link", name="Validation of this step").click()
    expect(page.get_by_role("heading", name=re.compile("Validation"))).to_be_visible()
    expect(page.locator("#switched")).to_have_text("3")
    expect(page.locator("#without-id")).to_have_text("0")
    expect(page.locator("#no-duplicates")).to_be_visible()
    expect(page.locator("#nothing-lost")).to_be_visible()
    expect(page.get_by_role("link", name="Undo a bad first sync")).to_have_attribute(
        "href", f"/settings/integrations/connections/{hubspot.pk}/runs/{run.pk}/undo/"
    )
    screenshot("migration-06-validation")
    page.get_by_role("button", name="Validate this step").click()
    expect(page.locator(".badge-ok", has_text="Passed")).to_be_visible()
    assert sorted(Customer.objects.filter(workspace=workspace).values_list("ref_id", flat=True)) == [
        "9001",
        "9002",
        "9003",
    ]
    migration.refresh_from_db()
    assert migration.step == "step_b"

    # Step B opens, with the fields Skalin may push.
    page.goto(f"/settings/integrations/migrate/{migration.pk}/#step-step_b")
    expect(step(page, "step_b").get_by_label("Customer stage")).to_be_enabled()
    screenshot("migration-07-step-b-open")
    assert not console.csp_violations(), console.csp_violations()[:1]


def test_a_manager_is_refused_the_assistant(page, live_server, workspace):
    member(workspace, "manager@migrating.test", Role.MANAGER)
    log_in(page, "manager@migrating.test")
    page.goto("/settings/integrations/")
    expect(page.get_by_role("heading", name="Integrations", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Migrate to another CRM")).to_have_count(0)
    response = page.goto("/settings/integrations/migrate/")
    assert response.status == 403
