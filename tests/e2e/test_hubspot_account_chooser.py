"""In a real browser: an Admin clicks Connect me on HubSpot, the sandbox's consent page lists both portals
(the demo one preselected), the Admin picks Northwind's, and the connection is to that portal."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from integrations.models import Connection
from sandbox.hubspot import schema
from sandbox.migration import MIGRATION_PORTAL, MIGRATION_PORTAL_NAME
from sandbox.models import SandboxAccount
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory
from tests.sandbox_settings import point_crms_at_sandbox
from workspaces.models import Role

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"


def test_the_admin_chooses_the_northwind_portal_on_the_consent_page(page, console, live_server, settings):
    point_crms_at_sandbox(settings, live_server.url)
    workspace = WorkspaceFactory(name="Northwind (migrating)")
    user = UserFactory(email="admin@northwind.test")
    user.set_password(PASSWORD)
    user.save()
    MembershipFactory(workspace=workspace, user=user, role=Role.ADMIN)
    SandboxAccount.objects.create(
        crm="hubspot", account_id=MIGRATION_PORTAL, name=MIGRATION_PORTAL_NAME, user_email="nora@northwind.test"
    )

    page.goto("/accounts/login/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))
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
