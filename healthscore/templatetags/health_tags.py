from __future__ import annotations

from typing import Any

from django import template

from healthscore import selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def customer_health_data(context: template.Context, customer: Any) -> dict[str, Any]:
    """Everything the customer page's health section shows (`{% customer_health_data customer as health %}`)."""
    request = context.get("request")
    period = request.GET.get("health", "weeks") if request is not None else "weeks"
    return selectors.customer_health(customer, period=period)


@register.inclusion_tag("healthscore/_list_counts.html", takes_context=True)
def health_list_counts(context: template.Context) -> dict[str, Any]:
    return {"counts": selectors.list_counts(context.get("membership"))}
