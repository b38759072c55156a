"""Server-side SVG charts (no script, no CDN): the template draws the rectangles computed here."""

from __future__ import annotations

from typing import Any

WIDTH, HEIGHT, PAD_X, PAD_TOP, PAD_BOTTOM = 720, 220, 8, 12, 28
COLOURS = {
    "mrr": "#4f5bd5",
    "new": "#2e9e5b",
    "expansion": "#7cc796",
    "reactivation": "#2f7fb8",
    "contraction": "#e6a23c",
    "churn": "#d64545",
}


def _money(cents: int) -> str:
    return f"{cents / 100:,.0f}"


def mrr_bars(months: list[dict[str, Any]], currency: str) -> dict[str, Any]:
    top = max([line["mrr"] for line in months] + [1])
    slot = (WIDTH - 2 * PAD_X) / max(len(months), 1)
    plot = HEIGHT - PAD_TOP - PAD_BOTTOM
    bars, labels = [], []
    for i, line in enumerate(months):
        height = plot * line["mrr"] / top
        x = PAD_X + i * slot
        bars.append(
            {
                "x": round(x + slot * 0.15, 1),
                "y": round(PAD_TOP + plot - height, 1),
                "w": round(slot * 0.7, 1),
                "h": round(height, 1),
                "fill": COLOURS["mrr"],
                "title": f"{line['date']:%b %Y}{' (today)' if line['is_today'] else ''}: {_money(line['mrr'])} {currency}",
            }
        )
        labels.append(
            {
                "x": round(x + slot / 2, 1),
                "y": HEIGHT - 10,
                "text": "Today" if line["is_today"] else f"{line['date']:%b}",
            }
        )
    return {"width": WIDTH, "height": HEIGHT, "bars": bars, "labels": labels}


def movement_bars(months: list[dict[str, Any]], currency: str) -> dict[str, Any]:
    moved = [line for line in months if line["movement"] is not None]
    up = [m["movement"].new + m["movement"].expansion + m["movement"].reactivation for m in moved]
    down = [-(m["movement"].contraction + m["movement"].churn) for m in moved]
    span = max(up + down + [1])
    plot = HEIGHT - PAD_TOP - PAD_BOTTOM
    scale = plot / 2 / span
    zero = PAD_TOP + plot / 2
    slot = (WIDTH - 2 * PAD_X) / max(len(moved), 1)
    bars, labels = [], []
    for i, line in enumerate(moved):
        movement = line["movement"]
        x = round(PAD_X + i * slot + slot * 0.15, 1)
        width = round(slot * 0.7, 1)
        above = zero
        for kind in ("new", "expansion", "reactivation"):
            value = getattr(movement, kind)
            if value:
                height = value * scale
                above -= height
                bars.append(_bar(x, above, width, height, kind, line, value, currency))
        below = zero
        for kind in ("contraction", "churn"):
            value = getattr(movement, kind)
            if value:
                height = -value * scale
                bars.append(_bar(x, below, width, height, kind, line, value, currency))
                below += height
        labels.append(
            {
                "x": round(x + width / 2, 1),
                "y": HEIGHT - 10,
                "text": "Today" if line["is_today"] else f"{line['date']:%b}",
            }
        )
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "bars": bars,
        "labels": labels,
        "zero": round(zero, 1),
        "legend": COLOURS,
    }


def _bar(
    x: float,
    y: float,
    width: float,
    height: float,
    kind: str,
    line: dict[str, Any],
    value: int,
    currency: str,
) -> dict[str, Any]:
    return {
        "x": x,
        "y": round(y, 1),
        "w": width,
        "h": round(height, 1),
        "fill": COLOURS[kind],
        "title": f"{line['date']:%b %Y} {kind}: {'+' if value > 0 else ''}{_money(value)} {currency}",
    }
