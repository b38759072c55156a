from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from customers.models import Customer, CustomerSource
from integrations import services
from integrations.base import Connector, Identity, OAuthSpec, ObjectSpec
from integrations.models import Connection, ExternalRef, ObjectSetting, ObjectType, SyncMode, SyncRun
from integrations.oauth import OAuthResult
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

SIGNED_IN = {"account": "portal-1"}


class IdentityCrm(Connector):
    key = "hubspot"
    label = "HubSpot"
    oauth = OAuthSpec("auth_url", "/oauth/authorize", "api_url", "/oauth/v1/token", ("oauth",))
    objects = {
        ObjectType.CUSTOMERS: ObjectSpec(
            ObjectType.CUSTOMERS,
            "companies",
            (SyncMode.INPUT, SyncMode.TWO_WAYS, SyncMode.DISABLED),
            default_mode=SyncMode.INPUT,
            default_mapping={"name": "name", "domain": "domain"},
        ),
        ObjectType.AGREEMENTS: ObjectSpec(
            ObjectType.AGREEMENTS, "deals", (SyncMode.INPUT, SyncMode.DISABLED)
        ),
    }

    def identity(self) -> Identity:
        return Identity(account_id=SIGNED_IN["account"], user_email="admin@crm.test")


@pytest.fixture(autouse=True)
def fake_registry():
    with mock.patch("integrations.services.connector_class", return_value=IdentityCrm):
        yield


def signed_in(workspace, connection_id=None):
    return OAuthResult(
        tokens={"access_token": "at", "refresh_token": "rt"},
        expires_at=None,
        base_url="",
        workspace_id=workspace.pk,
        connection_id=connection_id,
    )


def test_connecting_creates_an_active_connection_with_its_default_blocks(workspace, admin_membership):
    SIGNED_IN["account"] = "portal-1"
    connection = services.connection_connect(
        workspace=workspace, crm="hubspot", result=signed_in(workspace), user=admin_membership.user
    )
    # Draft until an Admin has looked at the blocks and started it.
    assert connection.status == Connection.Status.DRAFT
    assert connection.owns_customer_id
    assert connection.remote_user_email == "admin@crm.test"
    customers = ObjectSetting.objects.get(connection=connection, object_type="customers")
    assert customers.mode == SyncMode.INPUT
    assert {m.local_field for m in customers.mappings.all()} == {"name", "domain"}
    assert (
        ObjectSetting.objects.get(connection=connection, object_type="agreements").mode == SyncMode.DISABLED
    )


def test_reconnecting_swaps_credentials_on_the_same_connection(workspace, admin_membership):
    SIGNED_IN["account"] = "portal-1"
    first = services.connection_connect(
        workspace=workspace, crm="hubspot", result=signed_in(workspace), user=None
    )
    Connection.objects.filter(pk=first.pk).update(status=Connection.Status.RECONNECT_NEEDED)
    again = services.connection_connect(
        workspace=workspace, crm="hubspot", result=signed_in(workspace, first.pk), user=None
    )
    assert again.pk == first.pk
    assert again.status == Connection.Status.ACTIVE
    assert Connection.objects.count() == 1


def test_reconnecting_with_another_crm_account_is_refused(workspace):
    SIGNED_IN["account"] = "portal-1"
    first = services.connection_connect(
        workspace=workspace, crm="hubspot", result=signed_in(workspace), user=None
    )
    SIGNED_IN["account"] = "portal-2"
    with pytest.raises(ValidationError, match="belongs to account portal-1"):
        services.connection_connect(
            workspace=workspace, crm="hubspot", result=signed_in(workspace, first.pk), user=None
        )
    first.refresh_from_db()
    assert first.remote_account_id == "portal-1"


def test_a_mode_the_crm_does_not_allow_is_refused_naming_the_allowed_ones(workspace):
    connection = Connection.objects.create(workspace=workspace, crm="hubspot")
    with pytest.raises(ValidationError, match="Input only, Disabled"):
        services.object_setting_update(
            connection=connection, object_type="agreements", mode=SyncMode.TWO_WAYS
        )


def test_deleting_a_connection_keeps_the_customers_and_their_history(workspace):
    connection = Connection.objects.create(
        workspace=workspace, crm="hubspot", status=Connection.Status.ACTIVE
    )
    customer = CustomerFactory(workspace=workspace)
    CustomerSource.objects.create(customer=customer, source="hubspot", external_id="1")
    ExternalRef.objects.create(
        connection=connection, object_type="customers", external_id="1", local_id=customer.pk
    )

    services.connection_delete(connection=connection)

    assert Customer.objects.filter(pk=customer.pk).exists()
    assert not CustomerSource.objects.filter(customer=customer).exists()
    assert not ExternalRef.objects.exists()


@pytest.fixture
def connection(workspace):
    return Connection.objects.create(
        workspace=workspace, crm="hubspot", status=Connection.Status.ACTIVE, remote_account_id="portal-1"
    )


def test_admins_see_integrations_managers_read_them_csms_do_not_see_them(
    client_for, admin_membership, manager_membership, csm_membership, connection
):
    for membership, status in ((admin_membership, 200), (manager_membership, 200), (csm_membership, 404)):
        client = client_for(membership)
        assert client.get(reverse("integrations:list")).status_code == status
        assert client.get(reverse("integrations:connection", args=[connection.pk])).status_code == status
        client.logout()


