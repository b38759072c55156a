"""Writes of the health-score app: weights, the weekly computation, the Pulse history, usage credentials,
event ingestion and aggregation."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from agreements.models import MANUAL_STATUSES, Agreement
from customers.models import CHURN_PHASE, Contact, Customer, HealthProfile
from interactions.models import Interaction
from interactions.services import counts_as_contact

from .models import (
    DEFAULT_WEIGHTS,
    FACTORS,
    HealthRun,
    HealthScore,
    HealthWeights,
    PulseEntry,
    UsageCredential,
    UsageDaily,
    UsageEvent,
)
from .scoring import MIN_PEERS, combine, median, place_among, rounded_score, tenths

USAGE_WINDOW_DAYS = 30
INTERACTION_WINDOW_DAYS = 90
AGREEMENT_WINDOW_DAYS = 90
PULSE_MAX_AGE_DAYS = 90
PENDING_EVENT_RETENTION_DAYS = 90
RAW_EVENT_RETENTION_DAYS = 400
MAX_EVENT_AGE_DAYS = 365
STALE_RUN = dt.timedelta(hours=2)
WRITE_BATCH = 2000
UPDATE_BATCH = 5000


# ---- weights -------------------------------------------------------------------------------------------


def weights_validate(values: dict[str, int]) -> dict[str, int]:
    errors = {f: "A weight is a whole number from 0 to 100." for f in FACTORS if not 0 <= values[f] <= 100}
    if errors:
        raise ValidationError(errors)
    total = sum(values[f] for f in FACTORS)
    if total != 100:
        raise ValidationError(
            f"The four weights are percentages: they must add up to 100 (they add up to {total})."
        )
    return {f: values[f] for f in FACTORS}


def weights_set(*, workspace_id: int, profile: HealthProfile | None, values: dict[str, int]) -> HealthWeights:
    values = weights_validate(values)
    if profile is not None and profile.workspace_id != workspace_id:
        raise ValidationError("This profile belongs to another workspace.")
    row = HealthWeights.objects.filter(workspace_id=workspace_id, profile=profile).first()
    if row is None:
        row = HealthWeights(workspace_id=workspace_id, profile=profile)
    for factor, value in values.items():
        setattr(row, factor, value)
    row.save()
    return row


def weights_reset(*, workspace_id: int, profile: HealthProfile) -> None:
    """The profile goes back to the workspace's default weighting."""
    HealthWeights.objects.filter(workspace_id=workspace_id, profile=profile).delete()


def weights_default(*, workspace_id: int) -> dict[str, int]:
    row = HealthWeights.objects.filter(workspace_id=workspace_id, profile__isnull=True).first()
    return row.as_dict() if row else dict(DEFAULT_WEIGHTS)


@transaction.atomic
def profile_create(*, workspace_id: int, name: str, values: dict[str, int] | None = None) -> HealthProfile:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A profile needs a name."})
    if HealthProfile.objects.filter(workspace_id=workspace_id, name__iexact=name).exists():
        raise ValidationError({"name": f"A profile named '{name}' already exists."})
    profile = HealthProfile.objects.create(workspace_id=workspace_id, name=name)
    if values is not None:
        weights_set(workspace_id=workspace_id, profile=profile, values=values)
    return profile


def profile_rename(*, profile: HealthProfile, name: str) -> HealthProfile:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A profile needs a name."})
    clash = HealthProfile.objects.filter(workspace_id=profile.workspace_id, name__iexact=name).exclude(
        pk=profile.pk
    )
    if clash.exists():
        raise ValidationError({"name": f"A profile named '{name}' already exists."})
    profile.name = name
    profile.save(update_fields=["name"])
    return profile


def profile_delete(*, profile: HealthProfile) -> None:
    # Moving customers out of a profile is a change their history must show: done customer by customer
    # (their page, a playbook, the CRM mapping), not silently here.
    count = profile.customers.count()
    if count:
        raise ValidationError(
            f"{count} customer{'s are' if count > 1 else ' is'} in this profile; move them first."
        )
    profile.delete()


