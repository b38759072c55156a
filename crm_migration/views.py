"""Settings > Integrations > Migrate to another CRM: the guide's steps, each with what to do, a button where
Skalin can do it, and its check. Admins only: Managers are refused (403), CSMs do not see it exists (404)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_POST

from customers.models import CustomField
from integrations.base import ConnectorError
from integrations.forms import Catalog
from integrations.models import Connection, ObjectType
from integrations.run_undo import run_created_customers_remaining
from workspaces.access import admin_view, get_visible_or_404, visible

from . import selectors, services
from .models import STEP_ORDER, Migration, Step

HUBSPOT_STEPS = (Step.STEP_A, Step.STEP_B, Step.STEP_C)


admins_only = admin_view("Only an Admin can migrate the workspace to another CRM.")


def _migration(request: HttpRequest, pk: int) -> Migration:
    return get_visible_or_404(request.membership, Migration, pk=pk)  # type: ignore[attr-defined]


def _posted_pk(request: HttpRequest, name: str) -> int | None:
    """A row id from the form: absent is None; anything but digits is no such row (404), never a 500."""
    value = request.POST.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise Http404("No such row.")
    return int(value)


def _base(**context: Any) -> dict[str, Any]:
    return {"nav": "settings", "settings_tab": "integrations", **context}


@admins_only
def index(request: HttpRequest) -> HttpResponse:
    """The open migration, or the form to start one from a connection of the workspace."""
    membership = request.membership  # type: ignore[attr-defined]
    migrations = visible(membership, Migration)
    current = migrations.filter(status=Migration.Status.OPEN).first()
    if request.method == "POST":
        connection = get_visible_or_404(membership, Connection, pk=_posted_pk(request, "connection") or 0)
        try:
            migration = services.migration_start(
                workspace=membership.workspace, old_connection=connection, user=request.user
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect("crm_migration:index")
        messages.success(
            request, f"Migration from {migration.old_crm_label} started; key data snapshot taken."
        )
        return redirect("crm_migration:detail", pk=migration.pk)
    if current is not None:
        return redirect("crm_migration:detail", pk=current.pk)
    return render(
        request,
        "crm_migration/index.html",
        _base(connections=visible(membership, Connection).order_by("crm", "pk"), past=migrations[:10]),
    )


def _hubspot_fields(connection: Connection | None) -> tuple[list[Any], str]:
    """HubSpot's company properties for the pickers, read live (cached a few minutes); an error says why."""
    if connection is None or not connection.encrypted_tokens:
        return [], ""
    try:
        return list(Catalog(connection).fields(ObjectType.CUSTOMERS)), ""
    except (ConnectorError, LookupError, NotImplementedError) as error:
        return [], f"HubSpot's properties could not be listed ({error}); type the property's internal name."


def _undo_url(migration: Migration, run_id: int | None) -> str:
    """The integrations app's "Undo a bad first sync" for the run (its bulk delete of the customers the run
    created, with a preview and a typed confirmation)."""
    connection = migration.new_connection
    if connection is None or run_id is None:
        return ""
    try:
        return reverse("integrations:run_undo", args=[connection.pk, run_id])
    except NoReverseMatch:
        return reverse("integrations:run", args=[connection.pk, run_id])


