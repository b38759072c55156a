"""The setup wizard: one page of blocks (one per object, plus data transfer), each loaded lazily with the
CRM's live fields; saving validates every block, and a changed configuration is planned before it runs."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from workspaces.access import get_visible_or_404, settings_view

from .. import safety
from ..forms import BLOCK_LABELS, BLOCKS, BlockForm, Catalog, wizard_save
from ..models import Connection, SyncRun


def _page(request: HttpRequest, connection: Connection, forms: dict[str, BlockForm] | None) -> HttpResponse:
    blocks = [
        {"key": key, "label": BLOCK_LABELS[key], "form": forms.get(key) if forms is not None else None}
        for key in BLOCKS
    ]
    context = {
        "connection": connection,
        "blocks": blocks,
        "has_errors": forms is not None and any(f.block.has_errors for f in forms.values()),
        "first_setup": not connection.runs.filter(dry_run=False, finished_at__isnull=False).exists(),
        "nav": "settings",
        "settings_tab": "integrations",
    }
    return render(request, "integrations/setup.html", context)


@settings_view
@require_http_methods(["GET", "POST"])
def setup(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_visible_or_404(request.membership, Connection, pk=pk)  # type: ignore[attr-defined]
    if request.method == "GET":
        return _page(request, connection, None)
    catalog = Catalog(connection)
    forms = {
        key: BlockForm(connection, key, data=request.POST, catalog=catalog)
        for key in BLOCKS
        if f"{key}-present" in request.POST
    }
    if not forms:
        messages.error(request, "Nothing was sent: wait for the blocks to load, then save.")
        return redirect("integrations:setup", pk=connection.pk)
    valid = [form.is_valid() for form in forms.values()]
    if not all(valid):
        # Blocks not yet loaded when Save was clicked are loaded again, lazily.
        return _page(request, connection, forms)
    try:
        changed = wizard_save(connection, forms)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return _page(request, connection, forms)
    never_synced = not connection.runs.filter(dry_run=False, finished_at__isnull=False).exists()
    if not (changed or never_synced):
        messages.success(request, "Saved. Nothing that syncs has changed.")
        return redirect("integrations:connection", pk=connection.pk)
    if connection.status in (Connection.Status.DISABLED, Connection.Status.RECONNECT_NEEDED):
        messages.success(
            request,
            f"Saved. The connection is {connection.get_status_display().lower()}: "
            "nothing runs until it is enabled or reconnected.",
        )
        return redirect("integrations:connection", pk=connection.pk)
    try:
        plan = safety.plan_start(connection=connection)
    except ValidationError as error:
        messages.error(request, "Saved, but no plan could start: " + " ".join(error.messages))
        return redirect("integrations:connection", pk=connection.pk)
    messages.success(
        request,
        f"Saved. Skalin is reading {connection.get_crm_display()} to show what the sync would do; "
        "nothing is written until you apply it.",
    )
    return redirect("integrations:run", pk=connection.pk, run_id=plan.pk)


@settings_view
@require_GET
def setup_blocks(request: HttpRequest, pk: int) -> HttpResponse:
    """Every block at once, lazily after the page: one request reads the CRM's fields one after another."""
    connection = get_visible_or_404(request.membership, Connection, pk=pk)  # type: ignore[attr-defined]
    catalog = Catalog(connection)
    blocks = [
        {"key": key, "label": BLOCK_LABELS[key], "form": BlockForm(connection, key, catalog=catalog)}
        for key in BLOCKS
    ]
    return render(request, "integrations/setup.html#blocks", {"connection": connection, "blocks": blocks})


@settings_view
@require_GET
def setup_block(request: HttpRequest, pk: int, block: str) -> HttpResponse:
    """One block, with the CRM's fields read live. `retry` reads them again; the block's current inputs,
    when sent along (`<block>-present`), are kept (a Retry or a changed stage field loses nothing)."""
    connection = get_visible_or_404(request.membership, Connection, pk=pk)  # type: ignore[attr-defined]
    if block not in BLOCKS:
        raise Http404("No such block.")
    data = request.GET if f"{block}-present" in request.GET else None
    form = BlockForm(
        connection, block, data=data, catalog=Catalog(connection, refresh="retry" in request.GET)
    )
    return render(
        request,
        "integrations/setup.html#block",
        {"connection": connection, "b": {"key": block, "label": BLOCK_LABELS[block], "form": form}},
    )


def run_live_context(run: SyncRun) -> dict[str, object]:
    """What the progress bar shows: the objects the run walks, and where it is."""
    order = [s.object_type for s in run.connection.object_settings.exclude(mode="disabled")]
    order = [key for key in ("customers", "contacts", "agreements", "interactions") if key in order]
    current = (run.progress or {}).get("object", "")
    done = order.index(current) if current in order else 0
    finished = run.status not in (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING)
    return {
        "steps": order,
        "step_value": len(order) if finished else done,
        "step_max": max(1, len(order)),
        "finished": finished,
    }