# ---- the computation ----------------------------------------------------------------------------------


def week_of(moment: dt.datetime) -> dt.date:
    day = timezone.localtime(moment, dt.UTC).date()
    return day - dt.timedelta(days=day.weekday())


@dataclass
class _Inputs:
    """Every input of every customer, read in a handful of set-based queries."""

    customers: list[tuple[int, int | None, int | None]]  # id, profile id, current health_score
    profiles: dict[int, str]
    weights: dict[int | None, dict[str, int]]
    weights_source: dict[int | None, str]
    usage: dict[int, tuple[int, int]]
    interactions: dict[int, int]
    pulse: dict[int, tuple[int, dt.datetime]]
    agreements: dict[int, tuple[Decimal, Decimal]]
    previous: dict[int, Decimal | None]


def _read_inputs(workspace_id: int, as_of: dt.datetime, week: dt.date) -> _Inputs:
    day = timezone.localtime(as_of, dt.UTC).date()
    customers_qs = Customer.objects.filter(workspace_id=workspace_id).exclude(
        phase__technical_name=CHURN_PHASE
    )
    rows = list(
        customers_qs.values_list("pk", "health_profile_id", "health_score", "csm_pulse", "csm_pulse_at")
    )
    customers: list[tuple[int, int | None, int | None]] = [
        (pk, profile_id, score) for pk, profile_id, score, _pulse, _at in rows
    ]

    profiles = dict(HealthProfile.objects.filter(workspace_id=workspace_id).values_list("pk", "name"))
    weights: dict[int | None, dict[str, int]] = {None: dict(DEFAULT_WEIGHTS)}
    source: dict[int | None, str] = {None: "the built-in default (25% each)"}
    for row in HealthWeights.objects.filter(workspace_id=workspace_id):
        weights[row.profile_id] = row.as_dict()
        source[row.profile_id] = (
            "the workspace's default weighting"
            if row.profile_id is None
            else f"profile '{profiles.get(row.profile_id, '?')}'"
        )

    usage_since = day - dt.timedelta(days=USAGE_WINDOW_DAYS - 1)
    usage = {
        customer_id: (recent or 0, peak or 0)
        for customer_id, recent, peak in UsageDaily.objects.filter(workspace_id=workspace_id, day__lte=day)
        .values("customer_id")
        .annotate(
            recent=Sum("events", filter=Q(day__gte=usage_since)),
            peak=Max("users", filter=Q(day__gte=usage_since)),
        )
        .values_list("customer_id", "recent", "peak")
    }

    interactions = dict(
        Interaction.objects.filter(workspace_id=workspace_id, occurred_at__lte=as_of)
        .values("customer_id")
        .annotate(
            recent=Count(
                "pk",
                filter=counts_as_contact()
                & Q(occurred_at__gt=as_of - dt.timedelta(days=INTERACTION_WINDOW_DAYS)),
            )
        )
        .values_list("customer_id", "recent")
    )

    # The latest pulse at `as_of`: from the history, or the customer row (a pulse set before the history
    # existed, or written by a sync), whichever is newer.
    pulse: dict[int, tuple[int, dt.datetime]] = {}
    for customer_id, value, set_at in (
        PulseEntry.objects.filter(workspace_id=workspace_id, set_at__lte=as_of)
        .order_by("customer_id", "set_at", "pk")
        .values_list("customer_id", "pulse", "set_at")
        .iterator(chunk_size=20000)
    ):
        pulse[customer_id] = (value, set_at)
    for pk, _profile, _score, row_value, row_set_at in rows:
        if (
            row_value
            and row_set_at
            and row_set_at <= as_of
            and (pk not in pulse or pulse[pk][1] < row_set_at)
        ):
            pulse[pk] = (row_value, row_set_at)

    before = day - dt.timedelta(days=AGREEMENT_WINDOW_DAYS)
    counted = ~Q(status__in=MANUAL_STATUSES)
    agreements = {
        customer_id: (now or Decimal(0), then or Decimal(0))
        for customer_id, now, then in Agreement.objects.filter(workspace_id=workspace_id, start_date__lte=day)
        .values("customer_id")
        .annotate(
            now=Sum("mrr", filter=counted & Q(ends_on__gt=day)),
            then=Sum("mrr", filter=counted & Q(start_date__lte=before, ends_on__gt=before)),
        )
        .values_list("customer_id", "now", "then")
    }

    previous = dict(
        HealthScore.objects.filter(workspace_id=workspace_id, week=week - dt.timedelta(days=7)).values_list(
            "customer_id", "overall"
        )
    )
    return _Inputs(customers, profiles, weights, source, usage, interactions, pulse, agreements, previous)


