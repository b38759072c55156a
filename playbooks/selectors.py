"""Read-side queries of the playbook pages. Every listing starts from `workspaces.access.visible`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from customers.models import Customer
from workspaces.access import can_edit, visible
from workspaces.models import Membership

from .models import Playbook, PlaybookRun, Task, Trigger
from .rules import ACTION_NEEDS, CONDITION_NEEDS, conditions_q, target_missing
from .services import time_candidates, unmet_conditions

PREVIEW_SIZE = 100


def playbook_list(membership: Membership) -> QuerySet[Playbook]:
    return visible(membership, Playbook).annotate(
        run_count=Count("runs"), last_run_at=Max("runs__started_at")
    )


def playbook_for_page(membership: Membership) -> QuerySet[Playbook]:
    return visible(membership, Playbook).select_related("workspace", "created_by", "updated_by")


def playbook_rows(playbook: Playbook) -> dict[str, Any]:
    conditions = list(
        playbook.conditions.select_related("phase", "profile", "tag", "user", "playbook__workspace")
    )
    actions = list(playbook.actions.select_related("phase", "profile", "tag", "user"))
    broken = [str(c) for c in conditions if target_missing(c, CONDITION_NEEDS.get(c.kind))] + [
        str(a) for a in actions if target_missing(a, ACTION_NEEDS.get(a.kind))
    ]
    return {"conditions": conditions, "actions": actions, "broken": broken}


@dataclass
class Preview:
    count: int
    customers: list[Customer]
    explanation: str


def playbook_preview(*, playbook: Playbook, now: dt.datetime | None = None) -> Preview:
    """Who would enter the playbook now: for time and state triggers, the customers matching the trigger
    and the conditions (less those it already ran on for that same event); for event and manual
    triggers, the customers the conditions let in when the event happens (or when someone runs it)."""
    now = now or timezone.now()
    base = Customer.objects.filter(workspace_id=playbook.workspace_id).select_related("phase", "owner")
    if playbook.is_time_based:
        ids = [candidate.customer_id for candidate in time_candidates(playbook=playbook, now=now)]
        customers = list(base.filter(pk__in=ids[:5000]).order_by("name", "id")[:PREVIEW_SIZE])
        explanation = {
            Trigger.STAGE_UNCHANGED: "These customers have been in their stage for {n} days or more and meet the conditions: they enter at the next daily run.",
            Trigger.RENEWAL_IN: "These customers renew within {n} days and meet the conditions: they enter at the next daily run.",
            Trigger.HEALTH_BELOW: "These customers have a health score below {s} and meet the conditions: they enter at the next daily run (once a week at most).",
        }[Trigger(playbook.trigger)].format(n=playbook.trigger_days, s=playbook.trigger_score)
        return Preview(len(ids), customers, explanation)
    matching = base.filter(conditions_q(list(playbook.conditions.select_related("playbook__workspace")), now))
    if playbook.is_manual:
        explanation = (
            "The conditions let these customers in: the playbook can be run on them from their page."
        )
    else:
        explanation = (
            f"The conditions let these customers in now: each enters when “{playbook.trigger_text()}” "
            "happens to it while the playbook is enabled (past changes never trigger it)."
        )
    return Preview(matching.count(), list(matching.order_by("name", "id")[:PREVIEW_SIZE]), explanation)


def playbook_runs(playbook: Playbook) -> QuerySet[PlaybookRun]:
    return playbook.runs.select_related("customer", "triggered_by")


def run_for_page(membership: Membership) -> QuerySet[PlaybookRun]:
    return visible(membership, PlaybookRun).select_related(
        "playbook", "customer", "triggered_by", "caused_by__playbook"
    )


def customer_runs(customer: Customer, limit: int = 10) -> list[PlaybookRun]:
    return list(PlaybookRun.objects.filter(customer=customer).select_related("playbook")[:limit])


@dataclass
class ManualOption:
    playbook: Playbook
    unmet: list[str]


def manual_playbooks_for(membership: Membership, customer: Customer) -> list[ManualOption]:
    """Enabled manual playbooks, each with the conditions this customer misses (if any); only for users
    who may run playbooks on this customer (its owner CSM, Managers, Admins)."""
    if not can_edit(membership, customer):
        return []
    playbooks = visible(membership, Playbook).filter(enabled=True, trigger=Trigger.MANUAL)
    return [
        ManualOption(playbook, unmet_conditions(playbook=playbook, customer=customer))
        for playbook in playbooks
    ]


def my_open_tasks(membership: Membership) -> QuerySet[Task]:
    return (
        visible(membership, Task)
        .filter(assignee_id=membership.user_id, done_at__isnull=True)
        .select_related("customer", "created_by_run__playbook", "created_by")
    )


def my_recently_done_tasks(membership: Membership, *, days: int = 7) -> QuerySet[Task]:
    since = timezone.now() - dt.timedelta(days=days)
    return (
        visible(membership, Task)
        .filter(Q(assignee_id=membership.user_id) | Q(done_by_id=membership.user_id), done_at__gte=since)
        .select_related("customer", "created_by_run__playbook", "done_by")
        .order_by("-done_at")
    )


def customer_open_tasks(customer: Customer) -> list[Task]:
    return list(
        Task.objects.filter(customer=customer, done_at__isnull=True).select_related(
            "assignee", "created_by_run__playbook"
        )
    )
