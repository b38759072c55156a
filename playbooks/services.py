"""Playbook writes: saving a playbook, running it on a customer, the beat passes, tasks.

Actions change customers only through `customers.services`, with `Actor.for_playbook_run`, so the change
history names the run. Event triggers are read from that same history (ChangeLog) after a stored
high-water mark: no hooks in other apps' services."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, Max, Min, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from customers.changes import Actor
from customers.models import ChangeLog, Customer, HealthProfile, Phase, Tag
from customers.services import customer_update, tags_get_or_create
from workspaces.models import Membership, Workspace

from .models import (
    EVENT_TRIGGER_FIELDS,
    TIME_TRIGGERS,
    TRIGGERS_WITH_DAYS,
    ActionKind,
    Playbook,
    PlaybookAction,
    PlaybookCondition,
    PlaybookEngineState,
    PlaybookRun,
    RunStatus,
    Task,
    Trigger,
)
from .rules import (
    ACTION_NEEDS,
    CONDITION_NEEDS,
    NUMBER_RANGES,
    TARGET_NOUNS,
    action_text,
    condition_q,
    condition_text,
    conditions_q,
)

logger = logging.getLogger(__name__)

MAX_ROWS = 10
MAX_DAYS = 3650
MAX_DUE_DAYS = 365
STATE_PK = 1
# A change is read once it is this old, so that a transaction still open when the pass starts (a sync
# page) has committed its rows before the mark moves past their ids.
SETTLE = dt.timedelta(minutes=2)
STALE_CLAIM = dt.timedelta(minutes=30)
EVENT_BATCH = 2000
EVENT_BATCHES_PER_PASS = 25
# A playbook never re-enters through a chain of runs it is already part of, and chains stop here.
MAX_CHAIN = 10


# ---- saving playbooks ---------------------------------------------------------------------------------


@dataclass
class ConditionSpec:
    kind: str
    phase: Phase | None = None
    profile: HealthProfile | None = None
    tag: Tag | None = None
    user: Any = None
    number: Decimal | None = None


@dataclass
class ActionSpec:
    kind: str
    phase: Phase | None = None
    profile: HealthProfile | None = None
    tag: Tag | None = None
    user: Any = None
    new_tag_name: str = ""
    assign_to_owner: bool = False
    task_title: str = ""
    due_in_days: int | None = None


def _is_member(workspace_id: int, user: Any) -> bool:
    return user is not None and Membership.objects.filter(workspace_id=workspace_id, user=user).exists()


def _check_target(workspace: Workspace, needs: str | None, spec: Any, where: str) -> list[str]:
    if needs not in TARGET_NOUNS:
        return []
    target = getattr(spec, needs)
    if target is None:
        return [f"{where}: choose a {TARGET_NOUNS[needs]}."]
    if needs == "user":
        return (
            []
            if _is_member(workspace.pk, target)
            else [f"{where}: {target} is not a member of this workspace."]
        )
    if target.workspace_id != workspace.pk:
        return [f"{where}: that {TARGET_NOUNS[needs]} belongs to another workspace."]
    return []


def _check_condition(workspace: Workspace, index: int, spec: ConditionSpec) -> list[str]:
    where = f"Condition {index}"
    if spec.kind not in CONDITION_NEEDS:
        return [f"{where}: unknown condition '{spec.kind}'."]
    needs = CONDITION_NEEDS[spec.kind]
    if needs == "number":
        if spec.number is None:
            return [f"{where}: enter a number."]
        low, high = NUMBER_RANGES[spec.kind]
        if spec.number < low or (high is not None and spec.number > high):
            bounds = f"from {low} to {high}" if high is not None else f"{low} or more"
            return [f"{where}: the number must be {bounds}."]
        return []
    return _check_target(workspace, needs, spec, where)


def _check_action(workspace: Workspace, index: int, spec: ActionSpec) -> list[str]:
    where = f"Action {index}"
    if spec.kind not in ACTION_NEEDS:
        return [f"{where}: unknown action '{spec.kind}'."]
    if spec.kind == ActionKind.CREATE_TASK:
        errors = []
        if not spec.task_title.strip():
            errors.append(f"{where}: a task needs a title.")
        if spec.due_in_days is not None and not 0 <= spec.due_in_days <= MAX_DUE_DAYS:
            errors.append(f"{where}: the task is due in 0 to {MAX_DUE_DAYS} days.")
        if not spec.assign_to_owner:
            errors += _check_target(workspace, "user", spec, where)
        return errors
    if spec.kind == ActionKind.ADD_TAG and spec.tag is None and spec.new_tag_name.strip():
        return (
            []
            if len(spec.new_tag_name.strip()) <= 60
            else [f"{where}: a tag name has 60 characters at most."]
        )
    return _check_target(workspace, ACTION_NEEDS[spec.kind], spec, where)


def _signature(playbook: Playbook) -> tuple:
    """What decides who enters a playbook: changing it on an enabled playbook asks for a new preview."""
    conditions = tuple(
        (c.kind, c.phase_id, c.profile_id, c.tag_id, c.user_id, c.number) for c in playbook.conditions.all()
    )
    return (playbook.trigger, playbook.trigger_days, playbook.trigger_score, conditions)


@dataclass
class SaveResult:
    playbook: Playbook
    disabled_for_review: bool = False


@transaction.atomic
def playbook_save(
    *,
    workspace: Workspace,
    user: Any,
    playbook: Playbook | None = None,
    name: str,
    description: str = "",
    trigger: str,
    trigger_days: int | None = None,
    trigger_score: int | None = None,
    conditions: Iterable[ConditionSpec] = (),
    actions: Iterable[ActionSpec] = (),
) -> SaveResult:
    """Create or replace a playbook. A new one starts disabled; an enabled one whose trigger or conditions
    change is disabled until its preview has been seen again (so an edit never pours customers in)."""
    conditions, actions = list(conditions), list(actions)
    errors: dict[str, list[str]] = defaultdict(list)
    name = name.strip()
    if not name:
        errors["name"].append("A playbook needs a name.")
    clash = Playbook.objects.filter(workspace=workspace, name__iexact=name)
    if playbook is not None:
        clash = clash.exclude(pk=playbook.pk)
    if name and clash.exists():
        errors["name"].append(f"Another playbook is already named '{name}'.")
    if trigger not in Trigger.values:
        errors["trigger"].append("Choose a trigger.")
    if trigger in TRIGGERS_WITH_DAYS:
        if trigger_days is None or not 1 <= trigger_days <= MAX_DAYS:
            errors["trigger_days"].append(f"This trigger needs a number of days from 1 to {MAX_DAYS}.")
    else:
        trigger_days = None
    if trigger == Trigger.HEALTH_BELOW:
        if trigger_score is None or not 2 <= trigger_score <= 10:
            errors["trigger_score"].append("Health scores go from 1 to 10: enter a threshold from 2 to 10.")
    else:
        trigger_score = None
    if len(conditions) > MAX_ROWS:
        errors["conditions"].append(f"{MAX_ROWS} conditions at most.")
    for index, spec in enumerate(conditions, start=1):
        errors["conditions"] += _check_condition(workspace, index, spec)
    if not actions:
        errors["actions"].append("A playbook needs at least one action.")
    if len(actions) > MAX_ROWS:
        errors["actions"].append(f"{MAX_ROWS} actions at most.")
    for index, action_spec in enumerate(actions, start=1):
        errors["actions"] += _check_action(workspace, index, action_spec)
    if playbook is not None and playbook.workspace_id != workspace.pk:
        raise ValidationError("This playbook belongs to another workspace.")
    errors = {key: value for key, value in errors.items() if value}
    if errors:
        raise ValidationError(errors)

    before = _signature(playbook) if playbook is not None else None
    if playbook is None:
        playbook = Playbook(workspace=workspace, created_by=user)
    playbook.name, playbook.description = name, description.strip()
    playbook.trigger, playbook.trigger_days, playbook.trigger_score = trigger, trigger_days, trigger_score
    playbook.updated_by = user
    playbook.save()
    playbook.conditions.all().delete()
    playbook.actions.all().delete()
    PlaybookCondition.objects.bulk_create(
        PlaybookCondition(
            playbook=playbook,
            position=index,
            kind=spec.kind,
            phase=spec.phase,
            profile=spec.profile,
            tag=spec.tag,
            user=spec.user,
            number=spec.number if CONDITION_NEEDS[spec.kind] == "number" else None,
        )
        for index, spec in enumerate(conditions)
    )
    rows = []
    for index, action in enumerate(actions):
        needs = ACTION_NEEDS[action.kind]
        is_task = action.kind == ActionKind.CREATE_TASK
        tag = action.tag
        if action.kind == ActionKind.ADD_TAG and tag is None:
            tag = tags_get_or_create(workspace=workspace, names=[action.new_tag_name])[0]
        rows.append(
            PlaybookAction(
                playbook=playbook,
                position=index,
                kind=action.kind,
                phase=action.phase if needs == "phase" else None,
                profile=action.profile if needs == "profile" else None,
                tag=tag if needs == "tag" else None,
                user=action.user if needs == "user" and not (is_task and action.assign_to_owner) else None,
                assign_to_owner=is_task and action.assign_to_owner,
                task_title=action.task_title.strip() if is_task else "",
                due_in_days=action.due_in_days if is_task else None,
            )
        )
    PlaybookAction.objects.bulk_create(rows)
    result = SaveResult(playbook=playbook)
    if playbook.enabled and before != _signature(playbook):
        playbook_set_enabled(playbook=playbook, enabled=False)
        result.disabled_for_review = True
    return result


def playbook_set_enabled(*, playbook: Playbook, enabled: bool, now: dt.datetime | None = None) -> Playbook:
    if enabled and not playbook.actions.exists():
        raise ValidationError("Add at least one action before enabling this playbook.")
    if playbook.enabled != enabled:
        playbook.enabled = enabled
        # Event triggers react to changes made from this moment on, never to the history before it.
        playbook.enabled_at = (now or timezone.now()) if enabled else None
        playbook.save(update_fields=["enabled", "enabled_at", "updated_at"])
    return playbook


def playbook_delete(*, playbook: Playbook) -> None:
    """Runs go with the playbook; the change history keeps naming them, tasks keep the playbook's name."""
    playbook.delete()