def _raw_inputs(inputs: _Inputs, as_of: dt.datetime) -> dict[str, dict[int, tuple[Any, dict[str, Any]]]]:
    """Per factor: customer id -> (the raw figure compared, details for the ledger), or a missing reason."""
    raw: dict[str, dict[int, tuple[Any, dict[str, Any]]]] = {f: {} for f in FACTORS}
    for pk, _profile, _score in inputs.customers:
        if pk in inputs.usage:
            events, peak = inputs.usage[pk]
            raw["usage"][pk] = (events, {"events": events, "days": USAGE_WINDOW_DAYS, "peak_users": peak})
        if pk in inputs.interactions:
            count = inputs.interactions[pk]
            raw["interactions"][pk] = (count, {"count": count, "days": INTERACTION_WINDOW_DAYS})
        if pk in inputs.pulse:
            value, set_at = inputs.pulse[pk]
            age = (as_of - set_at).days
            if age <= PULSE_MAX_AGE_DAYS:
                raw["pulse"][pk] = (value, {"pulse": value, "set_at": set_at.isoformat(), "age_days": age})
        if pk in inputs.agreements:
            now, then = inputs.agreements[pk]
            if then > 0:
                change = tenths((now - then) * 100 / then)
            else:
                change = Decimal(100) if now > 0 else Decimal(-100)
            raw["agreement"][pk] = (
                change,
                {
                    "mrr_now": str(now),
                    "mrr_before": str(then),
                    "change_pct": str(change),
                    "days": AGREEMENT_WINDOW_DAYS,
                },
            )
    return raw


def _missing_reason(factor: str, pk: int, inputs: _Inputs, as_of: dt.datetime) -> str:
    if factor == "usage":
        return "no usage event received for this customer yet"
    if factor == "interactions":
        return "no interaction recorded yet"
    if factor == "pulse":
        if pk in inputs.pulse:
            return f"the last CSM Pulse is {(as_of - inputs.pulse[pk][1]).days} days old (over {PULSE_MAX_AGE_DAYS})"
        return "no CSM Pulse given"
    return "no agreement started yet"


@dataclass
class ComputeResult:
    week: dt.date
    customers: int = 0
    changed: dict[int, tuple[int | None, int | None]] = dataclass_field(default_factory=dict)


