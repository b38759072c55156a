import pytest
from django.core import mail
from django.urls import reverse

from integrations.models import Connection, Notification, SyncRun
from integrations.notifications import notify_admins, open_notifications
from integrations.sync import sync_connection
from tests.integrations.conftest import block

pytestmark = pytest.mark.django_db


def test_admins_get_one_email_a_day_per_connection_and_cause(connection, admin_membership, csm_membership):
    notify_admins(
        connection=connection, cause=Notification.Cause.RECONNECT, message="HubSpot revoked access."
    )
    notify_admins(
        connection=connection, cause=Notification.Cause.RECONNECT, message="HubSpot revoked access."
    )
    notify_admins(connection=connection, cause=Notification.Cause.PAUSED, message="412 would be churned.")

    assert len(mail.outbox) == 2
    assert mail.outbox[0].to == [admin_membership.user.email]
    assert Notification.objects.count() == 2


def test_the_banner_shows_while_the_cause_stands_and_only_to_admins(
    connection, client_for, admin_membership, csm_membership
):
    Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.RECONNECT_NEEDED)
    notify_admins(
        connection=connection, cause=Notification.Cause.RECONNECT, message="HubSpot revoked access."
    )

    admin_page = client_for(admin_membership).get(reverse("customers:list")).content.decode()
    assert "HubSpot revoked access." in admin_page
    client_for(admin_membership).logout()
    assert (
        "HubSpot revoked access."
        not in client_for(csm_membership).get(reverse("customers:list")).content.decode()
    )

    Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.ACTIVE)
    assert open_notifications(workspace_id=connection.workspace_id) == []


def test_a_paused_run_notifies_the_admins(connection, crm, admin_membership):
    block(connection, "customers", options={"churn_on_absence": True})
    for n in range(4):
        crm.put("customers", f"c{n}", name=f"Company {n}")
    sync_connection(connection_id=connection.pk, connector=crm)
    for n in range(3):
        crm.change("customers", f"c{n}", selected=False)

    paused = sync_connection(connection_id=connection.pk, connector=crm)
    assert paused.status == SyncRun.Status.PAUSED
    assert [n.cause for n in open_notifications(workspace_id=connection.workspace_id)] == ["paused"]
    assert "would be churned" in mail.outbox[-1].body
