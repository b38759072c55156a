"""The assistant's pages: Admins only (Managers 403, CSMs 404, other workspaces 404), each step's
section and button, the validation page."""

import pytest
from django.urls import reverse

from crm_migration import services
from crm_migration.models import Migration
from integrations.models import Connection

from . import scenario

pytestmark = pytest.mark.django_db


@pytest.fixture
def migration(workspace, old_connection, synced, admin_membership):
    return scenario.start(workspace, old_connection, admin_membership.user)


def urls(migration):
    return [
        reverse("crm_migration:index"),
        reverse("crm_migration:detail", args=[migration.pk]),
        reverse("crm_migration:old_id_status", args=[migration.pk]),
        reverse("crm_migration:validation", args=[migration.pk, "step_a"]),
    ]


def test_a_manager_is_refused_every_page_and_action(client_for, manager_membership, migration):
    client = client_for(manager_membership)
    for url in urls(migration):
        assert client.get(url).status_code == 403, url
    response = client.post(reverse("crm_migration:act", args=[migration.pk, "abandon"]))
    assert response.status_code == 403
    migration.refresh_from_db()
    assert migration.is_open


def test_a_csm_does_not_see_that_it_exists(client_for, csm_membership, migration):
    client = client_for(csm_membership)
    for url in urls(migration):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("crm_migration:act", args=[migration.pk, "abandon"])).status_code == 404


def test_an_admin_of_another_workspace_gets_404(client_for, stranger_membership, migration):
    client = client_for(stranger_membership)
    for url in urls(migration)[1:]:
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("crm_migration:act", args=[migration.pk, "abandon"])).status_code == 404
    migration.refresh_from_db()
    assert migration.is_open


def test_an_admin_of_another_workspace_cannot_start_from_our_connection(
    client_for, stranger_membership, old_connection
):
    client = client_for(stranger_membership)
    response = client.post(reverse("crm_migration:index"), {"connection": old_connection.pk})
    assert response.status_code == 404
    assert not Migration.objects.exists()


def test_the_integrations_page_links_the_assistant_for_admins_only(
    client_for, admin_membership, manager_membership
):
    link = reverse("crm_migration:index")
    assert link in client_for(admin_membership).get(reverse("integrations:list")).content.decode()
    assert link not in client_for(manager_membership).get(reverse("integrations:list")).content.decode()


def test_an_admin_starts_a_migration_and_lands_on_its_steps(
    client_for, admin_membership, old_connection, synced
):
    client = client_for(admin_membership)
    page = client.get(reverse("crm_migration:index")).content.decode()
    assert "Start the migration to HubSpot" in page and "Salesforce" in page
    response = client.post(reverse("crm_migration:index"), {"connection": old_connection.pk})
    migration = Migration.objects.get()
    assert response["Location"] == reverse("crm_migration:detail", args=[migration.pk])
    # With one open, the index goes to it.
    assert client.get(reverse("crm_migration:index"))["Location"] == response["Location"]
    page = client.get(response["Location"]).content.decode()
    for title in (
        "HubSpot preparation",
        "Old CRM ID",
        "Disable, then delete",
        "Connect HubSpot",
        "Step A",
        "Step B",
        "Step C",
        "Third-party keys",
    ):
        assert title in page
    assert "3 customers, MRR 600.00" in page


def test_a_step_out_of_order_says_what_it_waits_for(client_for, admin_membership, migration):
    client = client_for(admin_membership)
    response = client.post(
        reverse("crm_migration:act", args=[migration.pk, "old-id-field"]), {"step": "old_id"}, follow=True
    )
    assert "waits for &#x27;HubSpot preparation&#x27;" in response.content.decode()


def test_the_checklist_and_the_preparation_check_through_the_page(client_for, admin_membership, migration):
    client = client_for(admin_membership)
    act = reverse("crm_migration:act", args=[migration.pk, "tick"])
    client.post(act, {"step": "preparation", "items": [key for key, _ in services.PREPARATION_ITEMS]})
    response = client.post(
        reverse("crm_migration:act", args=[migration.pk, "check"]), {"step": "preparation"}, follow=True
    )
    assert "passed its check" in response.content.decode()
    migration.refresh_from_db()
    assert migration.step == "old_id"


