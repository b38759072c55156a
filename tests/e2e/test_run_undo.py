"""An Admin undoes a bad first sync in the browser: the run page offers it, the preview lists what goes and
what stays, a wrong confirmation deletes nothing, the right one deletes and the run page keeps the record."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from customers.changes import Actor
from customers.models import Customer
from customers.services import customer_update
from integrations.models import Connection, ObjectSetting, ObjectType, SyncMode, SyncRun
from integrations.services import object_setting_update
from integrations.sync import sync_connection
from tests.e2e.people import log_in, member
from tests.factories import CustomerFactory, WorkspaceFactory
from tests.integrations.fake_crm import FakeCrm
from workspaces.models import Role

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def bad_first_sync(transactional_db):
    """A first sync whose merge keys missed the existing customers: it created copies of them."""
    workspace = WorkspaceFactory(name="Browser SaaS")
    admin = member(workspace, "admin@browser.test", Role.ADMIN)
    CustomerFactory(workspace=workspace, name="Globex Corporation", domain="globex.com")
    connection = Connection.objects.create(
        workspace=workspace, crm="hubspot", status=Connection.Status.ACTIVE, remote_account_id="portal-1"
    )
    object_setting_update(
        connection=connection,
        object_type=ObjectType.CUSTOMERS,
        mode=SyncMode.INPUT,
        options={"merge_keys": ["ref_id"]},
        mappings=[
            {"local_field": "name", "remote_field": "name"},
            {"local_field": "ref_id", "remote_field": "@id"},
        ],
    )
    ObjectSetting.objects.filter(connection=connection).exclude(object_type=ObjectType.CUSTOMERS).delete()
    crm = FakeCrm()
    for n, name in enumerate(["Globex Corp", "Initech", "Hooli", "Umbrella"]):
        crm.put("customers", f"c{n}", name=name)
    run = sync_connection(connection_id=connection.pk, connector=crm)
    assert run.status == SyncRun.Status.SUCCEEDED and run.created == 4
    # A CSM already qualified one of them: it must stay.
    customer_update(
        customer=Customer.objects.get(workspace=workspace, name="Hooli"),
        actor=Actor.for_user(admin.user),
        domain="hooli.xyz",
    )
    return workspace, connection, run


def test_an_admin_undoes_a_bad_first_sync(page, console, screenshot, bad_first_sync):
    workspace, connection, run = bad_first_sync
    log_in(page, "admin@browser.test")

    page.goto(f"/settings/integrations/connections/{connection.pk}/runs/{run.pk}/")
    offer = page.locator("#run-undo-offer")
    expect(offer).to_contain_text("4 customers created by this run are still in Skalin")
    screenshot("undo-01-run-page")
    offer.get_by_role("link", name="Undo this run's customers…").click()

    expect(page.get_by_role("heading", name=f"Delete the customers run #{run.pk} created")).to_be_visible()
    expect(page.locator("#undo-customers")).to_have_text("3")
    expect(page.locator("#undo-deletable")).to_contain_text("Globex Corp")
    expect(page.locator("#undo-deletable")).not_to_contain_text("Globex Corporation")
    expect(page.locator("#undo-kept")).to_contain_text("Hooli")
    expect(page.locator("#undo-kept")).to_contain_text("Changed by")
    expect(page.locator("#undo-form")).to_contain_text("DELETE 3 CUSTOMERS")
    screenshot("undo-02-preview", full_page=True)

    page.fill("#undo-confirmation", "DELETE 4 CUSTOMERS")
    page.get_by_role("button", name="Delete 3 customers").click()
    expect(page.locator("#undo-error")).to_contain_text("Nothing was deleted")
    assert Customer.objects.filter(workspace=workspace).count() == 5
    screenshot("undo-03-wrong-confirmation")

    page.fill("#undo-confirmation", "DELETE 3 CUSTOMERS")
    page.get_by_role("button", name="Delete 3 customers").click()
    expect(page).to_have_url(re.compile(rf"/runs/{run.pk}/$"))
    expect(page.locator("#undo-history")).to_contain_text(
        "3 customers, 0 contacts, 0 agreements and 0 interactions"
    )
    expect(page.locator("#run-undo-offer")).to_contain_text(
        "1 customer created by this run is still in Skalin"
    )
    screenshot("undo-04-done", full_page=True)

    assert sorted(Customer.objects.filter(workspace=workspace).values_list("name", flat=True)) == [
        "Globex Corporation",
        "Hooli",
    ]
    connection.refresh_from_db()
    assert connection.status == Connection.Status.DISABLED  # the checkbox was left ticked
    assert console.csp_violations() == []