@admins_only
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    migration = _migration(request, pk)
    step_rows = [
        {
            "key": key,
            "label": Step(key).label,
            "passed": migration.passed(key),
            "reached": migration.reached(key),
            "actionable": migration.actionable(key),
            "check": migration.check_of(key),
            "items": [
                (item, label, item in (migration.ticked or []))
                for item, label in services.checklist_items(key, migration)
            ],
            "applied": (migration.applied_at or {}).get(key, ""),
            "run": selectors.latest_run(migration, key) if key in HUBSPOT_STEPS else None,
        }
        for key in STEP_ORDER
        if key != Step.DONE
    ]
    hubspot_fields: list[Any] = []
    hubspot_error = ""
    if migration.reached(Step.STEP_A) and migration.is_open:
        hubspot_fields, hubspot_error = _hubspot_fields(migration.new_connection)
    new = migration.new_connection
    customers_setting = (
        new.object_settings.filter(object_type=ObjectType.CUSTOMERS).first() if new is not None else None
    )
    context = _base(
        migration=migration,
        steps=step_rows,
        old=migration.old_connection,
        fill=selectors.old_id_fill_rate(migration) if migration.old_connection else None,
        old_runs=migration.old_connection.runs.filter(dry_run=False)[:1] if migration.old_connection else [],
        custom_fields=CustomField.objects.filter(
            workspace=migration.workspace, target=CustomField.Target.CUSTOMER
        ),
        candidates=selectors.hubspot_candidates(migration),
        hubspot_fields=hubspot_fields,
        hubspot_error=hubspot_error,
        selection=((customers_setting.options or {}).get("selection") or {}) if customers_setting else {},
        merge_keys=((customers_setting.options or {}).get("merge_keys") or []) if customers_setting else [],
        step_b_choices=services.step_b_choices(migration),
        outputs=services.output_mappings(migration),
        third_party=selectors.third_party_report(migration) if migration.reached(Step.THIRD_PARTY) else None,
    )
    return render(request, "crm_migration/detail.html", context)


@admins_only
@require_GET
def old_id_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The fill rate, refreshed in place (HTMX) while the old connection's sync runs."""
    migration = _migration(request, pk)
    return render(
        request,
        "crm_migration/detail.html#fill-rate",
        _base(migration=migration, fill=selectors.old_id_fill_rate(migration), old=migration.old_connection),
    )