# ---- running a playbook on a customer -----------------------------------------------------------------


@dataclass
class Outcome:
    outcome: str  # done, unchanged, skipped, failed
    detail: str


def _display(obj: Any) -> str:
    if obj is None:
        return "(none)"
    if hasattr(obj, "get_full_name"):
        return obj.get_full_name() or obj.email
    return str(obj)


def _act_change_stage(
    run: PlaybookRun, action: PlaybookAction, customer: Customer, actor: Actor, today: dt.date
) -> Outcome:
    phase = action.phase
    if phase is None:
        return Outcome("skipped", "The stage of this action has been deleted.")
    if customer.phase_id == phase.pk:
        return Outcome("unchanged", f"Already in stage {phase}.")
    old = customer.phase
    customer_update(customer=customer, actor=actor, phase=phase)
    return Outcome("done", f"Stage {_display(old)} → {phase}.")


def _act_change_profile(
    run: PlaybookRun, action: PlaybookAction, customer: Customer, actor: Actor, today: dt.date
) -> Outcome:
    profile = action.profile
    if profile is None:
        return Outcome("skipped", "The health profile of this action has been deleted.")
    if customer.health_profile_id == profile.pk:
        return Outcome("unchanged", f"Health profile already {profile}.")
    old = customer.health_profile
    customer_update(customer=customer, actor=actor, health_profile=profile)
    return Outcome("done", f"Health profile {_display(old)} → {profile}.")


