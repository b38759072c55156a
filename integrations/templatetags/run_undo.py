"""`{% run_undo_panel %}` on a run's page: the undos already made of that run (their audit entries) and,
for Admins, the way to undo a run that created customers still in Skalin."""

from __future__ import annotations

from typing import Any

from django import template

from workspaces.access import can_manage_settings

from ..run_undo import run_created_customers_remaining, run_undo_entries

register = template.Library()


@register.inclusion_tag("integrations/run_undo.html#run_panel", takes_context=True)
def run_undo_panel(context: Any) -> dict[str, Any]:
    run, membership = context["run"], context.get("membership")
    return {
        "connection": context["connection"],
        "run": run,
        "entries": run_undo_entries(run=run),
        "remaining": run_created_customers_remaining(run=run) if can_manage_settings(membership) else 0,
    }
