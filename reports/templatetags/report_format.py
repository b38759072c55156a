from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def cents(value: int | None) -> str:
    """12345678 -> '123,456.78'; signed movements keep their sign."""
    if value is None:
        return "—"
    return f"{Decimal(value) / 100:,.2f}"


@register.filter
def signed_cents(value: int | None) -> str:
    if value is None:
        return "—"
    return f"{'+' if value > 0 else ''}{Decimal(value) / 100:,.2f}"


@register.filter
def percent(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value}%"
