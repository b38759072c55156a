"""Computing the daily snapshot of a workspace, and reading it back as the report's figures."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Min, Sum
from django.utils import timezone

from agreements.models import MANUAL_STATUSES, Agreement
from agreements.services import counted_in_mrr
from customers.models import CHURN_PHASE, Customer
from healthscore.models import AT_RISK_SCORE, HealthScore
from healthscore.selectors import latest_week
from workspaces.models import Workspace

from . import figures
from .models import CustomerFigures, ReportSnapshot

KEEP_SNAPSHOTS = 7
RENEWAL_WINDOWS = (30, 60, 90)
PULSE_FRESH = dt.timedelta(days=90)
SHOWN_MONTHS = 12


def _cents(amount: Decimal | None) -> int:
    return int((amount or Decimal("0")) * 100)


@transaction.atomic
def report_snapshot_compute(*, workspace_id: int, now: dt.datetime | None = None) -> ReportSnapshot:
    """The day's snapshot of a workspace (replacing one computed earlier the same day)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    workspace = Workspace.objects.get(pk=workspace_id)
    points = figures.snapshot_points(today)
    agreements = Agreement.objects.filter(workspace_id=workspace_id)
    # One grouped SUM per point, through the same filter as the customers' active MRR.
    mrr_at: list[dict[int, int]] = []
    for point in points:
        totals = agreements.filter(counted_in_mrr(point)).values("customer_id").annotate(total=Sum("mrr"))
        mrr_at.append({row["customer_id"]: _cents(row["total"]) for row in totals})
    first_starts = dict(
        agreements.exclude(status__in=MANUAL_STATUSES)
        .values("customer_id")
        .annotate(first=Min("start_date"))
        .values_list("customer_id", "first")
    )
    renewals: dict[int, list[list[Any]]] = defaultdict(list)
    for customer_id, renews_on, mrr in (
        agreements.exclude(status__in=MANUAL_STATUSES)
        .filter(renews_on__gte=today, renews_on__lte=today + dt.timedelta(days=max(RENEWAL_WINDOWS)))
        .values_list("customer_id", "renews_on", "mrr")
    ):
        renewals[customer_id].append([renews_on.isoformat(), _cents(mrr)])
    tags: dict[int, list[int]] = defaultdict(list)
    for customer_id, tag_id in Customer.tags.through.objects.filter(
        customer__workspace_id=workspace_id
    ).values_list("customer_id", "tag_id"):
        tags[customer_id].append(tag_id)
    # "Dropping" is the weekly computation's own verdict (overall score below the week before's), read
    # from the latest week as the customer list reads it.
    health_week = latest_week(workspace_id)
    drops: dict[int, tuple[Decimal | None, Decimal | None]] = {}
    if health_week is not None:
        drops = {
            customer_id: (previous, overall)
            for customer_id, previous, overall in HealthScore.objects.filter(
                workspace_id=workspace_id, week=health_week, dropping=True
            ).values_list("customer_id", "previous_overall", "overall")
        }

    ReportSnapshot.objects.filter(workspace_id=workspace_id, day=today).delete()
    snapshot = ReportSnapshot.objects.create(
        workspace_id=workspace_id,
        day=today,
        computed_at=now,
        currency=workspace.currency,
        points=[point.isoformat() for point in points],
        health_week=health_week,
    )
    customers = Customer.objects.filter(workspace_id=workspace_id).values_list(
        "pk",
        "name",
        "owner_id",
        "phase_id",
        "phase__technical_name",
        "health_profile_id",
        "health_score",
        "csm_pulse_at",
    )
    rows = [
        CustomerFigures(
            snapshot=snapshot,
            customer_id=pk,
            name=name,
            owner_id=owner_id,
            phase_id=phase_id,
            profile_id=profile_id,
            tag_ids="".join(f",{tag}" for tag in sorted(tags[pk])) + "," if tags[pk] else "",
            churned=phase_name == CHURN_PHASE,
            mrr_cents=[mrr_at[i].get(pk, 0) for i in range(len(points))],
            first_start=first_starts.get(pk),
            health_score=health_score,
            pulse_at=pulse_at,
            renewals=sorted(renewals[pk]),
            dropped_from=drops[pk][0] if pk in drops else None,
            dropped_to=drops[pk][1] if pk in drops else None,
        )
        for pk, name, owner_id, phase_id, phase_name, profile_id, health_score, pulse_at in customers.iterator(
            chunk_size=2000
        )
    ]
    CustomerFigures.objects.bulk_create(rows, batch_size=2000)
    old = ReportSnapshot.objects.filter(workspace_id=workspace_id).order_by("-day")[KEEP_SNAPSHOTS:]
    ReportSnapshot.objects.filter(pk__in=list(old.values_list("pk", flat=True))).delete()
    return snapshot


def report_latest_snapshot(*, workspace_id: int) -> ReportSnapshot | None:
    return ReportSnapshot.objects.filter(workspace_id=workspace_id).order_by("-day").first()


# ---- reading a snapshot back --------------------------------------------------------------------------


