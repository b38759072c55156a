"""An Admin connects a sandbox CRM through its Allow page, sets up the blocks in the wizard, previews the
sync, applies it, follows it to the end and finds the customers; a CSM cannot reach any of it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from customers.models import Customer, CustomField
from integrations.models import Connection, ExternalRef, SyncRun
from sandbox.models import SandboxProperty, SandboxRecord
from skalin.celery import app as celery_app
from tests.e2e.people import log_in, member
from tests.factories import CustomerFactory, WorkspaceFactory
from tests.sandbox_settings import point_crms_at_sandbox
from workspaces.models import Role

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sandbox(settings, live_server):
    point_crms_at_sandbox(settings, live_server.url)
    # No worker in a test run: queued runs execute when their transaction commits.
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield live_server
    celery_app.conf.task_always_eager = eager


@pytest.fixture
def workspace(transactional_db):
    return WorkspaceFactory(name="Browser SaaS")


def connect(page, crm_label, screenshot, prefix):
    page.goto("/settings/integrations/")
    expect(page.get_by_role("heading", name="Integrations", exact=True)).to_be_visible()
    screenshot(f"{prefix}-01-integrations", full_page=True)
    card = page.locator("section.crm-card", has=page.get_by_role("heading", name=crm_label))
    card.get_by_role("button", name="Connect me").click()
    expect(page.get_by_role("button", name="Allow")).to_be_visible()
    screenshot(f"{prefix}-02-allow-page")
    page.get_by_role("button", name="Allow").click()
    expect(page.get_by_role("heading", name=f"Set up {crm_label}")).to_be_visible()
    for block in ("customers", "contacts", "agreements", "interactions", "data"):
        expect(page.locator(f"#block-{block} input[name={block}-present]")).to_be_attached()


def htmx_settled(page):
    """Wait until htmx has swapped and initialised the redrawn block (its buttons answer only then)."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )


def save_apply_and_follow(page, screenshot, prefix):
    page.get_by_role("button", name="Save and preview the sync").click()
    expect(page.get_by_role("heading", name="What the sync would do")).to_be_visible()
    expect(page.get_by_text("Preview finished")).to_be_visible(timeout=60_000)
    expect(page.locator("#run-live table").first).to_contain_text("Customers")
    screenshot(f"{prefix}-05-plan", full_page=True)
    page.get_by_role("button", name="Apply: start the sync").click()
    expect(page.get_by_text("Run finished")).to_be_visible(timeout=60_000)
    bar = page.locator("#run-bar")
    assert bar.get_attribute("value") == bar.get_attribute("max")
    screenshot(f"{prefix}-06-run-report", full_page=True)
    page.get_by_role("link", name="See the customers").click()
    expect(page.get_by_role("heading", name="Customers")).to_be_visible()
    screenshot(f"{prefix}-07-customers", full_page=True)