def health_compute(*, workspace_id: int, as_of: dt.datetime | None = None) -> ComputeResult:
    """Score every customer of the workspace (churned ones excepted) for the week of `as_of`.

    Set-based: a fixed number of reads whatever the number of customers, then batched writes. Running it
    again with the same `as_of` (stored in each ledger) reproduces the stored week."""
    as_of = as_of or timezone.now()
    week = week_of(as_of)
    inputs = _read_inputs(workspace_id, as_of, week)
    raw = _raw_inputs(inputs, as_of)

    # Peer groups: per factor, the sorted figures of the whole workspace and of each profile.
    workspace_values = {f: sorted(value for value, _ in raw[f].values()) for f in FACTORS}
    profile_of = {pk: profile for pk, profile, _ in inputs.customers}
    profile_values: dict[str, dict[int | None, list[Any]]] = {f: defaultdict(list) for f in FACTORS}
    for factor in FACTORS:
        for pk, (value, _) in raw[factor].items():
            profile_values[factor][profile_of[pk]].append(value)
        for values in profile_values[factor].values():
            values.sort()
    medians = {
        (f, scope): median(values)
        for f in FACTORS
        for scope, values in [("workspace", workspace_values[f]), *profile_values[f].items()]
    }

    now = timezone.now()
    result = ComputeResult(week=week, customers=len(inputs.customers))
    rows: list[HealthScore] = []
    for pk, profile_id, old_score in inputs.customers:
        weights_key = profile_id if profile_id in inputs.weights else None
        weights = inputs.weights[weights_key]
        factors: dict[str, dict[str, Any]] = {}
        sub_scores: dict[str, Decimal | None] = {}
        for factor in FACTORS:
            entry: dict[str, Any] = {"weight": weights[factor]}
            if pk not in raw[factor]:
                entry.update(
                    status="missing", reason=_missing_reason(factor, pk, inputs, as_of), sub_score=None
                )
                sub_scores[factor] = None
                factors[factor] = entry
                continue
            value, details = raw[factor][pk]
            own = profile_values[factor].get(profile_id) if profile_id is not None else None
            if own is not None and len(own) - 1 >= MIN_PEERS:
                scope, values = "profile", own
            else:
                scope, values = "workspace", workspace_values[factor]
            place = place_among(value, values)
            entry.update(raw=str(value), details=details)
            if place.size == 0:
                entry.update(
                    status="missing",
                    reason="no other customer has this input to compare with",
                    sub_score=None,
                )
                sub_scores[factor] = None
            else:
                sub = place.sub_score
                entry.update(
                    status="counted" if weights[factor] else "unweighted",
                    sub_score=str(sub),
                    peers={
                        "scope": scope,
                        "size": place.size,
                        "below": place.below,
                        "equal": place.equal,
                        "median": str(medians[(factor, profile_id if scope == "profile" else "workspace")]),
                        "profile_too_small": scope == "workspace" and profile_id is not None,
                    },
                )
                sub_scores[factor] = sub
            factors[factor] = entry
        combined = combine(sub_scores, weights)
        for factor in FACTORS:
            factors[factor]["effective_weight"] = str(combined.effective.get(factor, Decimal(0)))
            factors[factor]["contribution"] = str(combined.contributions.get(factor, Decimal(0)))
        previous = inputs.previous.get(pk)
        ledger = {
            "version": 1,
            "as_of": as_of.isoformat(),
            "profile": {"id": profile_id, "name": inputs.profiles.get(profile_id)} if profile_id else None,
            "weights_source": inputs.weights_source[weights_key],
            "factors": factors,
            "shared": combined.shared,
            "exact": str(combined.exact) if combined.exact is not None else None,
            "overall": str(combined.overall) if combined.overall is not None else None,
        }
        rows.append(
            HealthScore(
                workspace_id=workspace_id,
                customer_id=pk,
                week=week,
                overall=combined.overall,
                usage=sub_scores["usage"],
                interactions=sub_scores["interactions"],
                pulse=sub_scores["pulse"],
                agreement=sub_scores["agreement"],
                previous_overall=previous,
                dropping=previous is not None
                and combined.overall is not None
                and combined.overall < previous,
                ledger=ledger,
                computed_at=now,
            )
        )
        new_score = rounded_score(combined.overall)
        if new_score != old_score:
            result.changed[pk] = (old_score, new_score)

    with transaction.atomic():
        for start in range(0, len(rows), WRITE_BATCH):
            HealthScore.objects.bulk_create(
                rows[start : start + WRITE_BATCH],
                update_conflicts=True,
                unique_fields=["customer", "week"],
                update_fields=[
                    "overall",
                    "usage",
                    "interactions",
                    "pulse",
                    "agreement",
                    "previous_overall",
                    "dropping",
                    "ledger",
                    "computed_at",
                ],
            )
        # One UPDATE per score value (at most 11) rather than one per customer.
        by_score: dict[int | None, list[int]] = defaultdict(list)
        for pk, (_old, new) in result.changed.items():
            by_score[new].append(pk)
        for score, ids in by_score.items():
            for start in range(0, len(ids), UPDATE_BATCH):
                Customer.objects.filter(pk__in=ids[start : start + UPDATE_BATCH]).update(health_score=score)
        if result.changed:
            _push_changed_on_commit(workspace_id, list(result.changed))
    return result


