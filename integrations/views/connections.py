"""Settings > Integrations: the CRMs, their connections, runs and quarantined records. Admins act;
Managers read; CSMs do not see it (404)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from workspaces.access import get_visible_or_404, settings_view

from .. import safety, selectors, services
from ..forms import local_field_label
from ..models import Connection, ObjectSetting, ObjectType, QuarantinedRecord, SyncRun, SyncState
from ..tasks import sync_connection_task
from .wizard import run_live_context


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
        "advice": error_advice(connection),
        "live_run": connection.runs.filter(
            status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]
        ).first(),
        "paused_run": connection.runs.filter(status=SyncRun.Status.PAUSED, decided_at__isnull=True).first(),
        "id_owner": None
        if connection.owns_customer_id
        else Connection.objects.filter(workspace=connection.workspace, owns_customer_id=True).first(),
        "nav": "settings",
        "settings_tab": "integrations",
    }
    return render(request, "integrations/connection.html", context)


def error_advice(connection: Connection) -> str:
    """What to do about the connection's state or last error, in plain words."""
    crm = connection.get_crm_display()
    error = connection.last_error.lower()
    if connection.status == Connection.Status.RECONNECT_NEEDED:
        return f"Reconnect: {crm} revoked Skalin's access (password change, app removed or user deactivated)."
    if not error:
        return ""
    if "super admin" in error or "healthscore" in error or "pulse" in error:
        return (
            f"{crm} refused the Healthscore or CSM Pulse field: the connected user must keep the rights to "
            "create and write company fields (HubSpot: Super Admin). Reconnect with such a user."
        )
    if "quota" in error or "rate" in error or "429" in error:
        return f"{crm}'s API quota was spent: the sync resumes by itself once {crm} allows it."
    if "mapping" in error or "field" in error:
        return "Check the mapping in the setup: a mapped CRM field may have been renamed or deleted."
    return "The next hourly sync retries by itself. If this stays, check the setup or reconnect."


PLAN_KINDS = (
    ("create", "Would be created"),
    ("merge", "Would be merged with a customer already in Skalin"),
    ("update", "Would be updated"),
    ("kept_empty", "Blank in the CRM: the Skalin value is kept"),
    ("churn", "Would be churned"),
    ("unchurn", "Would come back from churn"),
    ("quarantine", "Would be quarantined"),
    ("push", "Would be written to the CRM"),
)
DONE_LABELS = {
    "create": "Created",
    "merge": "Merged with a customer already in Skalin",
    "update": "Updated",
    "kept_empty": "Blank in the CRM: the Skalin value was kept",
    "churn": "Churned",
    "unchurn": "Back from churn",
    "quarantine": "Quarantined",
    "push": "Written to the CRM",
}
OBJECT_LABELS = dict(ObjectType.choices) | {"scores": "Healthscore and Pulse"}


def _run_context(connection: Connection, run: SyncRun) -> dict[str, Any]:
    keys = [*ObjectType.values, "scores"]
    by_object = [(OBJECT_LABELS[key], run.by_object[key]) for key in keys if key in run.by_object]
    plan = [
        {
            "label": OBJECT_LABELS.get(key, key),
            "kinds": [
                {
                    "kind": kind,
                    "label": label if run.dry_run else DONE_LABELS[kind],
                    "samples": run.plan[key][kind],
                }
                for kind, label in PLAN_KINDS
                if run.plan[key].get(kind)
            ],
        }
        for key in keys
        if isinstance((run.plan or {}).get(key), dict)
    ]
    fill_rates = [
        {
            "label": OBJECT_LABELS.get(key, key),
            "fields": [
                {
                    "name": local_field_label(key, name),
                    **counts,
                    "total": sum(counts.get(k, 0) for k in ("filled", "empty", "kept")),
                    "percent": round(
                        100
                        * counts.get("filled", 0)
                        / max(1, sum(counts.get(k, 0) for k in ("filled", "empty", "kept")))
                    ),
                }
                for name, counts in sorted((getattr(run, "fill_rates", None) or {}).get(key, {}).items())
            ],
        }
        for key in keys
        if (getattr(run, "fill_rates", None) or {}).get(key)
    ]
    return {
        "connection": connection,
        "run": run,
        "by_object": by_object,
        "plan": plan,
        "fill_rates": fill_rates,
        "run_quarantine": QuarantinedRecord.objects.filter(run=run)[:100],
        "applied_by": connection.runs.filter(applies=run).first() if run.dry_run else None,
        **run_live_context(run),
        "nav": "settings",
        "settings_tab": "integrations",
    }