def _act_add_tag(
    run: PlaybookRun, action: PlaybookAction, customer: Customer, actor: Actor, today: dt.date
) -> Outcome:
    tag = action.tag
    if tag is None:
        return Outcome("skipped", "The tag of this action has been deleted.")
    tags = list(customer.tags.all())
    if any(existing.pk == tag.pk for existing in tags):
        return Outcome("unchanged", f"Already tagged {tag}.")
    customer_update(customer=customer, actor=actor, tags=[*tags, tag])
    return Outcome("done", f"Tag {tag} added.")


def _act_remove_tag(
    run: PlaybookRun, action: PlaybookAction, customer: Customer, actor: Actor, today: dt.date
) -> Outcome:
    tag = action.tag
    if tag is None:
        return Outcome("skipped", "The tag of this action has been deleted.")
    tags = list(customer.tags.all())
    if not any(existing.pk == tag.pk for existing in tags):
        return Outcome("unchanged", f"Not tagged {tag}.")
    customer_update(customer=customer, actor=actor, tags=[t for t in tags if t.pk != tag.pk])
    return Outcome("done", f"Tag {tag} removed.")


def _act_change_owner(
    run: PlaybookRun, action: PlaybookAction, customer: Customer, actor: Actor, today: dt.date
) -> Outcome:
    user = action.user
    if user is None:
        return Outcome("skipped", "The user of this action has been deleted.")
    if not _is_member(customer.workspace_id, user):
        return Outcome(
            "failed", f"{_display(user)} is no longer a member of this workspace; the owner was kept."
        )
    if customer.owner_id == user.pk:
        return Outcome("unchanged", f"{_display(user)} already owns this customer.")
    old = customer.owner
    customer_update(customer=customer, actor=actor, owner=user)
    return Outcome("done", f"Owner {_display(old)} → {_display(user)}.")


