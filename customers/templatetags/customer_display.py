"""Display helpers of the customer pages: money in the workspace's MRR/ARR and currency, relative dates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import template
from django.utils import timezone

from workspaces.models import AmountDisplay

register = template.Library()

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹", "CHF": "CHF "}


def _is_arr(workspace: Any) -> bool:
    return getattr(workspace, "amount_display", AmountDisplay.MRR) == AmountDisplay.ARR


@register.filter
def amount_label(workspace: Any) -> str:
    """ "ARR" or "MRR", as the workspace chose to show amounts."""
    return "ARR" if _is_arr(workspace) else "MRR"


@register.filter
def money(mrr: Decimal | None, workspace: Any) -> str:
    """A monthly amount shown as the workspace wants it: MRR, or ARR (x 12), with its currency."""
    if mrr is None or mrr == "":
        return ""
    shown = Decimal(mrr) * 12 if _is_arr(workspace) else Decimal(mrr)
    return amount(shown, getattr(workspace, "currency", "") or "")


def _as_date(value: dt.date | dt.datetime) -> dt.date:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


@register.filter
def is_past(value: dt.date | dt.datetime | None) -> bool:
    return value is not None and _as_date(value) < timezone.localdate()


@register.filter
def days_ago(value: dt.date | dt.datetime | None) -> str:
    """ "today", "yesterday", "12 days ago", "3 months ago"; "in 4 days" for a date still to come."""
    if value is None:
        return ""
    days = (timezone.localdate() - _as_date(value)).days
    if days < 0:
        return "tomorrow" if days == -1 else f"in {-days} days"
    if days == 0:
        return "today"
    if days == 1:
        return "yesterday"
    if days < 60:
        return f"{days} days ago"
    if days < 730:
        return f"{days // 30} months ago"
    return f"{days // 365} years ago"


@register.filter
def custom_display(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


SOURCE_LABELS = {
    "hubspot": "HubSpot",
    "salesforce": "Salesforce",
    "pipedrive": "Pipedrive",
    "zoho": "Zoho CRM",
    "sellsy": "Sellsy",
    "stripe": "Stripe",
    "intercom": "Intercom",
    "csv": "CSV import",
    "ui": "Skalin",
    "manual": "Skalin",
}


@register.filter
def source_label(source: str) -> str:
    return SOURCE_LABELS.get(source, source.replace("_", " ").capitalize())


@register.filter
def amount(value: Decimal | None, currency: str) -> str:
    """An amount as it is (no MRR/ARR conversion), e.g. a one-time fee, in the given currency."""
    if value is None or value == "":
        return ""
    value = Decimal(value)
    digits = f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"
    symbol = CURRENCY_SYMBOLS.get((currency or "").upper())
    return f"{symbol}{digits}" if symbol else f"{digits} {currency}".strip()


CHANGE_FIELD_LABELS = {
    "name": "Name",
    "domain": "Domain",
    "ref_id": "Customer ID",
    "owner": "Owner",
    "phase": "Stage",
    "health_profile": "Health profile",
    "parent": "Parent account",
    "tags": "Tags",
    "csm_pulse": "CSM Pulse",
    "created": "Created",
}


@register.filter
def change_field(field: str) -> str:
    """A change-history field name as people say it: "phase" is the Stage, "custom:seats" a custom field."""
    if field in CHANGE_FIELD_LABELS:
        return CHANGE_FIELD_LABELS[field]
    if field.startswith("custom:"):
        return f"Custom field {field.removeprefix('custom:')}"
    return field.replace("_", " ").capitalize()