@admins_only
@require_GET
def validation(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    migration = _migration(request, pk)
    if step not in HUBSPOT_STEPS:
        raise Http404("No validation page for this step.")
    report = selectors.validation_report(migration, step)
    return render(
        request,
        "crm_migration/validation.html",
        _base(
            migration=migration,
            step=step,
            step_label=Step(step).label,
            report=report,
            problems=report.problems(),
            check=migration.check_of(step),
            undo_url=_undo_url(migration, report.run.pk if report.run else None),
            created_by_run=run_created_customers_remaining(run=report.run) if report.run else 0,
        ),
    )


# ---- actions: one POST each, then back to the step -------------------------------------------------------------


def _tick(request: HttpRequest, migration: Migration) -> str:
    step = request.POST.get("step", "")
    if step not in (Step.PREPARATION, Step.THIRD_PARTY):
        raise ValidationError("Only the preparation and third-party steps have checklists.")
    services.checklist_tick(migration=migration, step=step, ticked=request.POST.getlist("items"))
    return "Checklist saved."


def _old_id_field(request: HttpRequest, migration: Migration) -> str:
    picked = _posted_pk(request, "field")
    field = None
    if picked:
        field = get_visible_or_404(request.membership, CustomField, pk=picked)  # type: ignore[attr-defined]
    field = services.old_id_field_set(
        migration=migration,
        field=field,
        label=request.POST.get("label", "Old CRM ID"),
        key=request.POST.get("key", ""),
        type=request.POST.get("type") or CustomField.Type.TEXT,
    )
    return (
        f"'{field.label}' now receives each customer's {migration.old_crm_label} id. "
        "Let one sync run to fill it."
    )


def _old_sync(request: HttpRequest, migration: Migration) -> str:
    services.old_connection_sync(migration=migration)
    return f"{migration.old_crm_label} sync started; the fill rate below updates as it runs."


def _disable_old(request: HttpRequest, migration: Migration) -> str:
    services.old_connection_disable(migration=migration)
    return f"Every block of the {migration.old_crm_label} connection is Disabled, and so is the connection."


def _delete_old(request: HttpRequest, migration: Migration) -> str:
    if request.POST.get("confirm", "").strip().upper() != "DELETE":
        raise ValidationError("Type DELETE to confirm the deletion of the old connection.")
    services.old_connection_delete(migration=migration)
    return f"The {migration.old_crm_label} connection is deleted. Customers, their history and data are kept."


def _attach(request: HttpRequest, migration: Migration) -> str:
    picked = _posted_pk(request, "connection")
    connection = None
    if picked:
        connection = get_visible_or_404(request.membership, Connection, pk=picked)  # type: ignore[attr-defined]
    connection = services.new_connection_attach(migration=migration, connection=connection)
    return f"HubSpot account {connection.remote_account_id} is the migration's new connection."


def _lines(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


def _apply_a(request: HttpRequest, migration: Migration) -> str:
    services.step_a_apply(
        migration=migration,
        old_id_property=request.POST.get("old_id_property", ""),
        lifecycle_stages=_lines(request.POST.get("lifecycle_stages", "")),
        filter_property=request.POST.get("filter_property", ""),
        filter_values=_lines(request.POST.get("filter_values", "")),
    )
    return (
        "Step A applied: Customers and Contacts Input only, minimal fields. Now preview and apply the sync."
    )


def _apply_b(request: HttpRequest, migration: Migration) -> str:
    fields = {local: request.POST.get(f"map-{local}", "") for local, _ in services.step_b_choices(migration)}
    services.step_b_apply(migration=migration, fields=fields)
    return (
        "Step B applied: merging on the HubSpot Record ID only; the chosen fields go to HubSpot, Output only."
    )


def _apply_c(request: HttpRequest, migration: Migration) -> str:
    services.step_c_apply(migration=migration, two_way=request.POST.getlist("two_way"))
    return "Step C applied: the chosen fields are Two-ways. Preview and apply the sync."


def _check(request: HttpRequest, migration: Migration) -> str:
    step = request.POST.get("step", "")
    user = request.user
    if step in HUBSPOT_STEPS:
        check = services.hubspot_step_check(
            migration=migration,
            step=step,
            user=user,
            accept_missing=request.POST.get("accept_missing") == "on",
        )
    else:
        checks: dict[str, Callable[..., dict[str, Any]]] = {
            Step.PREPARATION: services.preparation_check,
            Step.OLD_ID: services.old_id_check,
            Step.OLD_CONNECTION: services.old_connection_check,
            Step.CONNECT: services.connect_check,
            Step.THIRD_PARTY: services.third_party_check,
        }
        if step not in checks:
            raise ValidationError("Unknown step.")
        check = checks[step](migration=migration, user=user)
    if not check["ok"]:
        raise ValidationError(["Not passed yet.", *check["problems"]])
    return f"'{Step(step).label}' passed its check."


def _abandon(request: HttpRequest, migration: Migration) -> str:
    services.migration_abandon(migration=migration)
    return "Migration abandoned. The connections stay as they are now."


ACTIONS: dict[str, Callable[[HttpRequest, Migration], str]] = {
    "tick": _tick,
    "old-id-field": _old_id_field,
    "old-sync": _old_sync,
    "disable-old": _disable_old,
    "delete-old": _delete_old,
    "attach": _attach,
    "apply-a": _apply_a,
    "apply-b": _apply_b,
    "apply-c": _apply_c,
    "check": _check,
    "abandon": _abandon,
}


@admins_only
@require_POST
def act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    migration = _migration(request, pk)
    if action == "preview":
        step = request.POST.get("step", "")
        try:
            run = services.hubspot_sync_preview(migration=migration, step=step)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect(f"{reverse('crm_migration:detail', args=[pk])}#step-{step}")
        messages.success(
            request,
            "Skalin is reading HubSpot to show what the sync would do. Apply it, then come back to the migration.",
        )
        return redirect("integrations:run", pk=run.connection_id, run_id=run.pk)
    handler = ACTIONS.get(action)
    if handler is None:
        raise Http404("Unknown action.")
    anchor = request.POST.get("step", "")
    try:
        messages.success(request, handler(request, migration))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    if action == "check" and anchor in HUBSPOT_STEPS and request.POST.get("from") == "validation":
        return redirect("crm_migration:validation", pk=pk, step=anchor)
    return redirect(f"{reverse('crm_migration:detail', args=[pk])}{'#step-' + anchor if anchor else ''}")
