"""Settings > Integrations: the CRMs, their connections, runs and quarantined records. Admins act;
Managers read; CSMs do not see it (404)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from workspaces.access import get_visible_or_404, settings_view

from .. import selectors, services
from ..models import Connection, ObjectSetting, ObjectType, SyncRun
from ..tasks import sync_connection_task


@settings_view
def integrations(request: HttpRequest) -> HttpResponse:
    cards = selectors.crm_cards(membership=request.membership)  # type: ignore[attr-defined]
    return render(
        request, "integrations/list.html", {"cards": cards, "nav": "settings", "settings_tab": "integrations"}
    )


@settings_view
def connection_detail(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_visible_or_404(request.membership, Connection, pk=pk)  # type: ignore[attr-defined]
    context = {
        "connection": connection,
        "runs": selectors.connection_runs(connection=connection),
        "quarantine": selectors.connection_quarantine(connection=connection),
        "blocks": sorted(
            ObjectSetting.objects.filter(connection=connection).prefetch_related("mappings"),
            key=lambda block: ObjectType.values.index(block.object_type),
        ),
        "nav": "settings",
        "settings_tab": "integrations",
    }
    return render(request, "integrations/connection.html", context)


@settings_view
def run_detail(request: HttpRequest, pk: int, run_id: int) -> HttpResponse:
    connection = get_visible_or_404(request.membership, Connection, pk=pk)  # type: ignore[attr-defined]
    run = connection.runs.filter(pk=run_id).first()
    if run is None:
        raise Http404("No such run for this connection.")
    labels = dict(ObjectType.choices) | {"scores": "Healthscore and Pulse"}
    by_object = [
        (labels[key], run.by_object[key]) for key in [*ObjectType.values, "scores"] if key in run.by_object
    ]
    return render(
        request,
        "integrations/run.html",
        {
            "connection": connection,
            "run": run,
            "by_object": by_object,
            "nav": "settings",
            "settings_tab": "integrations",
        },
    )


@settings_view
@require_POST
def sync_now(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_visible_or_404(request.membership, Connection, pk=pk)  # type: ignore[attr-defined]
    if connection.status != Connection.Status.ACTIVE:
        messages.error(
            request, f"The connection is {connection.get_status_display().lower()}; nothing to sync."
        )
    else:
        transaction.on_commit(lambda: sync_connection_task.delay(connection.pk, SyncRun.Trigger.MANUAL))
        messages.success(request, "Sync started. Its run appears below within a few seconds.")
    return redirect("integrations:connection", pk=connection.pk)


@settings_view
@require_POST
def set_status(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    connection = get_visible_or_404(request.membership, Connection, pk=pk)  # type: ignore[attr-defined]
    try:
        if action == "disable":
            services.connection_disable(connection=connection)
            messages.success(
                request, "Disabled: this connection reads and writes nothing until enabled again."
            )
        elif action == "enable":
            services.connection_enable(connection=connection)
            messages.success(request, "Enabled: it syncs at the next hour, or now with Sync now.")
        elif action == "delete":
            label = str(connection)
            services.connection_delete(connection=connection)
            messages.success(request, f"{label} deleted. Customers, their history and data are kept.")
            return redirect("integrations:list")
        else:
            messages.error(request, "Unknown action.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("integrations:connection", pk=connection.pk)