def test_deleting_the_old_connection_needs_the_typed_confirmation(
    client_for, admin_membership, migration, old_crm
):
    scenario.through_old_id(migration, admin_membership.user, old_crm)
    client = client_for(admin_membership)
    client.post(reverse("crm_migration:act", args=[migration.pk, "disable-old"]), {"step": "old_connection"})
    response = client.post(
        reverse("crm_migration:act", args=[migration.pk, "delete-old"]),
        {"step": "old_connection", "confirm": "yes"},
        follow=True,
    )
    assert "Type DELETE" in response.content.decode()
    assert Connection.objects.filter(pk=migration.old_connection_pk).exists()
    client.post(
        reverse("crm_migration:act", args=[migration.pk, "delete-old"]),
        {"step": "old_connection", "confirm": "DELETE"},
    )
    assert not Connection.objects.filter(pk=migration.old_connection_pk).exists()


def test_the_fill_rate_partial_for_htmx(client_for, admin_membership, migration, old_crm):
    scenario.through_old_id(migration, admin_membership.user, old_crm)
    response = client_for(admin_membership).get(
        reverse("crm_migration:old_id_status", args=[migration.pk]), HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200 and "Fill rate: 100 %" in body and "<html" not in body


def test_the_validation_page_shows_the_proof_after_step_a(
    client_for, admin_membership, migration, old_crm, hubspot_connection, hubspot_crm
):
    scenario.through_connect(migration, admin_membership.user, old_crm, hubspot_connection)
    services.step_a_apply(migration=migration, old_id_property="salesforce_id")
    client = client_for(admin_membership)
    url = reverse("crm_migration:validation", args=[migration.pk, "step_a"])
    assert "No sync has finished" in client.get(url).content.decode()
    run = scenario.hubspot_sync(migration, hubspot_crm)
    page = client.get(url).content.decode()
    assert 'id="switched">3<' in page and 'id="no-duplicates"' in page and 'id="nothing-lost"' in page
    assert reverse("integrations:run", args=[hubspot_connection.pk, run.pk]) in page
    # Every company merged with an existing customer: the run created none, and the undo is at hand anyway.
    assert reverse("integrations:run_undo", args=[hubspot_connection.pk, run.pk]) in page
    assert 'id="created-by-run">0<' in page
    response = client.post(
        reverse("crm_migration:act", args=[migration.pk, "check"]),
        {"step": "step_a", "from": "validation"},
    )
    assert response["Location"] == url
    migration.refresh_from_db()
    assert migration.passed("step_a")


def test_the_validation_page_counts_what_a_bad_run_created_and_links_its_undo(
    client_for, admin_membership, migration, old_crm, hubspot_connection, hubspot_crm
):
    scenario.through_connect(migration, admin_membership.user, old_crm, hubspot_connection)
    services.step_a_apply(migration=migration, old_id_property="salesforce_id")
    for number in range(2):
        hubspot_crm.put("customers", f"77{number}", name=f"Partner {number}", domain=f"partner{number}.com")
    run = scenario.hubspot_sync(migration, hubspot_crm)
    page = (
        client_for(admin_membership)
        .get(reverse("crm_migration:validation", args=[migration.pk, "step_a"]))
        .content.decode()
    )
    assert 'id="created-by-run">2<' in page
    assert 'id="expected">5 = 3 synced from Salesforce + 2 new' in page
    assert reverse("integrations:run_undo", args=[hubspot_connection.pk, run.pk]) in page


def test_an_unknown_validation_step_is_404(client_for, admin_membership, migration):
    url = reverse("crm_migration:validation", args=[migration.pk, "preparation"])
    assert client_for(admin_membership).get(url).status_code == 404


def test_preview_starts_a_plan_of_the_hubspot_connection(
    client_for, admin_membership, migration, old_crm, hubspot_connection, django_capture_on_commit_callbacks
):
    scenario.through_connect(migration, admin_membership.user, old_crm, hubspot_connection)
    services.step_a_apply(migration=migration, old_id_property="salesforce_id")
    response = client_for(admin_membership).post(
        reverse("crm_migration:act", args=[migration.pk, "preview"]), {"step": "step_a"}
    )
    plan = hubspot_connection.runs.get()
    assert plan.dry_run and response["Location"] == reverse(
        "integrations:run", args=[hubspot_connection.pk, plan.pk]
    )


def test_a_malformed_row_id_is_not_found_not_a_crash(client_for, admin_membership, migration):
    client = client_for(admin_membership)
    assert client.post(reverse("crm_migration:index"), {"connection": "abc"}).status_code == 404
    scenario.through_preparation(migration, admin_membership.user)
    response = client.post(
        reverse("crm_migration:act", args=[migration.pk, "old-id-field"]),
        {"step": "old_id", "field": "1 OR 1"},
    )
    assert response.status_code == 404


def test_a_finished_migration_refuses_actions_and_the_index_offers_a_new_one(
    client_for, admin_membership, migration
):
    services.migration_abandon(migration=migration)
    client = client_for(admin_membership)
    response = client.post(
        reverse("crm_migration:act", args=[migration.pk, "tick"]),
        {"step": "preparation", "items": ["super_admin"]},
        follow=True,
    )
    assert "abandoned; start a new one" in response.content.decode()
    page = client.get(reverse("crm_migration:index")).content.decode()
    assert "Start the migration to HubSpot" in page and "Abandoned" in page


def test_support_reads_a_migration_in_the_django_admin(client, migration):
    from tests.factories import UserFactory

    client.force_login(UserFactory(email="root@skalin.test", is_staff=True, is_superuser=True))
    assert client.get(reverse("admin:crm_migration_migration_changelist")).status_code == 200
    assert client.get(reverse("admin:crm_migration_migration_change", args=[migration.pk])).status_code == 200
    assert client.get(reverse("admin:crm_migration_migration_add")).status_code == 403


class HubSpotProperties:
    """HubSpot's company properties as the setup's catalog reads them (no HTTP here)."""

    failing = False

    def __init__(self, connection):
        self.connection = connection

    def fields(self, object_type):
        from integrations.base import ConnectorError, CrmField

        if HubSpotProperties.failing:
            raise ConnectorError("HubSpot answered HTTP 503", status=503)
        return [CrmField("salesforce_id", "Salesforce ID"), CrmField("domain", "Company domain name")]


def test_step_a_offers_hubspot_s_own_properties_and_survives_hubspot_being_down(
    client_for, admin_membership, migration, old_crm, hubspot_connection, monkeypatch
):
    monkeypatch.setattr("crm_migration.views.Catalog", HubSpotProperties)
    scenario.through_connect(migration, admin_membership.user, old_crm, hubspot_connection)
    client = client_for(admin_membership)
    url = reverse("crm_migration:detail", args=[migration.pk])
    page = client.get(url).content.decode()
    assert '<option value="salesforce_id">Salesforce ID</option>' in page
    assert "Apply step A's configuration" in page
    HubSpotProperties.failing = True
    try:
        page = client.get(url).content.decode()
    finally:
        HubSpotProperties.failing = False
    assert "properties could not be listed" in page and "type the property" in page
    assert "Apply step A's configuration" in page


def test_a_completed_migration_says_so_and_offers_no_action(
    client_for, admin_membership, migration, old_crm, hubspot_connection, hubspot_crm, monkeypatch
):
    monkeypatch.setattr("crm_migration.views.Catalog", HubSpotProperties)
    user = admin_membership.user
    scenario.through_step_a(migration, user, old_crm, hubspot_connection, hubspot_crm)
    services.step_b_apply(migration=migration, fields={"phase": "skalin_stage"})
    scenario.hubspot_sync(migration, hubspot_crm)
    assert services.hubspot_step_check(migration=migration, step="step_b", user=user)["ok"]
    services.step_c_apply(migration=migration, two_way=["phase"])
    scenario.hubspot_sync(migration, hubspot_crm)
    assert services.hubspot_step_check(migration=migration, step="step_c", user=user)["ok"]
    items = [key for key, _ in services.checklist_items("third_party", migration)]
    services.checklist_tick(migration=migration, step="third_party", ticked=items)
    assert services.third_party_check(migration=migration, user=user)["ok"]
    page = (
        client_for(admin_membership)
        .get(reverse("crm_migration:detail", args=[migration.pk]))
        .content.decode()
    )
    assert "Migration completed" in page and "unchanged, customer by customer" in page
    assert "Check this step" not in page and "Abandon the migration" not in page
