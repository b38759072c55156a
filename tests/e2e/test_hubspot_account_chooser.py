"""In a real browser: an Admin clicks Connect me on HubSpot, the sandbox's consent page lists both portals
(the demo one preselected), the Admin picks Northwind's, and the connection is to that portal."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from integrations.models import Connection
from sandbox.hubspot import schema
from sandbox.migration import MIGRATION_PORTAL, MIGRATION_PORTAL_NAME
from sandbox.models import SandboxAccount
from tests.e2e.people import log_in, member
from tests.factories import WorkspaceFactory
from tests.sandbox_settings import point_crms_at_sandbox
from workspaces.models import Role

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_admin_chooses_the_northwind_portal_on_the_consent_page(page, console, live_server, settings):
    point_crms_at_sandbox(settings, live_server.url)
    workspace = WorkspaceFactory(name="Northwind (migrating)")
    member(workspace, "admin@northwind.test", Role.ADMIN)
    SandboxAccount.objects.create(
        crm="hubspot",
        account_id=MIGRATION_PORTAL,
        name=MIGRATION_PORTAL_NAME,
        user_email="nora@northwind.test",
    )

    log_in(page, "admin@northwind.test")
    page.goto("/settings/integrations/")
    card = page.locator("section.crm-card", has=page.get_by_role("heading", name="HubSpot"))
    card.get_by_role("button", name="Connect me").click()

    demo, northwind = page.get_by_label(schema.DEFAULT_NAME), page.get_by_label(MIGRATION_PORTAL_NAME)
    expect(demo).to_be_checked()
    expect(northwind).not_to_be_checked()
    expect(page.get_by_text(f"Hub ID {MIGRATION_PORTAL}, signed in as nora@northwind.test")).to_be_visible()
    northwind.check()
    page.get_by_role("button", name="Allow").click()

    expect(page.get_by_role("heading", name="Set up HubSpot")).to_be_visible()
    connection = Connection.objects.get(workspace=workspace, crm="hubspot")
    assert connection.remote_account_id == MIGRATION_PORTAL
    assert not console.csp_violations()