def _push_changed_on_commit(workspace_id: int, customer_ids: list[int]) -> None:
    from integrations.models import Connection
    from integrations.tasks import push_customer_scores

    # The push task finds nothing to do without an active connection: do not enqueue thousands for nothing.
    if not Connection.objects.filter(workspace_id=workspace_id, status=Connection.Status.ACTIVE).exists():
        return

    def enqueue() -> None:
        for customer_id in customer_ids:
            push_customer_scores.delay(customer_id)

    transaction.on_commit(enqueue)


# ---- runs (weekly and on demand) ------------------------------------------------------------------------


class RunAlreadyGoing(Exception):
    def __init__(self, run: HealthRun) -> None:
        super().__init__(f"A computation started at {run.started_at:%H:%M} is still running.")
        self.run = run


def health_run_claim(*, workspace_id: int, trigger: str, user: Any = None) -> HealthRun:
    """One running computation per workspace (a unique 'running' row); a run stuck for hours is failed."""
    HealthRun.objects.filter(
        workspace_id=workspace_id, status=HealthRun.Status.RUNNING, started_at__lt=timezone.now() - STALE_RUN
    ).update(status=HealthRun.Status.FAILED, error="Stopped without finishing.", finished_at=timezone.now())
    try:
        with transaction.atomic():
            return HealthRun.objects.create(workspace_id=workspace_id, trigger=trigger, requested_by=user)
    except IntegrityError:
        running = HealthRun.objects.filter(workspace_id=workspace_id, status=HealthRun.Status.RUNNING).first()
        if running is None:  # finished in between: try once more
            return HealthRun.objects.create(workspace_id=workspace_id, trigger=trigger, requested_by=user)
        raise RunAlreadyGoing(running) from None


def health_run_execute(*, run_id: int) -> HealthRun:
    run = HealthRun.objects.get(pk=run_id)
    if run.status != HealthRun.Status.RUNNING:
        return run
    before = len(connection.queries) if connection.queries_log is not None else 0
    try:
        result = health_compute(workspace_id=run.workspace_id)
    except Exception as error:
        HealthRun.objects.filter(pk=run.pk).update(
            status=HealthRun.Status.FAILED, error=str(error)[:2000], finished_at=timezone.now()
        )
        raise
    run.status = HealthRun.Status.DONE
    run.week = result.week
    run.customers = result.customers
    run.changed = len(result.changed)
    run.queries = max(len(connection.queries) - before, 0) if connection.queries_log is not None else 0
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "week", "customers", "changed", "queries", "finished_at"])
    return run


# ---- CSM Pulse history --------------------------------------------------------------------------------


def pulse_entry_record(
    *, customer: Customer, pulse: int, note: str, set_at: dt.datetime, user: Any, label: str
) -> PulseEntry:
    return PulseEntry.objects.create(
        workspace_id=customer.workspace_id,
        customer=customer,
        pulse=pulse,
        note=note,
        set_at=set_at,
        set_by=user,
        set_by_label=label,
    )


# ---- usage credentials --------------------------------------------------------------------------------

TOKEN_PREFIX = "sku_"


def token_hash(token: str) -> str:
    # Tokens are 256 random bits: a plain SHA-256 is enough (no dictionary to guard against).
    return hashlib.sha256(token.encode()).hexdigest()