def test_an_admin_connects_hubspot_sets_it_up_and_sees_the_synced_customers(
    page, sandbox, workspace, screenshot, console
):
    from sandbox.hubspot.seed import seed

    seed(companies=12, random_seed=4)
    # A customer already in Skalin under another name, whose old CRM id a HubSpot company keeps.
    SandboxProperty.objects.create(
        crm="hubspot", object_type="companies", name="salesforce_id", label="Salesforce ID", field_type="text"
    )
    company = SandboxRecord.objects.filter(crm="hubspot", object_type="companies").order_by("id").first()
    company.properties["salesforce_id"] = "001B000000LEGACY"
    company.save()
    CustomField.objects.create(workspace=workspace, target="customer", key="old_crm_id", label="Old CRM ID")
    legacy = CustomerFactory(
        workspace=workspace,
        name="Legacy name from the old CRM",
        domain="",
        custom_values={"old_crm_id": "001B000000LEGACY"},
    )
    member(workspace, "admin@browser.test", Role.ADMIN)
    log_in(page, "admin@browser.test")
    connect(page, "HubSpot", screenshot, "hubspot")
    customers = page.locator("#block-customers")
    expect(customers.get_by_label("Sync mode")).to_have_value("input")
    customers.get_by_label("Customer")  # the lifecycle stages come from HubSpot
    expect(customers.get_by_role("checkbox", name="Customer", exact=True)).to_be_checked()
    customers.get_by_text("See more parameters").click()
    customers.get_by_label("Make customers churn when they are no longer found").check()

    # Merge fields: the Old CRM ID, read from HubSpot's Salesforce ID, ticked then moved first by keyboard.
    customers.locator("select[name='customers-map-custom__old_crm_id-remote']").select_option("salesforce_id")
    merge_fields = customers.locator("#customers-opt-merge_keys-choices ol > li")
    expect(merge_fields).to_have_count(3)
    customers.get_by_role("checkbox", name="Old CRM ID (custom field)").check()
    expect(merge_fields).to_have_count(4)  # the block redrew: it joined the numbered list, last
    htmx_settled(page)
    expect(merge_fields.nth(3)).to_contain_text("Old CRM ID")
    move_up = customers.get_by_role("button", name="Move Old CRM ID (custom field) up")
    move_up.focus()
    for place in (2, 1, 0):
        page.keyboard.press("Enter")
        expect(merge_fields.nth(place)).to_contain_text("Old CRM ID")
        expect(move_up).to_be_focused()  # the redraw keeps the focus on the moved item's button
        htmx_settled(page)
    expect(merge_fields).to_have_text(
        [re.compile(label) for label in ("Old CRM ID", "Customer ID", "Name", "Domain")]
    )
    expect(customers.get_by_label("Make customers churn when they are no longer found")).to_be_checked()
    merge_fields.first.scroll_into_view_if_needed()
    screenshot("hubspot-03a-merge-fields")
    page.locator("#block-contacts select[name='contacts-map-role__champion-remote']").select_option(
        "hs_buying_role"
    )
    page.locator("#block-contacts input[name='contacts-map-role__champion-values']").fill("CHAMPION")
    page.locator("#block-interactions").get_by_label("Sync mode").select_option("input")
    expect(page.locator("#block-interactions").get_by_role("checkbox", name="Calls")).to_be_visible()
    page.locator("#block-data").get_by_label("Send the Healthscore to HubSpot").check()
    screenshot("hubspot-03-wizard", full_page=True)

    # A required field left empty: its error, and nothing typed is lost.
    page.locator("#block-agreements").get_by_label("Sync mode").select_option("input")
    expect(page.locator("#block-agreements").get_by_text("Recurring revenue format")).to_be_visible()
    page.get_by_role("button", name="Save and preview the sync").click()
    expect(page.get_by_text("Nothing was saved")).to_be_visible()
    agreements = page.locator("#block-agreements")
    expect(agreements.get_by_text("Say whether the CRM's amounts are MRR or ARR.")).to_be_visible()
    expect(page.locator("#block-contacts input[name='contacts-map-role__champion-values']")).to_have_value(
        "CHAMPION"
    )
    screenshot("hubspot-04-required-field-error", full_page=True)
    agreements.get_by_label("Sync mode").select_option("disabled")

    save_apply_and_follow(page, screenshot, "hubspot")
    hub = Connection.objects.get(crm="hubspot")
    run = hub.runs.filter(dry_run=False).first()
    assert run.status == SyncRun.Status.SUCCEEDED, run.errors
    names = list(Customer.objects.filter(workspace=workspace).values_list("name", flat=True))
    assert names and run.by_object["customers"]["created"] == len(names) - 1  # one merged, not created
    customers_setting = hub.object_settings.get(object_type="customers")
    assert customers_setting.options["merge_keys"] == ["custom:old_crm_id", "ref_id", "name", "domain"]
    merged = ExternalRef.objects.get(connection=hub, object_type="customers", external_id=company.external_id)
    assert merged.local_id == legacy.pk
    expect(page.locator("body")).to_contain_text(names[0])
    assert not console.csp_violations(), console.csp_violations()[:1] + [page.url]

    page.goto(f"/settings/integrations/connections/{hub.pk}/")
    expect(page.get_by_role("button", name="Push Skalin values to the CRM now")).to_be_visible()
    expect(page.get_by_text("Connected CRM user")).to_be_visible()
    screenshot("hubspot-08-connection-page", full_page=True)


def test_an_admin_connects_salesforce_with_a_list_view(page, sandbox, workspace, screenshot, console):
    from sandbox.salesforce.seed import seed

    seed(companies=15, random_seed=3)
    member(workspace, "admin@browser.test", Role.ADMIN)
    log_in(page, "admin@browser.test")
    connect(page, "Salesforce", screenshot, "salesforce")
    customers = page.locator("#block-customers")
    customers.get_by_label("Account view").select_option(label="Customers")
    expect(customers.locator("select[name='customers-map-name-remote']")).to_have_value("Name")
    screenshot("salesforce-03-wizard", full_page=True)
    save_apply_and_follow(page, screenshot, "salesforce")
    sf = Connection.objects.get(crm="salesforce")
    run = sf.runs.filter(dry_run=False).first()
    assert run.status == SyncRun.Status.SUCCEEDED, run.errors
    assert Customer.objects.filter(workspace=workspace).count() == run.by_object["customers"]["created"] > 0
    assert not console.csp_violations(), console.csp_violations()[:1] + [page.url]


def test_a_csm_cannot_reach_the_integrations_pages(page, sandbox, workspace, screenshot):
    member(workspace, "csm@browser.test", Role.CSM)
    hub = Connection.objects.create(
        workspace=workspace, crm="hubspot", status="active", remote_account_id="1"
    )
    log_in(page, "csm@browser.test")
    expect(page.get_by_role("link", name="Settings")).to_have_count(0)
    for path in ("/settings/integrations/", f"/settings/integrations/connections/{hub.pk}/setup/"):
        response = page.goto(path)
        assert response.status == 404
    screenshot("csm-01-integrations-not-found")


def test_an_admin_connects_pipedrive_with_the_same_wizard(page, sandbox, workspace, screenshot, console):
    from sandbox.pipedrive.seed import seed

    seed(companies=12, random_seed=6)
    member(workspace, "admin@browser.test", Role.ADMIN)
    log_in(page, "admin@browser.test")
    connect(page, "Pipedrive", screenshot, "pipedrive")
    # Pipedrive's own warning: its activities drop the mailbox and calendar ids.
    expect(page.locator("#block-interactions")).to_contain_text("duplicate")
    screenshot("pipedrive-03-wizard", full_page=True)

    save_apply_and_follow(page, screenshot, "pipedrive")
    run = Connection.objects.get(crm="pipedrive").runs.filter(dry_run=False).first()
    assert run.status == SyncRun.Status.SUCCEEDED, run.errors
    assert Customer.objects.filter(workspace=workspace).count() == run.by_object["customers"]["created"] > 0
    assert not console.csp_violations(), console.csp_violations()[:1] + [page.url]