def _act_create_task(
    run: PlaybookRun, action: PlaybookAction, customer: Customer, actor: Actor, today: dt.date
) -> Outcome:
    assignee = customer.owner if action.assign_to_owner else action.user
    if assignee is None:
        why = "the customer has no owner" if action.assign_to_owner else "its user has been deleted"
        return Outcome("failed", f"No task created: {why}.")
    if not _is_member(customer.workspace_id, assignee):
        return Outcome("failed", f"No task created: {_display(assignee)} is not a member of this workspace.")
    due_on = None if action.due_in_days is None else today + dt.timedelta(days=action.due_in_days)
    task = Task.objects.create(
        workspace_id=customer.workspace_id,
        customer=customer,
        assignee=assignee,
        title=action.task_title,
        due_on=due_on,
        created_by_run=run,
        playbook_name=run.playbook.name,
    )
    due = f", due {due_on.isoformat()}" if due_on else ""
    return Outcome("done", f"Task “{task.title}” for {_display(assignee)}{due}.")


Handler = Callable[[PlaybookRun, PlaybookAction, Customer, Actor, dt.date], Outcome]

ACTION_HANDLERS: dict[str, Handler] = {
    ActionKind.CHANGE_STAGE: _act_change_stage,
    ActionKind.CHANGE_PROFILE: _act_change_profile,
    ActionKind.ADD_TAG: _act_add_tag,
    ActionKind.REMOVE_TAG: _act_remove_tag,
    ActionKind.CHANGE_OWNER: _act_change_owner,
    ActionKind.CREATE_TASK: _act_create_task,
}


def _execute(run: PlaybookRun, *, today: dt.date) -> PlaybookRun:
    playbook = run.playbook
    customer = Customer.objects.select_related("phase", "health_profile", "owner").get(pk=run.customer_id)
    actor = Actor.for_playbook_run(run.pk, playbook.name)
    results = []
    actions = playbook.actions.select_related("phase", "profile", "tag", "user")
    for action in actions:
        try:
            with transaction.atomic():
                outcome = ACTION_HANDLERS[action.kind](run, action, customer, actor, today)
        except ValidationError as error:
            outcome = Outcome("failed", " ".join(error.messages))
            customer.refresh_from_db()
        except Exception as error:  # one broken action must not lose the others nor the run's record
            logger.exception("Playbook run %s: action %s failed", run.pk, action.pk)
            outcome = Outcome("failed", f"Unexpected error ({type(error).__name__}); the team has been told.")
            customer.refresh_from_db()
        results.append({"action": action_text(action), "outcome": outcome.outcome, "detail": outcome.detail})
    failed = sum(1 for result in results if result["outcome"] == "failed")
    run.status = (
        RunStatus.DONE if not failed else RunStatus.FAILED if failed == len(results) else RunStatus.PARTIAL
    )
    run.results = results
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "results", "finished_at"])
    return run


