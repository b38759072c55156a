from __future__ import annotations

from typing import Any

from celery import shared_task

from .services import playbooks_process_events, playbooks_run_daily


@shared_task
def process_playbook_events() -> dict[str, Any] | None:
    """Beat, every 5 minutes: event-triggered playbooks (new customer, stage, owner, CSM Pulse changed).
    None when the previous pass is still running (this one's changes wait for the next)."""
    result = playbooks_process_events()
    return result.as_dict() if result else None


@shared_task
def run_time_based_playbooks() -> dict[str, Any] | None:
    """Beat, daily: stage unchanged for N days, renewal in N days, health score below N."""
    result = playbooks_run_daily()
    return result.as_dict() if result else None
