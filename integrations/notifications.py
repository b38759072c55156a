"""Telling the Admins, by email and with a banner, when a connection needs them; at most once a day per
connection and cause, so that an hourly failure does not flood anyone."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from workspaces.models import Membership, Role

from .models import Connection, Notification

log = logging.getLogger(__name__)
QUIET_PERIOD = dt.timedelta(days=1)


def notify_admins(*, connection: Connection, cause: str, message: str) -> Notification | None:
    """Record the notification and email the Admins, unless the same cause was raised in the last day."""
    recent = Notification.objects.filter(
        connection=connection, cause=cause, created_at__gte=timezone.now() - QUIET_PERIOD
    ).exists()
    if recent:
        return None
    notification = Notification.objects.create(
        workspace_id=connection.workspace_id, connection=connection, cause=cause, message=message
    )
    recipients = list(
        Membership.objects.filter(workspace_id=connection.workspace_id, role=Role.ADMIN)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    if recipients:
        subject = f"[Skalin] {connection.get_crm_display()}: {notification.get_cause_display().lower()}"
        try:
            send_mail(
                subject,
                f"{message}\n\nOpen Settings > Integrations in Skalin.",
                settings.DEFAULT_FROM_EMAIL,
                recipients,
            )
        except OSError:
            # The banner still shows; a mail server being down must not break a sync run.
            log.exception("Could not email the Admins about connection %s", connection.pk)
    return notification


def open_notifications(*, workspace_id: int) -> list[Notification]:
    """Notifications whose cause still stands: a fixed connection or a decided run stops showing."""
    from .tasks import awaiting_decision

    shown: list[Notification] = []
    seen: set[tuple[int, str]] = set()
    recent = Notification.objects.filter(
        workspace_id=workspace_id,
        dismissed_at__isnull=True,
        created_at__gte=timezone.now() - dt.timedelta(days=7),
    ).select_related("connection")
    for notification in recent[:20]:
        key = (notification.connection_id, notification.cause)
        if key in seen:
            continue
        seen.add(key)
        if notification.cause == Notification.Cause.RECONNECT:
            still = notification.connection.status == Connection.Status.RECONNECT_NEEDED
        elif notification.cause == Notification.Cause.PAUSED:
            still = awaiting_decision(notification.connection_id)
        else:
            still = notification.created_at >= timezone.now() - QUIET_PERIOD
        if still:
            shown.append(notification)
    return shown[:5]