def playbook_run_start(
    *,
    playbook: Playbook,
    customer_id: int,
    trigger_key: str,
    trigger_detail: str = "",
    triggered_by: Any = None,
    caused_by_id: int | None = None,
    today: dt.date | None = None,
) -> PlaybookRun | None:
    """Record a run and do its actions. None when this playbook already ran for this event on this
    customer (the unique key), so that a re-trigger never duplicates a run."""
    try:
        with transaction.atomic():
            run = PlaybookRun.objects.create(
                workspace_id=playbook.workspace_id,
                playbook=playbook,
                customer_id=customer_id,
                trigger_key=trigger_key[:120],
                trigger_detail=trigger_detail[:300],
                triggered_by=triggered_by,
                caused_by_id=caused_by_id,
                started_at=timezone.now(),
            )
    except IntegrityError:
        return None
    with transaction.atomic():
        return _execute(run, today=today or timezone.localdate())


def unmet_conditions(*, playbook: Playbook, customer: Customer, now: dt.datetime | None = None) -> list[str]:
    """The conditions this customer does not meet now, as sentences (empty: it may enter)."""
    now = now or timezone.now()
    unmet = []
    for condition in playbook.conditions.select_related(
        "phase", "profile", "tag", "user", "playbook__workspace"
    ):
        if not Customer.objects.filter(pk=customer.pk).filter(condition_q(condition, now)).exists():
            unmet.append(condition_text(condition))
    return unmet


@dataclass
class ManualRunResult:
    run: PlaybookRun
    created: bool


def playbook_run_manual(
    *, playbook: Playbook, customer: Customer, user: Any, token: str, now: dt.datetime | None = None
) -> ManualRunResult:
    """A user's "Run" click. `token` comes from the form, so a double submit runs the playbook once."""
    now = now or timezone.now()
    if playbook.workspace_id != customer.workspace_id:
        raise ValidationError("This playbook belongs to another workspace.")
    if not playbook.is_manual:
        raise ValidationError(f"“{playbook}” runs on its trigger ({playbook.trigger_text()}), not by hand.")
    if not playbook.enabled:
        raise ValidationError(f"“{playbook}” is disabled; a Manager or an Admin can enable it.")
    token = (token or "").strip()[:64]
    if not token:
        raise ValidationError("The form has expired; reload the page and run the playbook again.")
    unmet = unmet_conditions(playbook=playbook, customer=customer, now=now)
    if unmet:
        raise ValidationError(f"{customer} does not meet the conditions of “{playbook}”: {'; '.join(unmet)}.")
    key = f"manual:{token}"
    run = playbook_run_start(
        playbook=playbook,
        customer_id=customer.pk,
        trigger_key=key,
        trigger_detail=f"Run by hand by {_display(user)}",
        triggered_by=user,
        today=timezone.localdate(now),
    )
    if run is None:
        return ManualRunResult(
            PlaybookRun.objects.get(playbook=playbook, customer=customer, trigger_key=key), False
        )
    return ManualRunResult(run, True)


# ---- who would enter now -------------------------------------------------------------------------------


def last_phase_change_annotations() -> dict[str, Any]:
    """The customer's last stage change from the change history, else its creation: "in this stage since"."""
    changes = ChangeLog.objects.filter(
        customer=OuterRef("pk"), object_type="customer", field="phase"
    ).order_by("-created_at", "-id")
    return {
        "last_phase_change_id": Subquery(changes.values("id")[:1]),
        "stage_since": Coalesce(
            Subquery(changes.values("created_at")[:1]), "created_at", output_field=DateTimeField()
        ),
    }


@dataclass(frozen=True)
class Candidate:
    customer_id: int
    key: str
    detail: str


def _playbook_conditions(playbook: Playbook) -> list[PlaybookCondition]:
    return list(playbook.conditions.select_related("playbook__workspace"))