@dataclass
class Filters:
    owner: str = ""  # a user id, or "none"
    phase_id: int | None = None
    profile_id: int | None = None
    tag_id: int | None = None


@dataclass
class PulseLine:
    owner_id: int | None
    owner: str
    owned: int
    fresh: int

    @property
    def share(self) -> Decimal | None:
        return figures._percent(self.fresh, self.owned)


@dataclass
class RenewalWindow:
    days: int
    agreements: int
    customers: int
    mrr: int


@dataclass
class Report:
    snapshot: ReportSnapshot
    points: list[dt.date]
    series: figures.Series
    quarters: list[figures.Quarter]
    customers: int  # not churned
    renewals: list[RenewalWindow]
    at_risk: list[CustomerFigures]
    dropping: list[CustomerFigures]
    pulse: list[PulseLine]
    shown_from: int = 0  # first point index shown in the month-by-month table
    formulas: dict[str, str] = field(default_factory=lambda: figures.FORMULAS)

    @property
    def mrr_now(self) -> int:
        return self.series.mrr[-1] if self.series.mrr else 0

    @property
    def arr_now(self) -> int:
        return self.mrr_now * 12

    @property
    def paying_now(self) -> int:
        return self.series.paying[-1] if self.series.paying else 0

    def months(self) -> list[dict[str, Any]]:
        """The month-by-month table: each shown point with its MRR and the movements that led to it."""
        lines = []
        for i in range(self.shown_from, len(self.points)):
            movement = self.series.movements[i - 1] if i > 0 else None
            lines.append(
                {
                    "date": self.points[i],
                    "is_today": i == len(self.points) - 1,
                    "mrr": self.series.mrr[i],
                    "arr": self.series.mrr[i] * 12,
                    "paying": self.series.paying[i],
                    "movement": movement,
                    "change": self.series.mrr[i] - self.series.mrr[i - 1] if i > 0 else None,
                }
            )
        return lines


def report_rows(*, snapshot: ReportSnapshot, filters: Filters) -> list[CustomerFigures]:
    rows = snapshot.customers.all()
    if filters.owner == "none":
        rows = rows.filter(owner_id__isnull=True)
    elif filters.owner:
        rows = rows.filter(owner_id=int(filters.owner))
    if filters.phase_id:
        rows = rows.filter(phase_id=filters.phase_id)
    if filters.profile_id:
        rows = rows.filter(profile_id=filters.profile_id)
    if filters.tag_id:
        rows = rows.filter(tag_ids__contains=f",{filters.tag_id},")
    return list(rows)


def report_build(*, snapshot: ReportSnapshot, filters: Filters) -> Report:
    rows = report_rows(snapshot=snapshot, filters=filters)
    points = [dt.date.fromisoformat(point) for point in snapshot.points]
    pure = [figures.Row(mrr_cents=row.mrr_cents, first_start=row.first_start) for row in rows]
    live = [row for row in rows if not row.churned]
    return Report(
        snapshot=snapshot,
        points=points,
        series=figures.series(points, pure),
        quarters=figures.quarters(points, pure),
        customers=len(live),
        renewals=_renewals(rows, snapshot.day),
        at_risk=sorted(
            (row for row in live if row.health_score is not None and row.health_score <= AT_RISK_SCORE),
            key=lambda row: (row.health_score, -row.mrr_cents[-1], row.name),
        ),
        dropping=sorted(
            (row for row in live if row.dropped_from is not None and row.dropped_to is not None),
            key=lambda row: (row.dropped_to - row.dropped_from, row.name),  # type: ignore[operator]
        ),
        pulse=_pulse(live, snapshot.computed_at),
        shown_from=max(0, len(points) - 1 - SHOWN_MONTHS),
    )


def _renewals(rows: list[CustomerFigures], today: dt.date) -> list[RenewalWindow]:
    windows = []
    for days in RENEWAL_WINDOWS:
        until = (today + dt.timedelta(days=days)).isoformat()
        due = [(row.customer_id, cents) for row in rows for day, cents in row.renewals if day <= until]
        windows.append(
            RenewalWindow(
                days=days,
                agreements=len(due),
                customers=len({customer for customer, _ in due}),
                mrr=sum(cents for _, cents in due),
            )
        )
    return windows


def _pulse(rows: list[CustomerFigures], computed_at: dt.datetime) -> list[PulseLine]:
    since = computed_at - PULSE_FRESH
    owned: dict[int, list[CustomerFigures]] = defaultdict(list)
    for row in rows:
        if row.owner_id is not None:
            owned[row.owner_id].append(row)
    users = {user.pk: user for user in get_user_model().objects.filter(pk__in=owned)}
    lines = [
        PulseLine(
            owner_id=owner_id,
            owner=(users[owner_id].get_full_name() or users[owner_id].email)
            if owner_id in users
            else "(removed user)",
            owned=len(customers),
            fresh=sum(1 for row in customers if row.pulse_at is not None and row.pulse_at >= since),
        )
        for owner_id, customers in owned.items()
    ]
    return sorted(lines, key=lambda line: (line.share or Decimal(0), line.owner))
