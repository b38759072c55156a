"""Report arithmetic on a snapshot's customer rows: pure functions, integer cents, no database.

Movements per month, for each customer, from its MRR p at the previous point to c at this one:
new (p = 0 < c, first contract started after the previous point), reactivation (p = 0 < c, it had one
before), expansion (0 < p < c), contraction (0 < c < p), churn (p > 0 = c). Every customer's change lands
in exactly one of them, so they sum to the change of the total."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

MOVEMENTS = ("new", "expansion", "contraction", "churn", "reactivation")

FORMULAS = {
    "mrr": "MRR(d) = Σ mrr of agreements with start ≤ d < end, status not Pending, Paused or Cancelled",
    "arr": "ARR = 12 × MRR",
    "customers": "Paying customers = customers with MRR > 0 at the date",
    "movements": (
        "Per customer, p = MRR at the previous month end, c = MRR now: new if p = 0 < c and its first "
        "contract started after p's date, reactivation if p = 0 < c otherwise, expansion if 0 < p < c, "
        "contraction if 0 < c < p, churn if c = 0 < p; new + expansion + contraction + churn + "
        "reactivation = change of MRR"
    ),
    "nrr": "NRR = Σ MRR at quarter end of the customers paying at its start ÷ Σ their MRR at its start",
    "grr": "GRR = Σ min(MRR at quarter end, MRR at start) of the customers paying at its start ÷ Σ their MRR at its start",
    "renewals": "Agreements (not Pending, Paused or Cancelled) whose renewal date is between today and today + N days",
    "at_risk": "Customers not churned whose health score ≤ 3",
    "dropping": (
        "Customers not churned whose overall health score for the latest computed week is lower than "
        "the week before's (the customer list's “Dropping”)"
    ),
    "pulse": "Share of a CSM's customers (not churned) whose CSM Pulse was set in the last 90 days",
}


@dataclass(frozen=True)
class Row:
    mrr_cents: Sequence[int]
    first_start: dt.date | None = None


@dataclass
class Movement:
    new: int = 0
    expansion: int = 0
    contraction: int = 0
    churn: int = 0
    reactivation: int = 0

    @property
    def total(self) -> int:
        return self.new + self.expansion + self.contraction + self.churn + self.reactivation


@dataclass
class Quarter:
    label: str
    start: dt.date
    end: dt.date
    start_mrr: int
    end_mrr_of_cohort: int
    retained: int  # Σ min(end, start) over the cohort
    cohort: int

    @property
    def nrr(self) -> Decimal | None:
        return _percent(self.end_mrr_of_cohort, self.start_mrr)

    @property
    def grr(self) -> Decimal | None:
        return _percent(self.retained, self.start_mrr)


@dataclass
class Series:
    points: list[dt.date]
    mrr: list[int] = field(default_factory=list)
    paying: list[int] = field(default_factory=list)
    movements: list[Movement] = field(default_factory=list)  # movements[i]: from points[i] to points[i + 1]


def _percent(part: int, whole: int) -> Decimal | None:
    if whole <= 0:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


def classify(previous: int, current: int, first_start: dt.date | None, previous_point: dt.date) -> str | None:
    if previous == current:
        return None
    if previous == 0:
        return "reactivation" if first_start is not None and first_start <= previous_point else "new"
    if current == 0:
        return "churn"
    return "expansion" if current > previous else "contraction"


def series(points: Sequence[dt.date], rows: Sequence[Row]) -> Series:
    result = Series(points=list(points))
    count = len(points)
    result.mrr = [sum(row.mrr_cents[i] for row in rows) for i in range(count)]
    result.paying = [sum(1 for row in rows if row.mrr_cents[i] > 0) for i in range(count)]
    for i in range(1, count):
        movement = Movement()
        for row in rows:
            kind = classify(row.mrr_cents[i - 1], row.mrr_cents[i], row.first_start, points[i - 1])
            if kind:
                setattr(movement, kind, getattr(movement, kind) + row.mrr_cents[i] - row.mrr_cents[i - 1])
        result.movements.append(movement)
    return result


def quarters(points: Sequence[dt.date], rows: Sequence[Row], *, last: int = 4) -> list[Quarter]:
    """The last complete calendar quarters whose start and end are both among the points (month ends)."""
    index = {point: i for i, point in enumerate(points)}
    found: list[Quarter] = []
    for end_i, end in enumerate(points):
        if end.month not in (3, 6, 9, 12) or not _is_month_end(end):
            continue
        start = _month_end_before(end, 3)
        start_i = index.get(start)
        if start_i is None or start_i >= end_i:
            continue
        cohort = [row for row in rows if row.mrr_cents[start_i] > 0]
        found.append(
            Quarter(
                label=f"Q{(end.month - 1) // 3 + 1} {end.year}",
                start=start,
                end=end,
                start_mrr=sum(row.mrr_cents[start_i] for row in cohort),
                end_mrr_of_cohort=sum(row.mrr_cents[end_i] for row in cohort),
                retained=sum(min(row.mrr_cents[end_i], row.mrr_cents[start_i]) for row in cohort),
                cohort=len(cohort),
            )
        )
    return found[-last:]


def _is_month_end(day: dt.date) -> bool:
    return (day + dt.timedelta(days=1)).day == 1


def month_end(year: int, month: int) -> dt.date:
    first_next = dt.date(year + month // 12, month % 12 + 1, 1)
    return first_next - dt.timedelta(days=1)


def _month_end_before(day: dt.date, months: int) -> dt.date:
    total = day.year * 12 + day.month - 1 - months
    return month_end(total // 12, total % 12 + 1)


def snapshot_points(today: dt.date, *, months: int = 15) -> list[dt.date]:
    """The ends of the `months` months before today's, oldest first, then today."""
    return [_month_end_before(month_end(today.year, today.month), n) for n in range(months, 0, -1)] + [today]
