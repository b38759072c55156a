"""Reads of the health-score app: the customer section (score, ledger in words, moves, chart, Pulse
history), the list counts, the settings pages."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, QuerySet
from django.utils import timezone

from customers.models import CHURN_PHASE, Customer, HealthProfile
from workspaces.access import visible
from workspaces.models import Membership

from .models import (
    AT_RISK_SCORE,
    DEFAULT_WEIGHTS,
    FACTOR_LABELS,
    FACTORS,
    HealthRun,
    HealthScore,
    HealthWeights,
    PulseEntry,
    UsageCredential,
)

COLOURS = {
    "overall": "#1f2937",
    "usage": "#4f5bd5",
    "interactions": "#2e9e5b",
    "pulse": "#e6a23c",
    "agreement": "#d64545",
}
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 640, 200, 30, 30, 10, 24


# ---- the ledger in words --------------------------------------------------------------------------------


def _number(value: Any) -> str:
    number = Decimal(str(value))
    if number == number.to_integral_value():
        return f"{int(number):,}"
    return f"{number:,.1f}"


def _raw_text(factor: str, entry: dict[str, Any]) -> str:
    details = entry.get("details") or {}
    if factor == "usage":
        events = details.get("events", 0)
        text = (
            f"{_number(events)} event{'s' if events != 1 else ''} in the last {details.get('days', 30)} days"
        )
        if details.get("peak_users"):
            text += f" (up to {details['peak_users']} users a day)"
        return text
    if factor == "interactions":
        count = details.get("count", 0)
        return f"{count} interaction{'s' if count != 1 else ''} with the customer in the last {details.get('days', 90)} days"
    if factor == "pulse":
        return f"CSM Pulse {details.get('pulse')}/5, given {details.get('age_days', 0)} days before"
    change = Decimal(details.get("change_pct", "0"))
    sign = "+" if change > 0 else ""
    return (
        f"active MRR {_number(details.get('mrr_now', 0))} vs {_number(details.get('mrr_before', 0))} "
        f"{details.get('days', 90)} days earlier ({sign}{_number(change)}%)"
    )


def _peer_text(entry: dict[str, Any], profile: dict[str, Any] | None) -> str:
    peers = entry.get("peers")
    if not peers:
        return ""
    share = round((2 * peers["below"] + peers["equal"]) * 50 / peers["size"])
    if peers["scope"] == "profile" and profile:
        group = f"the {peers['size']} other customers of profile '{profile['name']}'"
    elif peers.get("profile_too_small") and profile:
        group = (
            f"the {peers['size']} other customers of the workspace (profile '{profile['name']}' has fewer "
            "than 10 other customers with this input)"
        )
    else:
        group = f"the {peers['size']} other customers of the workspace"
    return f"better than {share}% of {group}, whose median is {_number(peers['median'])}"


@dataclass
class FactorLine:
    factor: str
    label: str
    status: str
    sub_score: str | None
    weight: int
    effective_weight: str
    contribution: str
    raw: str
    peers: str
    reason: str
    shared_to: str

    @property
    def reweighted(self) -> bool:
        return self.status == "counted" and Decimal(self.effective_weight) != self.weight


def ledger_lines(ledger: dict[str, Any]) -> list[FactorLine]:
    factors = ledger.get("factors", {})
    shared = {row["factor"]: row for row in ledger.get("shared", [])}
    lines = []
    for factor in FACTORS:
        entry = factors.get(factor, {})
        moved = shared.get(factor)
        lines.append(
            FactorLine(
                factor=factor,
                label=FACTOR_LABELS[factor],
                status=entry.get("status", "missing"),
                sub_score=entry.get("sub_score"),
                weight=entry.get("weight", 0),
                effective_weight=entry.get("effective_weight", "0"),
                contribution=entry.get("contribution", "0"),
                raw=_raw_text(factor, entry) if entry.get("details") else "",
                peers=_peer_text(entry, ledger.get("profile")),
                reason=entry.get("reason", ""),
                shared_to=", ".join(
                    f"{FACTOR_LABELS[other]} +{points} pts"
                    for other, points in (moved or {}).get("to", {}).items()
                ),
            )
        )
    return lines


def ledger_sum(ledger: dict[str, Any]) -> str:
    parts = [
        f"{FACTOR_LABELS[f]} {row['contribution']}"
        for f, row in ledger.get("factors", {}).items()
        if row.get("status") == "counted"
    ]
    return " + ".join(parts) + f" = {ledger.get('overall')}" if parts else ""


def moves(current: HealthScore, previous: HealthScore | None) -> list[str]:
    """What moved since last week, largest effect first."""
    if previous is None:
        return []
    now_f, then_f = current.ledger.get("factors", {}), previous.ledger.get("factors", {})
    items: list[tuple[Decimal, str]] = []
    for factor in FACTORS:
        label = FACTOR_LABELS[factor]
        now, then = now_f.get(factor, {}), then_f.get(factor, {})
        delta = Decimal(now.get("contribution", "0")) - Decimal(then.get("contribution", "0"))
        was, is_ = then.get("status"), now.get("status")
        effect = f" ({'+' if delta >= 0 else ''}{delta} to the score)"
        if was == "counted" and is_ == "missing":
            items.append(
                (
                    abs(delta),
                    f"{label} dropped out: {now.get('reason', '')}; its weight went to the others{effect}.",
                )
            )
        elif was != "counted" and is_ == "counted":
            items.append(
                (
                    abs(delta),
                    f"{label} now counts: {_raw_text(factor, now)}, {now.get('sub_score')}/5{effect}.",
                )
            )
        elif is_ == "counted" and (now.get("sub_score") != then.get("sub_score") or delta):
            raw_then = _raw_text(factor, then) if then.get("details") else ""
            items.append(
                (
                    abs(delta),
                    f"{label} {then.get('sub_score')} → {now.get('sub_score')}/5: {_raw_text(factor, now)}"
                    + (f", was {raw_then}" if raw_then and raw_then != _raw_text(factor, now) else "")
                    + f"{effect}.",
                )
            )
    if now_f and then_f and current.ledger.get("weights_source") != previous.ledger.get("weights_source"):
        items.append((Decimal(0), f"The weights now come from {current.ledger.get('weights_source')}."))
    items.sort(key=lambda item: -item[0])
    return [text for _, text in items]


# ---- the chart ------------------------------------------------------------------------------------------


def _y(value: Decimal | None, top: int) -> float | None:
    if value is None:
        return None
    plot = HEIGHT - TOP - BOTTOM
    return round(TOP + plot - plot * float(Decimal(value) - 1) / (top - 1), 1)


def chart(points: list[HealthScore], *, label: str) -> dict[str, Any]:
    """Server-side SVG: overall (1-10, left axis) and the four sub-scores (1-5, right axis)."""
    slot = (WIDTH - LEFT - RIGHT) / max(len(points) - 1, 1)
    series = []
    for key in ("overall", *FACTORS):
        top = 10 if key == "overall" else 5
        segments: list[list[tuple[float, float]]] = [[]]
        dots = []
        for i, row in enumerate(points):
            x = round(LEFT + i * slot, 1) if len(points) > 1 else WIDTH / 2
            y = _y(getattr(row, key), top)
            if y is None:
                if segments[-1]:
                    segments.append([])
                continue
            segments[-1].append((x, y))
            dots.append(
                {
                    "x": x,
                    "y": y,
                    "title": f"{row.week:%d %b %Y} · {FACTOR_LABELS.get(key, 'Overall')} {getattr(row, key)}",
                }
            )
        series.append(
            {
                "key": key,
                "label": FACTOR_LABELS.get(key, "Overall (1-10)"),
                "colour": COLOURS[key],
                "width": 3 if key == "overall" else 1.5,
                "lines": [" ".join(f"{x},{y}" for x, y in seg) for seg in segments if len(seg) > 1],
                "dots": dots,
            }
        )
    labels = []
    for i, row in enumerate(points):
        x = round(LEFT + i * slot, 1) if len(points) > 1 else WIDTH / 2
        labels.append({"x": x, "text": f"{row.week:%d %b}" if label == "weeks" else f"{row.week:%b}"})
    grid = [
        {
            "y": _y(Decimal(v), 10),
            "left": v,
            "right": f"{(Decimal(v) - 1) * 4 / 9 + 1:.1f}".removesuffix(".0"),
        }
        for v in (1, 4, 7, 10)
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "series": series,
        "labels": labels,
        "label_y": HEIGHT - 6,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "grid": grid,
        "risk_y": _y(Decimal(AT_RISK_SCORE), 10),
        "empty": not points,
    }


def history_points(customer: Customer, period: str, today: dt.date | None = None) -> list[HealthScore]:
    today = today or timezone.localdate()
    rows = list(
        HealthScore.objects.filter(customer=customer, week__gt=today - dt.timedelta(days=372))
        .only("week", "overall", *FACTORS)
        .order_by("week")
    )
    if period == "months":
        last_of_month: dict[tuple[int, int], HealthScore] = {}
        for row in rows:
            last_of_month[(row.week.year, row.week.month)] = row
        return list(last_of_month.values())[-12:]
    return rows[-12:]


# ---- the customer section -------------------------------------------------------------------------------


def customer_health(customer: Customer, *, period: str = "weeks") -> dict[str, Any]:
    latest = list(HealthScore.objects.filter(customer=customer).order_by("-week")[:2])
    current = latest[0] if latest else None
    previous = (
        latest[1]
        if current is not None and len(latest) > 1 and latest[1].week == current.week - dt.timedelta(days=7)
        else None
    )
    period = "months" if period == "months" else "weeks"
    pulses = list(PulseEntry.objects.filter(customer=customer).select_related("set_by")[:10])
    pulse_age = (timezone.now() - customer.csm_pulse_at).days if customer.csm_pulse_at else None
    return {
        "customer": customer,
        "score": current,
        "previous": previous,
        "delta": (current.overall - previous.overall)
        if current and previous and current.overall is not None and previous.overall is not None
        else None,
        "at_risk": bool(current and current.is_at_risk),
        "lines": ledger_lines(current.ledger) if current else [],
        "sum": ledger_sum(current.ledger) if current else "",
        "moves": moves(current, previous) if current else [],
        "period": period,
        "chart": chart(history_points(customer, period), label=period),
        "pulses": pulses,
        "pulse_stale": pulse_age is not None and pulse_age > 90,
        "pulse_age": pulse_age,
    }


# ---- lists ----------------------------------------------------------------------------------------------


def latest_week(workspace_id: int) -> dt.date | None:
    return HealthScore.objects.filter(workspace_id=workspace_id).aggregate(week=Max("week"))["week"]


def list_counts(membership: Membership | None) -> dict[str, Any]:
    customers = visible(membership, Customer).exclude(phase__technical_name=CHURN_PHASE)
    at_risk = customers.filter(health_score__lte=AT_RISK_SCORE).count()
    week = latest_week(membership.workspace_id) if membership else None
    dropping = (
        visible(membership, HealthScore)
        .filter(week=week, dropping=True)
        .exclude(customer__phase__technical_name=CHURN_PHASE)
        .count()
        if week
        else 0
    )
    return {"at_risk": at_risk, "dropping": dropping, "week": week}


def dropping_scores(membership: Membership) -> QuerySet[HealthScore]:
    week = latest_week(membership.workspace_id)
    if week is None:
        return HealthScore.objects.none()
    return (
        visible(membership, HealthScore)
        .filter(week=week, dropping=True)
        .exclude(customer__phase__technical_name=CHURN_PHASE)
        .select_related("customer", "customer__owner")
        .order_by("overall", "customer__name")
    )


# ---- settings -------------------------------------------------------------------------------------------


@dataclass
class ProfileRow:
    profile: HealthProfile | None
    weights: dict[str, int]
    own: bool
    customers: int


def profile_rows(membership: Membership) -> list[ProfileRow]:
    own = {row.profile_id: row.as_dict() for row in visible(membership, HealthWeights)}
    default = own.get(None, dict(DEFAULT_WEIGHTS))
    without = visible(membership, Customer).filter(health_profile__isnull=True).count()
    rows = [ProfileRow(None, default, None in own, without)]
    for profile in visible(membership, HealthProfile).annotate(n=Count("customers")):
        rows.append(ProfileRow(profile, own.get(profile.pk, default), profile.pk in own, profile.n))
    return rows


def recent_runs(membership: Membership) -> list[HealthRun]:
    return list(visible(membership, HealthRun).select_related("requested_by")[:5])


def credentials(membership: Membership) -> list[UsageCredential]:
    return list(visible(membership, UsageCredential).select_related("created_by"))
