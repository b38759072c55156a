"""The "Playbooks" box of the customer page: `{% load playbook_tags %}{% playbooks_box customer %}`."""

from __future__ import annotations

from typing import Any

from django import template

from workspaces.access import can_edit

from .. import selectors
from ..views import new_run_token

register = template.Library()


@register.inclusion_tag("playbooks/customer_box.html", takes_context=True)
def playbooks_box(context: template.Context, customer: Any) -> dict[str, Any]:
    request = context.get("request")
    membership = getattr(request, "membership", None)
    return {
        "customer": customer,
        "manual": selectors.manual_playbooks_for(membership, customer) if membership else [],
        "runs": selectors.customer_runs(customer),
        "tasks": selectors.customer_open_tasks(customer),
        "can_edit": can_edit(membership, customer),
        "token": new_run_token(),
        "csrf_token": context.get("csrf_token"),
        "request": request,
        "user": context.get("user"),
    }


OUTCOME_CLASSES = {"done": "badge-ok", "failed": "badge-risk", "partial": "badge-risk"}


@register.filter
def outcome_class(outcome: str) -> str:
    return OUTCOME_CLASSES.get(outcome, "")