def _run_or_404(request: HttpRequest, pk: int, run_id: int) -> tuple[Connection, SyncRun]:
    connection = get_visible_or_404(request.membership, Connection, pk=pk)  # type: ignore[attr-defined]
    run = connection.runs.filter(pk=run_id).first()
    if run is None:
        raise Http404("No such run for this connection.")
    return connection, run


@settings_view
def run_detail(request: HttpRequest, pk: int, run_id: int) -> HttpResponse:
    connection, run = _run_or_404(request, pk, run_id)
    template = "integrations/run.html#live" if request.htmx else "integrations/run.html"  # type: ignore[attr-defined]
    return render(request, template, _run_context(connection, run))


@settings_view
@require_POST
def run_apply(request: HttpRequest, pk: int, run_id: int) -> HttpResponse:
    connection, plan = _run_or_404(request, pk, run_id)
    try:
        run = safety.plan_apply(plan_run=plan)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("integrations:run", pk=connection.pk, run_id=plan.pk)
    messages.success(request, f"Sync started: {connection.get_crm_display()} data is arriving in Skalin.")
    return redirect("integrations:run", pk=connection.pk, run_id=run.pk)


@settings_view
@require_POST
def quarantine_retry(request: HttpRequest, pk: int, record_id: int) -> HttpResponse:
    """The engine reads only records changed since its cursor: a retry re-reads the object's whole
    selection at the next run (started now), which applies the record again or keeps it here."""
    connection = get_visible_or_404(request.membership, Connection, pk=pk)  # type: ignore[attr-defined]
    record = connection.quarantine.filter(pk=record_id, resolved_at__isnull=True).first()
    if record is None:
        raise Http404("No such quarantined record.")
    if connection.status != Connection.Status.ACTIVE:
        messages.error(
            request, f"The connection is {connection.get_status_display().lower()}; enable it first."
        )
        return redirect("integrations:connection", pk=connection.pk)
    SyncState.objects.filter(connection=connection, object_type=record.object_type).update(
        cursor="", page_cursor="", listing_since="", high_water=""
    )
    transaction.on_commit(lambda: sync_connection_task.delay(connection.pk, SyncRun.Trigger.RETRY))
    messages.success(
        request,
        f"Retrying {record.get_object_type_display().lower()} {record.external_id}: a sync re-reads every "
        f"{record.get_object_type_display().lower()} of the selection now. If the record is still refused, it "
        "stays in this list with the new reason.",
    )
    return redirect("integrations:connection", pk=connection.pk)


@settings_view
@require_POST
def push_now(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_visible_or_404(request.membership, Connection, pk=pk)  # type: ignore[attr-defined]
    try:
        run = safety.push_now(connection=connection)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("integrations:connection", pk=connection.pk)
    messages.success(request, f"Sending the mapped Skalin values to {connection.get_crm_display()} now.")
    return redirect("integrations:run", pk=connection.pk, run_id=run.pk)


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
            if connection.status != Connection.Status.DISABLED:
                messages.error(request, "Disable the connection first; then it can be deleted.")
                return redirect("integrations:connection", pk=connection.pk)
            label = str(connection)
            services.connection_delete(connection=connection)
            messages.success(request, f"{label} deleted. Customers, their history and data are kept.")
            return redirect("integrations:list")
        else:
            messages.error(request, "Unknown action.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("integrations:connection", pk=connection.pk)