def time_candidates(*, playbook: Playbook, now: dt.datetime) -> list[Candidate]:
    """Customers a time-based playbook would run on now, each with the key of its event; customers the
    playbook already ran on for that same event are left out."""
    today = timezone.localdate(now)
    customers = Customer.objects.filter(workspace_id=playbook.workspace_id).filter(
        conditions_q(_playbook_conditions(playbook), now)
    )
    candidates: list[Candidate] = []
    if playbook.trigger == Trigger.STAGE_UNCHANGED:
        annotated: Any = customers.annotate(**last_phase_change_annotations())
        rows = annotated.filter(
            stage_since__lte=now - dt.timedelta(days=playbook.trigger_days or 0)
        ).values_list("pk", "last_phase_change_id", "stage_since")
        candidates = [
            Candidate(pk, f"stage-since:{change_id or 'created'}", f"Stage unchanged since {since:%Y-%m-%d}")
            for pk, change_id, since in rows
        ]
    elif playbook.trigger == Trigger.RENEWAL_IN:
        last_day = today + dt.timedelta(days=playbook.trigger_days or 0)
        rows = customers.filter(next_renewal_on__gte=today, next_renewal_on__lte=last_day).values_list(
            "pk", "next_renewal_on"
        )
        candidates = [Candidate(pk, f"renewal:{day}", f"Renewal on {day}") for pk, day in rows]
    elif playbook.trigger == Trigger.HEALTH_BELOW:
        year, week, _ = today.isocalendar()
        rows = customers.filter(health_score__lt=playbook.trigger_score or 0).values_list(
            "pk", "health_score"
        )
        candidates = [
            Candidate(
                pk,
                f"health-week:{year}-W{week:02d}",
                f"Health score {score} (below {playbook.trigger_score})",
            )
            for pk, score in rows
        ]
    if not candidates:
        return []
    done = set(
        PlaybookRun.objects.filter(
            playbook=playbook, trigger_key__in={c.key for c in candidates}
        ).values_list("customer_id", "trigger_key")
    )
    return [c for c in candidates if (c.customer_id, c.key) not in done]


# ---- beat passes ----------------------------------------------------------------------------------------


def _claim(field_name: str, now: dt.datetime) -> bool:
    PlaybookEngineState.objects.get_or_create(pk=STATE_PK)
    free = Q(**{f"{field_name}__isnull": True}) | Q(**{f"{field_name}__lt": now - STALE_CLAIM})
    return bool(PlaybookEngineState.objects.filter(free, pk=STATE_PK).update(**{field_name: now}))


@dataclass
class PassResult:
    changes_read: int = 0
    runs: int = 0
    already_ran: int = 0
    conditions_unmet: int = 0
    loops_prevented: int = 0
    playbooks: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "changes_read": self.changes_read,
            "runs": self.runs,
            "already_ran": self.already_ran,
            "conditions_unmet": self.conditions_unmet,
            "loops_prevented": self.loops_prevented,
            "playbooks": self.playbooks,
            "errors": self.errors[:20],
        }


def _chains(run_ids: Iterable[int]) -> dict[int, list[int]]:
    """For each run, the playbooks of the run and of the runs that caused it, newest first."""
    chains: dict[int, list[int]] = {}
    parents: dict[int, tuple[int, int | None]] = {}
    pending = set(run_ids)
    for _ in range(MAX_CHAIN + 1):
        pending -= set(parents)
        if not pending:
            break
        for pk, playbook_id, caused_by_id in PlaybookRun.objects.filter(pk__in=pending).values_list(
            "pk", "playbook_id", "caused_by_id"
        ):
            parents[pk] = (playbook_id, caused_by_id)
        pending = {caused for _, caused in parents.values() if caused is not None}
    for run_id in run_ids:
        chain: list[int] = []
        current: int | None = run_id
        while current is not None and current in parents and len(chain) <= MAX_CHAIN:
            playbook_id, current = parents[current]
            chain.append(playbook_id)
        chains[run_id] = chain
    return chains


def _event_detail(change: ChangeLog) -> str:
    by = change.actor_label or (_display(change.actor_user) if change.actor_user_id else "")
    by = f" by {by}" if by else ""
    if change.field == "created":
        return f"Customer created{by}"
    names = {"phase": "Stage", "owner": "Owner", "csm_pulse": "CSM Pulse"}
    return f"{names.get(change.field, change.field)} changed: {change.old_value or '(empty)'} → {change.new_value or '(empty)'}{by}"


