"""Undo a bad first sync: the preview of what one run created, and its hard delete after a typed
confirmation. Admins only (Managers are refused, CSMs do not see settings)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from workspaces.access import admin_view, get_visible_or_404

from .. import run_undo as services
from ..models import Connection, SyncRun


@admin_view("Only an Admin can delete the customers a sync created.")
def run_undo(request: HttpRequest, pk: int, run_id: int) -> HttpResponse:
    membership = request.membership  # type: ignore[attr-defined]
    connection = get_visible_or_404(membership, Connection, pk=pk)
    run = connection.runs.filter(pk=run_id).select_related("connection").first()
    if run is None:
        raise Http404("No such run for this connection.")
    error, status = "", 200
    if request.method == "POST":
        try:
            result = services.run_undo(
                run=run,
                user=request.user,
                confirmation=request.POST.get("confirmation", ""),
                disable_connection=request.POST.get("disable_connection") == "on",
            )
        except ValidationError as problem:
            error, status = " ".join(problem.messages), 400
        else:
            messages.success(
                request,
                f"Deleted {result.customers} customers created by run #{run.pk}, with their "
                f"{result.contacts} contacts, {result.agreements} agreements and {result.interactions} "
                f"interactions."
                + (f" {result.kept} {'was' if result.kept == 1 else 'were'} kept." if result.kept else ""),
            )
            return redirect("integrations:run", pk=connection.pk, run_id=run.pk)
    return render(request, "integrations/run_undo.html", _context(connection, run, error), status=status)


def _context(connection: Connection, run: SyncRun, error: str) -> dict[str, object]:
    return {
        "connection": connection,
        "run": run,
        "preview": services.run_undo_preview(run=run),
        "entries": services.run_undo_entries(run=run),
        "error": error,
        "nav": "settings",
        "settings_tab": "integrations",
    }
