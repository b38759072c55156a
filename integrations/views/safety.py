"""Sync safety from the connection page: the "Why isn't this customer in Skalin?" lookup and the decisions on
a run paused by the mass-change breaker."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from workspaces.access import get_visible_or_404, settings_view

from .. import safety
from ..explain import explain
from ..models import Connection


@settings_view
def why(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_visible_or_404(request.membership, Connection, pk=pk)  # type: ignore[attr-defined]
    query = request.GET.get("q", "").strip()
    answers, error = [], ""
    if query:
        try:
            answers = explain(connection=connection, query=query)
        except ValidationError as problem:
            error = " ".join(problem.messages)
    context = {"connection": connection, "query": query, "answers": answers, "error": error,
               "nav": "settings", "settings_tab": "integrations"}  # fmt: skip
    template = "integrations/why.html#answers" if request.htmx else "integrations/why.html"  # type: ignore[attr-defined]
    return render(request, template, context)


@settings_view
@require_POST
def decide(request: HttpRequest, pk: int, run_id: int, decision: str) -> HttpResponse:
    connection = get_visible_or_404(request.membership, Connection, pk=pk)  # type: ignore[attr-defined]
    run = connection.runs.filter(pk=run_id).first()
    if run is None or decision not in ("approve", "cancel"):
        raise Http404("No such run or decision.")
    try:
        if decision == "approve":
            follow = safety.run_approve(run=run, user=request.user)
            messages.success(request, f"Approved: run #{follow.pk} applies the changes now.")
        else:
            safety.run_cancel(run=run, user=request.user)
            messages.success(
                request, "Cancelled: nothing was written. Fix the CRM selection before the next run."
            )
    except ValidationError as problem:
        messages.error(request, " ".join(problem.messages))
    return redirect("integrations:connection", pk=connection.pk)