def _source_run_id(change: ChangeLog) -> int | None:
    if change.actor_kind != ChangeLog.ActorKind.PLAYBOOK_RUN:
        return None
    try:
        return int(change.actor_ref)
    except (TypeError, ValueError):
        return None


def _process_change_batch(
    changes: list[ChangeLog], playbooks: list[Playbook], result: PassResult, today: dt.date, now: dt.datetime
) -> None:
    by_field: dict[tuple[int, str], list[Playbook]] = defaultdict(list)
    for playbook in playbooks:
        by_field[(playbook.workspace_id, EVENT_TRIGGER_FIELDS[playbook.trigger])].append(playbook)
    chains = _chains({run_id for c in changes if (run_id := _source_run_id(c)) is not None})
    pairs: list[tuple[Playbook, ChangeLog]] = []
    for change in changes:
        source_run = _source_run_id(change)
        chain = chains.get(source_run, []) if source_run is not None else []
        for playbook in by_field.get((change.workspace_id, change.field), []):
            if playbook.enabled_at is None or change.created_at < playbook.enabled_at:
                continue
            if playbook.pk in chain or len(chain) >= MAX_CHAIN:
                result.loops_prevented += 1
                continue
            pairs.append((playbook, change))
    if not pairs:
        return
    done = set(
        PlaybookRun.objects.filter(
            playbook_id__in={p.pk for p, _ in pairs}, trigger_key__in={f"change:{c.pk}" for _, c in pairs}
        ).values_list("playbook_id", "customer_id", "trigger_key")
    )
    customers_by_playbook: dict[int, set[int]] = defaultdict(set)
    for playbook, change in pairs:
        customers_by_playbook[playbook.pk].add(change.customer_id or 0)
    matching: dict[int, set[int]] = {}
    for playbook in {p.pk: p for p, _ in pairs}.values():
        matching[playbook.pk] = set(
            Customer.objects.filter(
                workspace_id=playbook.workspace_id, pk__in=customers_by_playbook[playbook.pk]
            )
            .filter(conditions_q(_playbook_conditions(playbook), now))
            .values_list("pk", flat=True)
        )
    for playbook, change in pairs:
        key = f"change:{change.pk}"
        if (playbook.pk, change.customer_id, key) in done:
            result.already_ran += 1
            continue
        if change.customer_id not in matching[playbook.pk]:
            result.conditions_unmet += 1
            continue
        _start_safely(
            result,
            playbook=playbook,
            customer_id=change.customer_id,
            trigger_key=key,
            trigger_detail=_event_detail(change),
            caused_by_id=_source_run_id(change),
            today=today,
        )


def _start_safely(result: PassResult, **kwargs: Any) -> None:
    try:
        run = playbook_run_start(**kwargs)
    except Exception as error:  # one bad customer must not stop the pass for everybody
        logger.exception("Playbook run failed to start: %s", kwargs)
        result.errors.append(f"{kwargs.get('playbook')} on customer {kwargs.get('customer_id')}: {error!r}")
        return
    if run is None:
        result.already_ran += 1
    else:
        result.runs += 1


