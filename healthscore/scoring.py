"""The arithmetic of a health score, free of the ORM so that a ledger can be checked on its own.

A sub-score (1-5) places a customer among its peers: 1 + 4 x the share of peers it does better than
(ties count half). The overall score (1-10) is the weighted mean of the sub-scores mapped onto 1-10;
a missing sub-score drops out and its weight is shared among the others in proportion to theirs.
Contributions are rounded to tenths by largest remainder so that they add up to the rounded score."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from .models import FACTORS

TENTH = Decimal("0.1")
# A sub-score of 1..5 becomes 1..10 on the overall scale.
SCALE = Decimal("2.25")
MIN_PEERS = 10


def tenths(value: Decimal) -> Decimal:
    return value.quantize(TENTH, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class PeerPlace:
    size: int  # peers compared with (the customer itself excluded)
    below: int
    equal: int

    @property
    def sub_score(self) -> Decimal:
        share = Decimal(2 * self.below + self.equal) / Decimal(2 * self.size)
        return tenths(1 + 4 * share)


def place_among(value: Any, sorted_values: Sequence[Any]) -> PeerPlace:
    """Where `value` stands in `sorted_values`, a sorted list that contains it once for the customer."""
    low, high = bisect_left(sorted_values, value), bisect_right(sorted_values, value)
    return PeerPlace(size=len(sorted_values) - 1, below=low, equal=high - low - 1)


def median(sorted_values: Sequence[Any]) -> Any:
    if not sorted_values:
        return None
    middle = len(sorted_values) // 2
    if len(sorted_values) % 2:
        return sorted_values[middle]
    return (Decimal(str(sorted_values[middle - 1])) + Decimal(str(sorted_values[middle]))) / 2


@dataclass
class Combined:
    overall: Decimal | None
    exact: Decimal | None
    effective: dict[str, Decimal]  # effective weight in percent, per counted factor
    contributions: dict[str, Decimal]
    shared: list[dict[str, Any]]  # how each missing factor's weight moved


def combine(sub_scores: Mapping[str, Decimal | None], weights: Mapping[str, int]) -> Combined:
    counted = [f for f in FACTORS if sub_scores.get(f) is not None and weights.get(f, 0) > 0]
    counted_weight = sum(weights[f] for f in counted)
    if not counted:
        return Combined(None, None, {}, {}, [])
    exact: dict[str, Decimal] = {}
    effective: dict[str, Decimal] = {}
    for factor in counted:
        share = Decimal(weights[factor]) / Decimal(counted_weight)
        effective[factor] = tenths(share * 100)
        exact[factor] = share * (1 + (Decimal(sub_scores[factor]) - 1) * SCALE)  # type: ignore[arg-type]
    total = sum(exact.values(), Decimal(0))
    overall = tenths(total)
    contributions = _largest_remainder(exact, overall)
    shared = []
    for factor in FACTORS:
        if factor in counted or weights.get(factor, 0) == 0:
            continue
        moved = Decimal(weights[factor])
        shared.append(
            {
                "factor": factor,
                "weight": weights[factor],
                "to": {
                    other: str(tenths(moved * weights[other] / Decimal(counted_weight))) for other in counted
                },
            }
        )
    return Combined(overall, total.quantize(Decimal("0.0001")), effective, contributions, shared)


def _largest_remainder(exact: Mapping[str, Decimal], overall: Decimal) -> dict[str, Decimal]:
    scaled = {f: value * 10 for f, value in exact.items()}
    floors = {f: value.to_integral_value(rounding=ROUND_FLOOR) for f, value in scaled.items()}
    left = int(overall * 10 - sum(floors.values()))
    order = sorted(scaled, key=lambda f: (-(scaled[f] - floors[f]), FACTORS.index(f)))
    for factor in order[: max(left, 0)]:
        floors[factor] += 1
    return {f: (floors[f] / 10).quantize(TENTH) for f in exact}


def overall_from_ledger(ledger: Mapping[str, Any]) -> Decimal | None:
    """Recompute the overall score from a stored ledger alone (sub-scores and weights)."""
    factors = ledger.get("factors", {})
    sub_scores = {
        f: Decimal(row["sub_score"]) if row.get("sub_score") is not None else None
        for f, row in factors.items()
    }
    weights = {f: int(row.get("weight", 0)) for f, row in factors.items()}
    return combine(sub_scores, weights).overall


def rounded_score(overall: Decimal | None) -> int | None:
    """The customer's 1-10 figure (what lists filter on and CRMs receive)."""
    if overall is None:
        return None
    return int(overall.quantize(Decimal(1), rounding=ROUND_HALF_UP))
