"""What each condition and action kind needs, how a condition filters customers, how both read.

One registry per kind (explicit dicts): the form, the service and the engine all read them, so a
condition means the same thing in the preview, in the daily pass and on a manual run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db.models import Q

from customers.models import Customer

from .models import ActionKind, ConditionKind, PlaybookAction, PlaybookCondition

PULSE_MAX_AGE = dt.timedelta(days=90)

# What a row points at: "phase", "profile", "tag", "user" (a model reference), "number", or None.
CONDITION_NEEDS: dict[str, str | None] = {
    ConditionKind.STAGE_IS: "phase",
    ConditionKind.STAGE_IS_NOT: "phase",
    ConditionKind.OWNER_IS: "user",
    ConditionKind.OWNER_IS_NOT: "user",
    ConditionKind.NO_OWNER: None,
    ConditionKind.HAS_TAG: "tag",
    ConditionKind.HAS_NOT_TAG: "tag",
    ConditionKind.PROFILE_IS: "profile",
    ConditionKind.PROFILE_IS_NOT: "profile",
    ConditionKind.MRR_GTE: "number",
    ConditionKind.MRR_LTE: "number",
    ConditionKind.HEALTH_LTE: "number",
    ConditionKind.HEALTH_GTE: "number",
    ConditionKind.NO_HEALTH: None,
    ConditionKind.PULSE_LTE: "number",
    ConditionKind.PULSE_GTE: "number",
    ConditionKind.NO_PULSE: None,
}

# Allowed numbers per kind: (min, max); None is no maximum.
NUMBER_RANGES: dict[str, tuple[Decimal, Decimal | None]] = {
    ConditionKind.MRR_GTE: (Decimal(0), None),
    ConditionKind.MRR_LTE: (Decimal(0), None),
    ConditionKind.HEALTH_LTE: (Decimal(1), Decimal(10)),
    ConditionKind.HEALTH_GTE: (Decimal(1), Decimal(10)),
    ConditionKind.PULSE_LTE: (Decimal(1), Decimal(5)),
    ConditionKind.PULSE_GTE: (Decimal(1), Decimal(5)),
}

ACTION_NEEDS: dict[str, str] = {
    ActionKind.CHANGE_STAGE: "phase",
    ActionKind.CHANGE_PROFILE: "profile",
    ActionKind.ADD_TAG: "tag",
    ActionKind.REMOVE_TAG: "tag",
    ActionKind.CHANGE_OWNER: "user",
    ActionKind.CREATE_TASK: "user",  # or the customer's owner
}

TARGET_NOUNS = {"phase": "stage", "profile": "health profile", "tag": "tag", "user": "user"}


def _tagged(tag_id: Any) -> Q:
    return Q(pk__in=Customer.tags.through.objects.filter(tag_id=tag_id).values("customer_id"))


def _fresh_pulse(now: dt.datetime) -> Q:
    return Q(csm_pulse__isnull=False, csm_pulse_at__gte=now - PULSE_MAX_AGE)


ConditionQ = Callable[[PlaybookCondition, dt.datetime], Q]

CONDITION_FILTERS: dict[str, ConditionQ] = {
    ConditionKind.STAGE_IS: lambda c, now: Q(phase_id=c.phase_id),
    # exclude() semantics: a customer with no stage is "not in" any stage.
    ConditionKind.STAGE_IS_NOT: lambda c, now: ~Q(phase_id=c.phase_id),
    ConditionKind.OWNER_IS: lambda c, now: Q(owner_id=c.user_id),
    ConditionKind.OWNER_IS_NOT: lambda c, now: ~Q(owner_id=c.user_id),
    ConditionKind.NO_OWNER: lambda c, now: Q(owner__isnull=True),
    ConditionKind.HAS_TAG: lambda c, now: _tagged(c.tag_id),
    ConditionKind.HAS_NOT_TAG: lambda c, now: ~_tagged(c.tag_id),
    ConditionKind.PROFILE_IS: lambda c, now: Q(health_profile_id=c.profile_id),
    ConditionKind.PROFILE_IS_NOT: lambda c, now: ~Q(health_profile_id=c.profile_id),
    ConditionKind.MRR_GTE: lambda c, now: Q(active_mrr__gte=c.number),
    ConditionKind.MRR_LTE: lambda c, now: Q(active_mrr__lte=c.number),
    ConditionKind.HEALTH_LTE: lambda c, now: Q(health_score__lte=c.number),
    ConditionKind.HEALTH_GTE: lambda c, now: Q(health_score__gte=c.number),
    ConditionKind.NO_HEALTH: lambda c, now: Q(health_score__isnull=True),
    # A pulse older than 90 days counts as missing (issue 7, item 3).
    ConditionKind.PULSE_LTE: lambda c, now: _fresh_pulse(now) & Q(csm_pulse__lte=c.number),
    ConditionKind.PULSE_GTE: lambda c, now: _fresh_pulse(now) & Q(csm_pulse__gte=c.number),
    ConditionKind.NO_PULSE: lambda c, now: ~_fresh_pulse(now),
}

NOTHING = Q(pk__in=[])


def target_of(row: PlaybookCondition | PlaybookAction, needs: str | None) -> Any:
    return getattr(row, needs, None) if needs in TARGET_NOUNS else None


def target_missing(row: PlaybookCondition | PlaybookAction, needs: str | None) -> bool:
    """A row whose stage, tag, profile or user has been deleted since it was saved."""
    if needs not in TARGET_NOUNS:
        return False
    if isinstance(row, PlaybookAction) and row.kind == ActionKind.CREATE_TASK and row.assign_to_owner:
        return False
    return getattr(row, f"{needs}_id") is None


def condition_q(condition: PlaybookCondition, now: dt.datetime) -> Q:
    needs = CONDITION_NEEDS.get(condition.kind)
    if condition.kind not in CONDITION_FILTERS or target_missing(condition, needs):
        return NOTHING
    if needs == "number" and condition.number is None:
        return NOTHING
    return CONDITION_FILTERS[condition.kind](condition, now)


def conditions_q(conditions: list[PlaybookCondition], now: dt.datetime) -> Q:
    """All conditions must match; no condition matches every customer."""
    combined = Q()
    for condition in conditions:
        combined &= condition_q(condition, now)
    return combined


def _number_text(condition: PlaybookCondition) -> str:
    number = condition.number
    if number is None:
        return "?"
    text = f"{number.normalize():f}" if number == number.to_integral() else f"{number:.2f}"
    if condition.kind in (ConditionKind.MRR_GTE, ConditionKind.MRR_LTE):
        currency = condition.playbook.workspace.currency if condition.playbook_id else ""
        return f"{text} {currency}".strip()
    return text


def _user_text(user: Any) -> str:
    return (user.get_full_name() or user.email) if user is not None else ""


def _target_text(row: PlaybookCondition | PlaybookAction, needs: str | None) -> str:
    if needs == "user":
        return _user_text(row.user)
    target = target_of(row, needs)
    return "" if target is None else str(target)


def condition_text(condition: PlaybookCondition) -> str:
    needs = CONDITION_NEEDS.get(condition.kind)
    label = ConditionKind(condition.kind).label
    if needs is None:
        return label
    if needs == "number":
        return f"{label} {_number_text(condition)}"
    if target_missing(condition, needs):
        return f"{label} (a deleted {TARGET_NOUNS[needs]}: this condition matches nobody)"
    return f"{label} {_target_text(condition, needs)}"


def action_text(action: PlaybookAction) -> str:
    label = ActionKind(action.kind).label
    needs = ACTION_NEEDS[action.kind]
    if action.kind == ActionKind.CREATE_TASK:
        who = (
            "the customer's owner"
            if action.assign_to_owner
            else _user_text(action.user) or "(a deleted user)"
        )
        due = (
            ""
            if action.due_in_days is None
            else f", due in {action.due_in_days} day{'s' if action.due_in_days != 1 else ''}"
        )
        return f"Create a task for {who}: “{action.task_title}”{due}"
    if target_missing(action, needs):
        return f"{label} (a deleted {TARGET_NOUNS[needs]}: this action is skipped)"
    return f"{label} {_target_text(action, needs)}"