def usage_credential_create(*, workspace_id: int, name: str, user: Any) -> tuple[UsageCredential, str]:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the credential a name (e.g. the product sending the events)."})
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    credential = UsageCredential.objects.create(
        workspace_id=workspace_id,
        name=name,
        prefix=token[: len(TOKEN_PREFIX) + 6],
        token_hash=token_hash(token),
        created_by=user,
    )
    return credential, token


def usage_credential_revoke(*, credential: UsageCredential) -> None:
    if credential.revoked_at is None:
        credential.revoked_at = timezone.now()
        credential.save(update_fields=["revoked_at"])


def usage_credential_for_token(token: str) -> UsageCredential | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    return UsageCredential.objects.filter(token_hash=token_hash(token), revoked_at__isnull=True).first()


# ---- usage events -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedEvent:
    event_id: str
    name: str
    occurred_at: dt.datetime
    email: str
    customer_ref: str


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    pending: int = 0


def _resolve(
    workspace_id: int, emails: Iterable[str], refs: Iterable[str]
) -> tuple[dict[str, tuple[int, int]], dict[str, int]]:
    """Email -> (contact id, customer id), primary emails first then secondary ones; Customer ID -> id."""
    emails, refs = set(emails) - {""}, set(refs) - {""}
    by_email: dict[str, tuple[int, int]] = {}
    if emails:
        for email, contact_id, customer_id in Contact.objects.filter(
            workspace_id=workspace_id, email__in=emails
        ).values_list("email", "pk", "customer_id"):
            by_email[email] = (contact_id, customer_id)
        left = emails - set(by_email)
        if left:
            for contact_id, customer_id, others in (
                Contact.objects.filter(workspace_id=workspace_id)
                .exclude(secondary_emails=[])
                .values_list("pk", "customer_id", "secondary_emails")
                .iterator(chunk_size=5000)
            ):
                for other in others or []:
                    key = str(other).strip().lower()
                    if key in left and key not in by_email:
                        by_email[key] = (contact_id, customer_id)
    by_ref: dict[str, int] = {}
    if refs:
        by_ref = dict(
            Customer.objects.filter(workspace_id=workspace_id, ref_id__in=refs).values_list("ref_id", "pk")
        )
    return by_email, by_ref


def _identity(
    event_email: str, event_ref: str, by_email: dict, by_ref: dict
) -> tuple[int | None, int | None]:
    customer_id = by_ref.get(event_ref) if event_ref else None
    contact_id = None
    if event_email and event_email in by_email:
        contact_id, contact_customer = by_email[event_email]
        if customer_id is None:
            customer_id = contact_customer
        elif contact_customer != customer_id:
            contact_id = None
    return customer_id, contact_id


@transaction.atomic
def usage_events_ingest(*, credential: UsageCredential, events: list[ParsedEvent]) -> IngestResult:
    workspace_id = credential.workspace_id
    result = IngestResult()
    existing = set(
        UsageEvent.objects.filter(
            workspace_id=workspace_id, event_id__in=[e.event_id for e in events]
        ).values_list("event_id", flat=True)
    )
    fresh = [e for e in events if e.event_id not in existing]
    result.duplicates = len(events) - len(fresh)
    by_email, by_ref = _resolve(workspace_id, (e.email for e in fresh), (e.customer_ref for e in fresh))
    now = timezone.now()
    rows = []
    for event in fresh:
        customer_id, contact_id = _identity(event.email, event.customer_ref, by_email, by_ref)
        if customer_id is None:
            result.pending += 1
        rows.append(
            UsageEvent(
                workspace_id=workspace_id,
                event_id=event.event_id,
                name=event.name,
                occurred_at=event.occurred_at,
                email=event.email,
                customer_ref=event.customer_ref,
                customer_id=customer_id,
                contact_id=contact_id,
                credential=credential,
                received_at=now,
            )
        )
    # A concurrent request with the same ids loses nothing: the unique constraint keeps one copy.
    UsageEvent.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    result.accepted = len(rows)
    UsageCredential.objects.filter(pk=credential.pk).update(last_used_at=now)
    return result