def playbooks_process_events(*, now: dt.datetime | None = None) -> PassResult | None:
    """Beat, every few minutes: run event-triggered playbooks on the changes logged since the last pass.
    None when another pass holds the claim."""
    now = now or timezone.now()
    if not _claim("events_running_since", now):
        return None
    result = PassResult()
    try:
        state = PlaybookEngineState.objects.get(pk=STATE_PK)
        mark = state.last_change_id or 0
        cutoff = now - SETTLE
        playbooks = list(
            Playbook.objects.filter(
                enabled=True, trigger__in=list(EVENT_TRIGGER_FIELDS), enabled_at__isnull=False
            )
        )
        result.playbooks = len(playbooks)
        # Rows logged after the cutoff wait for the next pass; the mark never passes the first of them.
        first_unsettled = ChangeLog.objects.filter(pk__gt=mark, created_at__gt=cutoff).aggregate(
            first=Min("pk")
        )["first"]
        upper = ChangeLog.objects.filter(pk__gt=mark, created_at__lte=cutoff)
        if first_unsettled is not None:
            upper = upper.filter(pk__lt=first_unsettled)
        end = upper.aggregate(last=Max("pk"))["last"] or mark
        if playbooks and end > mark:
            since = min(playbook.enabled_at for playbook in playbooks if playbook.enabled_at)
            rows = ChangeLog.objects.filter(
                pk__gt=mark,
                pk__lte=end,
                created_at__gte=since,
                object_type="customer",
                customer__isnull=False,
                field__in=set(EVENT_TRIGGER_FIELDS.values()),
                workspace_id__in={playbook.workspace_id for playbook in playbooks},
            ).select_related("actor_user")
            today = timezone.localdate(now)
            for _ in range(EVENT_BATCHES_PER_PASS):
                batch = list(rows.filter(pk__gt=mark).order_by("pk")[:EVENT_BATCH])
                if not batch:
                    mark = end
                    break
                result.changes_read += len(batch)
                _process_change_batch(batch, playbooks, result, today, now)
                mark = batch[-1].pk
                PlaybookEngineState.objects.filter(pk=STATE_PK).update(last_change_id=mark)
        else:
            mark = end
        PlaybookEngineState.objects.filter(pk=STATE_PK).update(
            last_change_id=mark,
            events_running_since=None,
            events_finished_at=timezone.now(),
            events_last_result=result.as_dict(),
        )
    except Exception as error:
        PlaybookEngineState.objects.filter(pk=STATE_PK).update(
            events_running_since=None, last_error=repr(error)[:2000]
        )
        raise
    return result


def playbooks_run_daily(*, now: dt.datetime | None = None) -> PassResult | None:
    """Beat, daily: time-based triggers (stage unchanged for N days, renewal in N days, health below N).
    None when another pass holds the claim."""
    now = now or timezone.now()
    if not _claim("daily_running_since", now):
        return None
    result = PassResult()
    try:
        today = timezone.localdate(now)
        playbooks = list(
            Playbook.objects.filter(enabled=True, trigger__in=list(TIME_TRIGGERS)).order_by("pk")
        )
        result.playbooks = len(playbooks)
        for playbook in playbooks:
            for candidate in time_candidates(playbook=playbook, now=now):
                _start_safely(
                    result,
                    playbook=playbook,
                    customer_id=candidate.customer_id,
                    trigger_key=candidate.key,
                    trigger_detail=candidate.detail,
                    today=today,
                )
        PlaybookEngineState.objects.filter(pk=STATE_PK).update(
            daily_running_since=None, daily_finished_at=timezone.now(), daily_last_result=result.as_dict()
        )
    except Exception as error:
        PlaybookEngineState.objects.filter(pk=STATE_PK).update(
            daily_running_since=None, last_error=repr(error)[:2000]
        )
        raise
    return result


# ---- tasks ----------------------------------------------------------------------------------------------


def task_create(
    *, customer: Customer, user: Any, title: str, assignee: Any = None, due_on: dt.date | None = None
) -> Task:
    title = title.strip()
    if not title:
        raise ValidationError({"title": "A task needs a title."})
    assignee = assignee or user
    if not _is_member(customer.workspace_id, assignee):
        raise ValidationError({"assignee": f"{_display(assignee)} is not a member of this workspace."})
    return Task.objects.create(
        workspace_id=customer.workspace_id,
        customer=customer,
        assignee=assignee,
        title=title[:200],
        due_on=due_on,
        created_by=user,
    )


def task_complete(*, task: Task, user: Any, now: dt.datetime | None = None) -> Task:
    if task.done_at is None:
        task.done_at, task.done_by = now or timezone.now(), user
        task.save(update_fields=["done_at", "done_by"])
    return task


def task_reopen(*, task: Task) -> Task:
    if task.done_at is not None:
        task.done_at, task.done_by = None, None
        task.save(update_fields=["done_at", "done_by"])
    return task
