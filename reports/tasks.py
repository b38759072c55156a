from __future__ import annotations

from celery import shared_task

from workspaces.models import Workspace

from .services import report_snapshot_compute


@shared_task
def compute_daily_reports() -> int:
    """Beat, daily: one task per workspace, so that one slow or failing workspace delays no other."""
    ids = list(Workspace.objects.values_list("pk", flat=True))
    for workspace_id in ids:
        compute_workspace_report.delay(workspace_id)
    return len(ids)


@shared_task
def compute_workspace_report(workspace_id: int) -> int:
    return report_snapshot_compute(workspace_id=workspace_id).pk
