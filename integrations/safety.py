"""Sync safety seen from the pages: plans (dry runs) and their apply, paused runs approved or cancelled,
and "Push Skalin values to the CRM now". Each queues a run that the page can follow."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .models import Connection, SyncRun
from .tasks import sync_connection_task


def _queue(connection: Connection, trigger: str, **task_options: Any) -> SyncRun:
    run = SyncRun.objects.create(
        connection=connection,
        trigger=trigger,
        status=SyncRun.Status.QUEUED,
        dry_run=bool(task_options.get("dry_run")),
        applies_id=task_options.get("applies_id"),
    )
    transaction.on_commit(
        lambda: sync_connection_task.delay(connection.pk, trigger, queued_run_id=run.pk, **task_options)
    )
    return run


def plan_start(*, connection: Connection) -> SyncRun:
    """A dry run: reads the CRM, computes every change, writes nothing (R7)."""
    if connection.status not in (Connection.Status.ACTIVE, Connection.Status.DRAFT):
        raise ValidationError(
            f"The connection is {connection.get_status_display().lower()}; it cannot be planned."
        )
    return _queue(connection, SyncRun.Trigger.PLAN, dry_run=True)


def plan_apply(*, plan_run: SyncRun) -> SyncRun:
    """Run the sync a plan described; the run reports what differs from the plan."""
    if not plan_run.dry_run or plan_run.status not in (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL):
        raise ValidationError("Only a finished plan can be applied.")
    connection = plan_run.connection
    if connection.status == Connection.Status.DRAFT:
        connection.status = Connection.Status.ACTIVE
        connection.save(update_fields=["status", "updated_at"])
    if connection.status != Connection.Status.ACTIVE:
        raise ValidationError(
            f"The connection is {connection.get_status_display().lower()}; enable it first."
        )
    return _queue(connection, SyncRun.Trigger.MANUAL, applies_id=plan_run.pk)


def run_approve(*, run: SyncRun, user: Any) -> SyncRun:
    """An Admin lets a paused run's mass change happen: a new run goes past the breaker once."""
    _decide(run, user)
    return _queue(run.connection, SyncRun.Trigger.APPROVED, approved=True)


def run_cancel(*, run: SyncRun, user: Any) -> SyncRun:
    """An Admin refuses the mass change: nothing is written; the next hourly run will pause again if the
    CRM still says the same (fix the filter or view first)."""
    _decide(run, user)
    run.status = SyncRun.Status.CANCELLED
    run.save(update_fields=["status"])
    return run


def _decide(run: SyncRun, user: Any) -> None:
    if run.status != SyncRun.Status.PAUSED or run.decided_at is not None:
        raise ValidationError("This run is not waiting for a decision.")
    run.decided_by, run.decided_at = user, timezone.now()
    run.save(update_fields=["decided_by", "decided_at"])


def push_now(*, connection: Connection) -> SyncRun:
    """Send every mapped output field whose Skalin value differs from the CRM's, now."""
    if connection.status != Connection.Status.ACTIVE:
        raise ValidationError(
            f"The connection is {connection.get_status_display().lower()}; nothing is pushed."
        )
    return _queue(connection, SyncRun.Trigger.PUSH, push_only=True)
