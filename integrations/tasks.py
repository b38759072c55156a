"""Celery tasks take ids and call one service. A run never overlaps another of the same connection
(the engine's claim settles it); a rate-limited run is retried when the CRM says it may be."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .models import Connection, SyncRun
from .sync import sync_connection

# Every countdown stays below the broker's visibility timeout, or the broker would hand the task out twice.
MAX_COUNTDOWN = max(60, int(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)) - 300)  # type: ignore[call-overload]


@shared_task(acks_late=True)
def sync_connection_task(
    connection_id: int,
    trigger: str = SyncRun.Trigger.SCHEDULE,
    queued_run_id: int | None = None,
    dry_run: bool = False,
    approved: bool = False,
    applies_id: int | None = None,
    push_only: bool = False,
) -> int:
    applies = SyncRun.objects.filter(pk=applies_id).first() if applies_id else None
    run = sync_connection(
        connection_id=connection_id,
        trigger=trigger,
        queued_run_id=queued_run_id,
        dry_run=dry_run,
        approved=approved,
        applies=applies,
        push_only=push_only,
    )
    if run.status == SyncRun.Status.RATE_LIMITED and run.resume_at is not None:
        wait = (run.resume_at - timezone.now()).total_seconds()
        # A wait longer than the broker can hold a task is left to the hourly schedule, which skips the
        # connection until resume_at: a spent daily quota parks the connection instead of retrying early.
        if wait <= MAX_COUNTDOWN:
            sync_connection_task.apply_async(
                args=(connection_id, str(SyncRun.Trigger.RETRY)), countdown=max(1, int(wait))
            )
    return run.pk


def _latest_run(connection_id: int) -> SyncRun | None:
    """The connection's last run that did something (skipped ones say nothing about its state)."""
    return (
        SyncRun.objects.filter(connection_id=connection_id)
        .exclude(status=SyncRun.Status.SKIPPED)
        .order_by("-started_at", "-id")
        .first()
    )


def parked_until(connection_id: int) -> dt.datetime | None:
    """When a rate-limited connection may call its CRM again (None: it may now)."""
    latest = _latest_run(connection_id)
    if (
        latest
        and latest.status == SyncRun.Status.RATE_LIMITED
        and latest.resume_at
        and latest.resume_at > timezone.now()
    ):
        return latest.resume_at
    return None


def awaiting_decision(connection_id: int) -> bool:
    latest = _latest_run(connection_id)
    return latest is not None and latest.status == SyncRun.Status.PAUSED and latest.decided_at is None


@shared_task
def sync_all_connections() -> int:
    """Hourly: one task per active connection."""
    ids = list(Connection.objects.filter(status=Connection.Status.ACTIVE).values_list("pk", flat=True))
    # A run paused at the breaker waits for an Admin; hourly runs would only pause again meanwhile.
    ids = [c for c in ids if not awaiting_decision(c) and parked_until(c) is None]
    for connection_id in ids:
        sync_connection_task.delay(connection_id, SyncRun.Trigger.SCHEDULE)
    return len(ids)


@shared_task(acks_late=True)
def push_customer_scores(customer_id: int) -> int:
    """After a Pulse change (or a health computation): push that customer's scores to every active
    connection that sends data back. A run already in progress pushes them itself."""
    from customers.models import Customer

    workspace_id = Customer.objects.filter(pk=customer_id).values_list("workspace_id", flat=True).first()
    if workspace_id is None:
        return 0
    pushed = 0
    for connection_id in Connection.objects.filter(
        workspace_id=workspace_id, status=Connection.Status.ACTIVE
    ).values_list("pk", flat=True):
        run = sync_connection(
            connection_id=connection_id, trigger=SyncRun.Trigger.PUSH, scores_only_for=[customer_id]
        )
        pushed += run.pushed
    return pushed
