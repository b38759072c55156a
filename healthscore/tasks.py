from __future__ import annotations

from celery import shared_task

from workspaces.models import Workspace

from . import services
from .models import HealthRun


@shared_task
def compute_all_health_scores() -> int:
    """Beat, Sunday night: one run per workspace, so that one slow or failing workspace delays no other."""
    started = 0
    for workspace_id in Workspace.objects.values_list("pk", flat=True):
        try:
            run = services.health_run_claim(workspace_id=workspace_id, trigger=HealthRun.Trigger.SCHEDULE)
        except services.RunAlreadyGoing:
            continue
        compute_health_run.delay(run.pk)
        started += 1
    return started


@shared_task(acks_late=True)
def compute_health_run(run_id: int) -> int:
    return services.health_run_execute(run_id=run_id).changed


@shared_task
def aggregate_usage_events() -> int:
    """Beat, every 30 minutes: attach pending events, recount the days that received events."""
    return services.usage_events_aggregate().aggregated