@dataclass
class AggregateResult:
    attached: int = 0
    purged_pending: int = 0
    aggregated: int = 0
    days: int = 0
    purged_old: int = 0


def usage_events_attach_pending() -> int:
    """Events whose contact or customer has appeared since they came are attached to it."""
    pending = (
        UsageEvent.objects.filter(customer__isnull=True)
        .order_by()
        .values_list("workspace_id", "email", "customer_ref")
        .distinct()
    )
    wanted: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for workspace_id, email, ref in pending.iterator(chunk_size=5000):
        wanted[workspace_id].append((email, ref))
    attached = 0
    for workspace_id, pairs in wanted.items():
        by_email, by_ref = _resolve(workspace_id, (e for e, _ in pairs), (r for _, r in pairs))
        if not by_email and not by_ref:
            continue
        groups: dict[tuple[int, int | None], list[tuple[str, str]]] = defaultdict(list)
        for email, ref in pairs:
            customer_id, contact_id = _identity(email, ref, by_email, by_ref)
            if customer_id is not None:
                groups[(customer_id, contact_id)].append((email, ref))
        for (customer_id, contact_id), matched in groups.items():
            for start in range(0, len(matched), 200):
                match = Q()
                for email, ref in matched[start : start + 200]:
                    match |= Q(email=email, customer_ref=ref)
                attached += UsageEvent.objects.filter(
                    match, workspace_id=workspace_id, customer__isnull=True
                ).update(customer_id=customer_id, contact_id=contact_id)
    return attached


def usage_events_aggregate(*, now: dt.datetime | None = None, batch: int = 50000) -> AggregateResult:
    """Every 30 minutes: attach pending events, drop expired ones, recount the days that got new events."""
    now = now or timezone.now()
    result = AggregateResult()
    result.attached = usage_events_attach_pending()
    result.purged_pending, _ = UsageEvent.objects.filter(
        customer__isnull=True, received_at__lt=now - dt.timedelta(days=PENDING_EVENT_RETENTION_DAYS)
    ).delete()
    while True:
        fresh = list(
            UsageEvent.objects.filter(customer__isnull=False, aggregated_at__isnull=True)
            .annotate(day=TruncDate("occurred_at", tzinfo=dt.UTC))
            .values_list("pk", "workspace_id", "customer_id", "day")[:batch]
        )
        if not fresh:
            break
        touched = {(customer_id, day): workspace_id for _pk, workspace_id, customer_id, day in fresh}
        customers = {customer_id for customer_id, _ in touched}
        days = {day for _, day in touched}
        # A full recount of each touched day (not an increment): running twice never counts twice.
        counts = (
            UsageEvent.objects.filter(customer_id__in=customers)
            .annotate(day=TruncDate("occurred_at", tzinfo=dt.UTC))
            .filter(day__in=days)
            .order_by()
            .values("customer_id", "day")
            .annotate(events=Count("pk"), users=Count("email", distinct=True, filter=~Q(email="")))
            .values_list("customer_id", "day", "events", "users")
        )
        rows = [
            UsageDaily(workspace_id=touched[(c, d)], customer_id=c, day=d, events=n, users=u)
            for c, d, n, u in counts
            if (c, d) in touched
        ]
        with transaction.atomic():
            UsageDaily.objects.bulk_create(
                rows,
                batch_size=2000,
                update_conflicts=True,
                unique_fields=["customer", "day"],
                update_fields=["events", "users"],
            )
            ids = [pk for pk, *_ in fresh]
            for start in range(0, len(ids), UPDATE_BATCH):
                UsageEvent.objects.filter(pk__in=ids[start : start + UPDATE_BATCH]).update(aggregated_at=now)
        result.aggregated += len(fresh)
        result.days += len(rows)
        if len(fresh) < batch:
            break
    result.purged_old, _ = UsageEvent.objects.filter(
        customer__isnull=False, occurred_at__lt=now - dt.timedelta(days=RAW_EVENT_RETENTION_DAYS)
    ).delete()
    return result