def test_a_manager_cannot_act_on_a_connection(client_for, manager_membership, connection):
    response = client_for(manager_membership).post(
        reverse("integrations:set_status", args=[connection.pk, "disable"])
    )
    assert response.status_code == 403
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE


def test_another_workspace_gets_404_on_a_connection(client_for, stranger_membership, connection):
    client = client_for(stranger_membership)
    assert client.get(reverse("integrations:connection", args=[connection.pk])).status_code == 404
    assert client.post(reverse("integrations:sync_now", args=[connection.pk])).status_code == 404


def test_sync_now_enqueues_one_run_after_commit(
    client_for, admin_membership, connection, django_capture_on_commit_callbacks
):
    with (
        mock.patch("integrations.views.connections.sync_connection_task") as task,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client_for(admin_membership).post(reverse("integrations:sync_now", args=[connection.pk]))
    assert response.status_code == 302
    task.delay.assert_called_once_with(connection.pk, SyncRun.Trigger.MANUAL)


def test_the_connection_page_shows_runs_and_quarantine(client_for, admin_membership, connection):
    SyncRun.objects.create(
        connection=connection,
        status=SyncRun.Status.PARTIAL,
        created=3,
        errors=[{"message": "HubSpot ignored 1 score push", "next": "See"}],
    )
    connection.quarantine.create(
        object_type="customers", external_id="99", reason="2 customers share the domain 'x.com'."
    )
    page = (
        client_for(admin_membership)
        .get(reverse("integrations:connection", args=[connection.pk]))
        .content.decode()
    )
    assert "Partial" in page
    assert "2 customers share the domain" in page


def test_an_expired_oauth_state_gives_a_friendly_page(client_for, admin_membership, settings):
    settings.CRM_SETTINGS = {
        **settings.CRM_SETTINGS,
        "hubspot": {"client_id": "x", "client_secret": "y", "api_url": "https://api.crm.test"},
    }
    with mock.patch("integrations.views.oauth.connector_class", return_value=IdentityCrm):
        response = client_for(admin_membership).get(
            reverse("integrations:oauth_callback", args=["hubspot"]), {"state": "old", "code": "c"}
        )
    assert response.status_code == 400
    assert "expired" in response.content.decode()
    assert "Back to Integrations" in response.content.decode()


def test_a_run_report_breaks_counts_down_by_object(client_for, admin_membership, connection):
    run = SyncRun.objects.create(
        connection=connection,
        status=SyncRun.Status.SUCCEEDED,
        created=5,
        by_object={"customers": {"created": 3}, "contacts": {"created": 2, "quarantined": 1}},
        warnings=["Stage 'vip' has no matching phase; the current phase was kept (new customers: default)."],
    )
    page = (
        client_for(admin_membership)
        .get(reverse("integrations:run", args=[connection.pk, run.pk]))
        .content.decode()
    )
    assert page.index("Customers") < page.index("Contacts")
    assert "Stage &#x27;vip&#x27; has no matching phase" in page


def test_a_run_of_another_connection_is_not_found(client_for, admin_membership, connection, workspace):
    other = Connection.objects.create(workspace=workspace, crm="salesforce", remote_account_id="00D1")
    run = SyncRun.objects.create(connection=other, status=SyncRun.Status.SUCCEEDED)
    response = client_for(admin_membership).get(reverse("integrations:run", args=[connection.pk, run.pk]))
    assert response.status_code == 404


def test_a_reconnect_without_a_refresh_token_keeps_the_working_one(workspace):
    SIGNED_IN["account"] = "portal-1"
    first = services.connection_connect(
        workspace=workspace, crm="hubspot", result=signed_in(workspace), user=None
    )
    again = OAuthResult(tokens={"access_token": "at-2", "refresh_token": ""}, expires_at=None, base_url="",
                        workspace_id=workspace.pk, connection_id=first.pk)  # fmt: skip
    services.connection_connect(workspace=workspace, crm="hubspot", result=again, user=None)
    first.refresh_from_db()
    assert first.tokens == {"access_token": "at-2", "refresh_token": "rt"}


def test_the_integrations_page_shows_each_connections_last_run_result(
    client_for, admin_membership, connection
):
    SyncRun.objects.create(connection=connection, status=SyncRun.Status.PARTIAL)
    SyncRun.objects.create(connection=connection, status=SyncRun.Status.SKIPPED)
    SyncRun.objects.create(connection=connection, status=SyncRun.Status.SUCCEEDED, dry_run=True)
    page = client_for(admin_membership).get(reverse("integrations:list")).content.decode()
    assert "Last run" in page and "Partial" in page


def test_the_run_report_names_mapped_fields_as_a_person_would(client_for, admin_membership, connection):
    run = SyncRun.objects.create(
        connection=connection, status=SyncRun.Status.SUCCEEDED,
        fill_rates={"customers": {"phase": {"filled": 3, "empty": 1, "kept": 0}},
                    "contacts": {"role:key_user": {"filled": 1, "empty": 0, "kept": 0}}},
    )  # fmt: skip
    page = (
        client_for(admin_membership)
        .get(reverse("integrations:run", args=[connection.pk, run.pk]))
        .content.decode()
    )
    assert "Customer stage" in page and "Key user tag" in page
