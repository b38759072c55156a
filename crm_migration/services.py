"""The migration assistant's actions, in the order of the integration guide's last section. Each step acts
only once every step before it passed its check; re-doing a step clears its check and those after it.
Connections are changed through integrations.services, customer fields through customers.services."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from customers.models import CustomField
from customers.services import custom_field_create
from integrations import safety
from integrations import services as integration_services
from integrations.models import (
    Connection,
    FieldDirection,
    FieldMapping,
    ObjectSetting,
    ObjectType,
    SyncMode,
    SyncRun,
)
from integrations.tasks import sync_connection_task
from workspaces.models import Workspace

from . import selectors
from .models import STEP_ORDER, Migration, Step

ID_FIELD = "@id"
HUBSPOT_RECORD_ID = "hs_object_id"
PREPARATION_ITEMS = (
    ("super_admin", "The HubSpot Super Admin who will own the Skalin connection is identified (and keeps the role)."),
    ("data_transferred", "Customer data is transferred from the old CRM to HubSpot (fields, contacts, deals)."),
    ("old_id_property", "Each HubSpot company keeps the old CRM id in a custom property of the same type."),
    ("selection_filter", "The sync filter is decided: lifecycle stage (default Customer) or a yes/no property."),
    ("lifecycle_stages", "Every company to sync has the right lifecycle stage (or filter value) in HubSpot."),
    ("won_deal_workflow", "The HubSpot workflow moving a company to Customer on a won deal is in place."),
)  # fmt: skip
OTHER_TOOLS_ITEM = "other_tools"
# Fields step B may push to HubSpot (besides custom fields): what Skalin qualified and HubSpot must not erase.
STEP_B_FIELDS = ("owner", "phase", "health_profile", "tags")


# ---- the migration ------------------------------------------------------------------------------------------


def _now_iso() -> str:
    return timezone.now().isoformat()


def _require_open(migration: Migration) -> None:
    if not migration.is_open:
        raise ValidationError(f"This migration is {migration.get_status_display().lower()}; start a new one.")


def _require_reached(migration: Migration, step: str) -> None:
    _require_open(migration)
    if migration.frozen(step):
        raise ValidationError(
            f"The {migration.old_crm_label} connection is deleted: '{Step(step).label}' is done and cannot be "
            "redone."
        )
    if not migration.reached(step):
        pending = next(s for s in STEP_ORDER if not migration.passed(s))
        raise ValidationError(
            f"'{Step(step).label}' waits for '{Step(pending).label}' to pass its check first."
        )


def _clear_checks_from(migration: Migration, step: str) -> None:
    """Redoing a step invalidates its check and every later one."""
    later = STEP_ORDER[STEP_ORDER.index(step) :]
    migration.checks = {key: value for key, value in (migration.checks or {}).items() if key not in later}
    if STEP_ORDER.index(migration.step) > STEP_ORDER.index(step):
        migration.step = step


def _record_check(
    migration: Migration, step: str, *, ok: bool, user: Any, problems: Sequence[str], **summary: Any
) -> dict[str, Any]:
    check = {
        "ok": ok,
        "at": _now_iso(),
        "by": getattr(user, "email", "") or "",
        "problems": list(problems),
        **summary,
    }
    _clear_checks_from(migration, step)
    migration.checks = {**(migration.checks or {}), step: check}
    if ok:
        migration.step = STEP_ORDER[STEP_ORDER.index(step) + 1]
        if migration.step == Step.DONE:
            migration.status, migration.finished_at = Migration.Status.COMPLETED, timezone.now()
    migration.save()
    return check


def migration_start(*, workspace: Workspace, old_connection: Connection, user: Any) -> Migration:
    """Open the workspace's migration from `old_connection` to HubSpot, with the key data as they are."""
    if old_connection.workspace_id != workspace.pk:
        raise ValidationError("That connection belongs to another workspace.")
    if Migration.objects.filter(workspace=workspace, status=Migration.Status.OPEN).exists():
        raise ValidationError(
            "A migration is already in progress in this workspace; finish or abandon it first."
        )
    try:
        with transaction.atomic():
            return Migration.objects.create(
                workspace=workspace,
                old_connection=old_connection,
                old_connection_pk=old_connection.pk,
                old_crm=old_connection.crm,
                old_crm_label=old_connection.get_crm_display(),
                old_account_id=old_connection.remote_account_id,
                started_by=user,
                before=selectors.snapshot(workspace=workspace),
                old_links=_old_links(old_connection),
            )
    except IntegrityError as race:
        raise ValidationError("A migration is already in progress in this workspace.") from race


def _old_links(connection: Connection) -> dict[str, str]:
    """The connection's synced customers and their ids there: what the migration must find again in
    HubSpot. Taken at the start and refreshed until the connection is deleted."""
    return {str(pk): ref.external_id for pk, ref in selectors.old_customer_refs(connection).items()}


def migration_abandon(*, migration: Migration) -> Migration:
    """Stop following the guide here; what was done in the CRMs and connections stays as it is."""
    _require_open(migration)
    migration.status, migration.finished_at = Migration.Status.ABANDONED, timezone.now()
    migration.save(update_fields=["status", "finished_at", "updated_at"])
    return migration


def checklist_items(step: str, migration: Migration | None = None) -> list[tuple[str, str]]:
    if step == Step.PREPARATION:
        return list(PREPARATION_ITEMS)
    if step == Step.THIRD_PARTY and migration is not None:
        items = []
        for keys in selectors.third_party_report(migration).sources:
            label = keys.source.capitalize()
            items.append(
                (
                    f"{keys.source}:customer_id",
                    f"{label}: the Customer ID (Ref ID) is set to the HubSpot company id.",
                )
            )
            items.append(
                (
                    f"{keys.source}:contact_id",
                    f"{label}: the Contact ID (Ref ID) is set to the HubSpot contact id.",
                )
            )
        others = Connection.objects.filter(workspace=migration.workspace).exclude(
            pk__in=[migration.new_connection_id or 0, migration.old_connection_pk]
        )
        for other in others:
            items.append(
                (
                    f"connection:{other.pk}",
                    f"{other.get_crm_display()} account {other.remote_account_id or '—'}: its Customer and "
                    "Contact IDs follow the HubSpot ids (it no longer fills the Customer ID).",
                )
            )
        items.append(
            (
                OTHER_TOOLS_ITEM,
                "Other tools (VoIP, ticketing…) that used the old CRM id now use the HubSpot id.",
            )
        )
        return items
    return []


def checklist_tick(*, migration: Migration, step: str, ticked: Iterable[str]) -> Migration:
    """Record which items of a checklist outside Skalin the Admin ticked; unknown items are refused."""
    _require_reached(migration, step)
    known = {key for key, _ in checklist_items(step, migration)}
    chosen = set(ticked)
    if chosen - known:
        raise ValidationError(f"Unknown checklist item(s): {', '.join(sorted(chosen - known))}.")
    others = [item for item in migration.ticked or [] if item not in known]
    migration.ticked = sorted([*others, *chosen])
    _clear_checks_from(migration, step)
    migration.save()
    return migration


# ---- step: preparation --------------------------------------------------------------------------------------


def preparation_check(*, migration: Migration, user: Any) -> dict[str, Any]:
    _require_reached(migration, Step.PREPARATION)
    missing = [label for key, label in PREPARATION_ITEMS if key not in (migration.ticked or [])]
    problems = [f"Not ticked: {label}" for label in missing]
    return _record_check(migration, Step.PREPARATION, ok=not problems, user=user, problems=problems)


# ---- step: Old CRM ID ---------------------------------------------------------------------------------------


def _mapping_rows(setting: ObjectSetting) -> list[dict[str, Any]]:
    return [
        {
            "local_field": m.local_field,
            "remote_field": m.remote_field,
            "direction": m.direction,
            "clearable": m.clearable,
            "value_table": m.value_table,
        }
        for m in setting.mappings.all()
    ]


def _setting(connection: Connection, object_type: str) -> ObjectSetting:
    """The block as it is; a missing one is a Disabled one (never a default mode switched on unasked)."""
    setting, _ = ObjectSetting.objects.get_or_create(
        connection=connection, object_type=object_type, defaults={"mode": SyncMode.DISABLED}
    )
    return setting


def old_id_field_set(
    *,
    migration: Migration,
    field: CustomField | None = None,
    label: str = "Old CRM ID",
    key: str = "",
    type: str = CustomField.Type.TEXT,
) -> CustomField:
    """Create the Old CRM ID customer field (or take an existing one) and map the old connection's own
    record id into it (Customers block, `@id` -> custom:<key>, input). The mapping change re-reads every
    customer at the next sync, which fills the field."""
    _require_reached(migration, Step.OLD_ID)
    connection = migration.old_connection
    if connection is None:
        raise ValidationError(
            "The old connection no longer exists; the Old CRM ID cannot be mapped any more."
        )
    if type not in (CustomField.Type.TEXT, CustomField.Type.NUMBER):
        raise ValidationError({"type": "A CRM id is text or a number."})
    with transaction.atomic():
        if field is None:
            key = slugify(key or label).replace("-", "_")[:60]
            if not key:
                raise ValidationError({"label": "Give the field a name."})
            field = custom_field_create(
                workspace=migration.workspace,
                target=CustomField.Target.CUSTOMER,
                key=key,
                label=label.strip() or "Old CRM ID",
                type=type,
            )
        elif field.workspace_id != migration.workspace_id or field.target != CustomField.Target.CUSTOMER:
            raise ValidationError({"field": "Pick a customer custom field of this workspace."})
        setting = _setting(connection, ObjectType.CUSTOMERS)
        local = f"custom:{field.key}"
        rows = [row for row in _mapping_rows(setting) if row["local_field"] != local]
        rows.append({"local_field": local, "remote_field": ID_FIELD, "direction": FieldDirection.INPUT})
        if setting.mode == SyncMode.DISABLED:
            raise ValidationError(
                f"The Customers block of the {migration.old_crm_label} connection is Disabled: it cannot fill "
                "the field. Set it to Input only in its setup first."
            )
        integration_services.object_setting_update(
            connection=connection, object_type=ObjectType.CUSTOMERS, mode=setting.mode, mappings=rows
        )
        migration.old_id_field, migration.old_id_field_key = field, field.key
        migration.applied_at = {**(migration.applied_at or {}), Step.OLD_ID: _now_iso()}
        _clear_checks_from(migration, Step.OLD_ID)
        migration.save()
    return field


def _queue_run(connection: Connection) -> SyncRun:
    """A run the page can follow, started once the transaction commits (as "Sync now" does)."""
    run = SyncRun.objects.create(
        connection=connection, trigger=SyncRun.Trigger.MANUAL, status=SyncRun.Status.QUEUED
    )
    transaction.on_commit(
        lambda: sync_connection_task.delay(connection.pk, SyncRun.Trigger.MANUAL, queued_run_id=run.pk)
    )
    return run


def old_connection_sync(*, migration: Migration) -> SyncRun:
    """Let one sync of the old connection run, to fill the Old CRM ID (it only adds that field's values)."""
    _require_reached(migration, Step.OLD_ID)
    connection = migration.old_connection
    if connection is None:
        raise ValidationError("The old connection no longer exists.")
    if not migration.old_id_field_key:
        raise ValidationError("Create or pick the Old CRM ID field first.")
    if connection.status != Connection.Status.ACTIVE:
        raise ValidationError(
            f"The {migration.old_crm_label} connection is {connection.get_status_display().lower()}; "
            "it must be active for one last sync."
        )
    return _queue_run(connection)


def old_id_check(*, migration: Migration, user: Any) -> dict[str, Any]:
    _require_reached(migration, Step.OLD_ID)
    rate = selectors.old_id_fill_rate(migration)
    if migration.old_connection is not None:
        migration.old_links = _old_links(migration.old_connection)
    problems = []
    if not migration.old_id_field_key:
        problems.append("No Old CRM ID field is chosen.")
    elif rate.total == 0:
        problems.append(f"The {migration.old_crm_label} connection has no synced customers.")
    elif not rate.complete:
        problems.append(f"{rate.total - rate.filled} of {rate.total} customers have no Old CRM ID yet.")
    return _record_check(
        migration,
        Step.OLD_ID,
        ok=not problems,
        user=user,
        problems=problems,
        filled=rate.filled,
        total=rate.total,
    )


# ---- step: disable, then delete the old connection --------------------------------------------------------


def old_connection_disable(*, migration: Migration) -> Connection:
    """Every block Disabled, then the connection itself: it reads and writes nothing any more."""
    _require_reached(migration, Step.OLD_CONNECTION)
    connection = migration.old_connection
    if connection is None:
        raise ValidationError("The old connection is already deleted.")
    with transaction.atomic():
        for setting in ObjectSetting.objects.filter(connection=connection):
            if setting.mode != SyncMode.DISABLED:
                integration_services.object_setting_update(
                    connection=connection, object_type=setting.object_type, mode=SyncMode.DISABLED
                )
        integration_services.connection_disable(connection=connection)
    return connection


def old_connection_delete(*, migration: Migration) -> None:
    """Delete the disabled old connection (customers, history and data stay). Its synced customers and
    their ids are kept on the migration first, and the key data snapshot is retaken: from here on nothing
    but HubSpot writes to these customers, so any later difference is the migration's."""
    _require_reached(migration, Step.OLD_CONNECTION)
    connection = migration.old_connection
    if connection is None:
        raise ValidationError("The old connection is already deleted.")
    blocks = ObjectSetting.objects.filter(connection=connection).exclude(mode=SyncMode.DISABLED)
    if connection.status != Connection.Status.DISABLED or blocks.exists():
        raise ValidationError("Disable every block and the connection first; then it can be deleted.")
    if connection.runs.filter(status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]).exists():
        raise ValidationError("A sync of the old connection is still running; delete it once it ends.")
    with transaction.atomic():
        migration.old_links = _old_links(connection)
        migration.before = selectors.snapshot(workspace=migration.workspace)
        migration.old_connection = None
        migration.save()
        integration_services.connection_delete(connection=connection)


def old_connection_check(*, migration: Migration, user: Any) -> dict[str, Any]:
    _require_reached(migration, Step.OLD_CONNECTION)
    problems = []
    if Connection.objects.filter(pk=migration.old_connection_pk).exists():
        problems.append(f"The {migration.old_crm_label} connection still exists: disable it, then delete it.")
    return _record_check(
        migration, Step.OLD_CONNECTION, ok=not problems, user=user, problems=problems,
        old_customers=len(migration.old_links or {}),
    )  # fmt: skip


# ---- step: connect HubSpot ------------------------------------------------------------------------------------


def new_connection_attach(*, migration: Migration, connection: Connection | None = None) -> Connection:
    """Take the workspace's HubSpot connection (the newest, or the one named) as the migration's target.
    It must fill the Customer ID: it takes it over when no other connection does."""
    _require_reached(migration, Step.CONNECT)
    candidates = selectors.hubspot_candidates(migration)
    if connection is None:
        if not candidates:
            raise ValidationError(
                "No HubSpot connection yet: connect HubSpot first (Connect me), then come back."
            )
        connection = candidates[0]
    elif connection.pk not in {c.pk for c in candidates}:
        raise ValidationError("That is not a HubSpot connection of this workspace.")
    with transaction.atomic():
        if not connection.owns_customer_id:
            owner = (
                Connection.objects.filter(workspace=migration.workspace, owns_customer_id=True)
                .exclude(pk=connection.pk)
                .first()
            )
            if owner is not None:
                raise ValidationError(
                    f"{owner} fills the Customer ID; only one connection may. Delete or reconfigure it first."
                )
            connection.owns_customer_id = True
            connection.save(update_fields=["owns_customer_id", "updated_at"])
        integration_services.settings_create_defaults(connection=connection)
        migration.new_connection = connection
        _clear_checks_from(migration, Step.CONNECT)
        migration.save()
    return connection


def connect_check(*, migration: Migration, user: Any) -> dict[str, Any]:
    _require_reached(migration, Step.CONNECT)
    connection = migration.new_connection
    problems = []
    if connection is None:
        problems.append("No HubSpot connection is attached: connect HubSpot, then use it here.")
    else:
        connection.refresh_from_db()
        if not connection.encrypted_tokens or connection.status == Connection.Status.RECONNECT_NEEDED:
            problems.append("The HubSpot connection needs a (re)connect before it can sync.")
        if not connection.owns_customer_id:
            problems.append("The HubSpot connection does not fill the Customer ID.")
    return _record_check(
        migration, Step.CONNECT, ok=not problems, user=user, problems=problems,
        connection=connection.pk if connection else None,
    )  # fmt: skip


# ---- HubSpot steps A, B, C ------------------------------------------------------------------------------------


def _hubspot(migration: Migration, step: str) -> Connection:
    _require_reached(migration, step)
    connection = migration.new_connection
    if connection is None:
        raise ValidationError("No HubSpot connection is attached to the migration.")
    return connection


def _mark_applied(migration: Migration, step: str) -> None:
    migration.applied_at = {**(migration.applied_at or {}), step: _now_iso()}
    _clear_checks_from(migration, step)
    migration.save()


def step_a_apply(
    *,
    migration: Migration,
    old_id_property: str,
    lifecycle_stages: Sequence[str] | None = None,
    filter_property: str = "",
    filter_values: Sequence[str] = (),
) -> ObjectSetting:
    """Step A: Customers Input only with the minimal fields; Customer ID <- HubSpot Record ID; the old id
    read from `old_id_property` into the Old CRM ID field; merge keys: old id, name, domain. Contacts by
    their HubSpot id and email. Agreements and interactions stay off; nothing goes back to HubSpot."""
    connection = _hubspot(migration, Step.STEP_A)
    old_id_property = old_id_property.strip()
    if not old_id_property:
        raise ValidationError(
            {"old_id_property": "Name the HubSpot company property that holds the old CRM id."}
        )
    if not migration.old_id_field_key:
        raise ValidationError("The migration has no Old CRM ID field.")
    old_id_local = f"custom:{migration.old_id_field_key}"
    with transaction.atomic():
        customers = _setting(connection, ObjectType.CUSTOMERS)
        options = {key: value for key, value in (customers.options or {}).items() if key != "data_back"}
        selection = dict(options.get("selection") or {})
        if lifecycle_stages is not None:
            stages = [stage.strip() for stage in lifecycle_stages if stage.strip()]
            if not stages and not filter_property.strip():
                raise ValidationError(
                    {"lifecycle_stages": "Choose at least one lifecycle stage, or a filter property."}
                )
            selection["lifecycle_stages"] = stages
        if filter_property.strip():
            values = [value.strip() for value in filter_values if value.strip()]
            if not values:
                raise ValidationError({"filter_values": "Give the filter property's value(s) to sync."})
            selection["filter_property"], selection["filter_values"] = filter_property.strip(), values
        elif lifecycle_stages is not None:
            selection.pop("filter_property", None)
            selection.pop("filter_values", None)
        options["selection"] = selection
        options["merge_keys"] = [old_id_local, "name", "domain"]
        setting = integration_services.object_setting_update(
            connection=connection,
            object_type=ObjectType.CUSTOMERS,
            mode=SyncMode.INPUT,
            options=options,
            mappings=[
                {"local_field": "name", "remote_field": "name", "direction": FieldDirection.INPUT},
                {"local_field": "domain", "remote_field": "domain", "direction": FieldDirection.INPUT},
                {
                    "local_field": "ref_id",
                    "remote_field": HUBSPOT_RECORD_ID,
                    "direction": FieldDirection.INPUT,
                },
                {
                    "local_field": old_id_local,
                    "remote_field": old_id_property,
                    "direction": FieldDirection.INPUT,
                },
            ],
        )
        contacts = _setting(connection, ObjectType.CONTACTS)
        integration_services.object_setting_update(
            connection=connection,
            object_type=ObjectType.CONTACTS,
            mode=SyncMode.INPUT,
            options=contacts.options,
            mappings=[
                {"local_field": "email", "remote_field": "email", "direction": FieldDirection.INPUT},
                {
                    "local_field": "ref_id",
                    "remote_field": HUBSPOT_RECORD_ID,
                    "direction": FieldDirection.INPUT,
                },
            ],
        )
        for object_type in (ObjectType.AGREEMENTS, ObjectType.INTERACTIONS):
            integration_services.object_setting_update(
                connection=connection, object_type=object_type, mode=SyncMode.DISABLED
            )
        migration.old_id_property = old_id_property
        _mark_applied(migration, Step.STEP_A)
    return setting


def step_b_choices(migration: Migration) -> list[tuple[str, str]]:
    """The Skalin fields step B may push: owner, stage, profile, tags and the customer custom fields (the
    Old CRM ID aside)."""
    labels = {
        "owner": "CSM owner",
        "phase": "Customer stage",
        "health_profile": "Health profile",
        "tags": "Tags",
    }
    rows = [(key, labels[key]) for key in STEP_B_FIELDS]
    rows += [
        (f"custom:{field.key}", field.label)
        for field in CustomField.objects.filter(
            workspace=migration.workspace, target=CustomField.Target.CUSTOMER
        )
        if field.key != migration.old_id_field_key
    ]
    return rows


def step_b_apply(*, migration: Migration, fields: dict[str, str]) -> ObjectSetting:
    """Step B: merge on the HubSpot Record ID only (the old id leaves the merge keys), and push the chosen
    Skalin fields to HubSpot, Output only (`fields`: Skalin field -> HubSpot property)."""
    connection = _hubspot(migration, Step.STEP_B)
    allowed = dict(step_b_choices(migration))
    chosen = {local: remote.strip() for local, remote in fields.items() if remote and remote.strip()}
    unknown = set(chosen) - set(allowed)
    if unknown:
        raise ValidationError(f"These fields cannot be pushed in step B: {', '.join(sorted(unknown))}.")
    if not chosen:
        raise ValidationError("Choose at least one Skalin field to push, with its HubSpot property.")
    taken = {}
    for local, remote in chosen.items():
        if remote in taken or remote in (HUBSPOT_RECORD_ID, "name", "domain", migration.old_id_property):
            raise ValidationError(
                f"HubSpot property '{remote}' is already mapped; give {allowed[local]} its own."
            )
        taken[remote] = local
    with transaction.atomic():
        setting = _setting(connection, ObjectType.CUSTOMERS)
        rows = [row for row in _mapping_rows(setting) if row["local_field"] not in chosen]
        rows += [
            {"local_field": local, "remote_field": remote, "direction": FieldDirection.OUTPUT}
            for local, remote in chosen.items()
        ]
        options = {**(setting.options or {}), "merge_keys": ["ref_id"]}
        setting = integration_services.object_setting_update(
            connection=connection, object_type=ObjectType.CUSTOMERS, mode=setting.mode, options=options,
            mappings=rows,
        )  # fmt: skip
        _mark_applied(migration, Step.STEP_B)
    return setting


def output_mappings(migration: Migration) -> list[FieldMapping]:
    connection = migration.new_connection
    if connection is None:
        return []
    return list(
        FieldMapping.objects.filter(
            object_setting__connection=connection,
            object_setting__object_type=ObjectType.CUSTOMERS,
            direction__in=[FieldDirection.OUTPUT, FieldDirection.TWO_WAYS],
        ).order_by("local_field")
    )


def step_c_apply(*, migration: Migration, two_way: Iterable[str]) -> ObjectSetting:
    """Step C: the chosen output fields become Two-ways (the others stay Output only)."""
    connection = _hubspot(migration, Step.STEP_C)
    chosen = set(two_way)
    pushed = {m.local_field for m in output_mappings(migration)}
    if not chosen:
        raise ValidationError("Choose the field(s) to switch to Two-ways.")
    if chosen - pushed:
        raise ValidationError(
            f"Only fields pushed in step B can become Two-ways; not: {', '.join(sorted(chosen - pushed))}."
        )
    with transaction.atomic():
        setting = _setting(connection, ObjectType.CUSTOMERS)
        rows = _mapping_rows(setting)
        for row in rows:
            if row["local_field"] in chosen:
                row["direction"] = FieldDirection.TWO_WAYS
            elif row["local_field"] in pushed:
                row["direction"] = FieldDirection.OUTPUT
        setting = integration_services.object_setting_update(
            connection=connection, object_type=ObjectType.CUSTOMERS, mode=setting.mode, mappings=rows
        )
        _mark_applied(migration, Step.STEP_C)
    return setting


def hubspot_sync_preview(*, migration: Migration, step: str) -> SyncRun:
    """Preview the sync of the step's configuration (a plan: nothing written until an Admin applies it on
    the run page), as every changed configuration is."""
    if step not in (Step.STEP_A, Step.STEP_B, Step.STEP_C):
        raise ValidationError("Only the HubSpot steps sync.")
    connection = _hubspot(migration, step)
    if step not in (migration.applied_at or {}):
        raise ValidationError(f"Apply the configuration of '{Step(step).label}' first.")
    return safety.plan_start(connection=connection)


def _configuration_drift(migration: Migration, step: str) -> list[str]:
    """The step's configuration must still be in place (a save in the connection's setup may change it):
    the merge fields, and the Customer ID from the HubSpot Record ID."""
    connection = migration.new_connection
    if connection is None or step not in (migration.applied_at or {}):
        return []
    setting = _setting(connection, ObjectType.CUSTOMERS)
    expected = (
        ["ref_id"] if step != Step.STEP_A else [f"custom:{migration.old_id_field_key}", "name", "domain"]
    )
    found = []
    merge_keys = list((setting.options or {}).get("merge_keys") or [])
    if merge_keys != expected:
        found.append(
            f"The merge fields changed since '{Step(step).label}' was applied ({', '.join(merge_keys) or 'none'}; "
            f"expected {', '.join(expected)}): apply the step again."
        )
    ref = setting.mappings.filter(local_field="ref_id").first()
    if ref is None or ref.remote_field not in (HUBSPOT_RECORD_ID, ID_FIELD):
        found.append("The Customer ID is no longer mapped from the HubSpot Record ID: apply the step again.")
    return found


def hubspot_step_check(
    *, migration: Migration, step: str, user: Any, accept_missing: bool = False
) -> dict[str, Any]:
    """The validation after a HubSpot step: a sync finished since the configuration, no duplicates, nothing
    quarantined, no key data lost, every old customer now under its HubSpot Customer ID (or confirmed left
    out of the HubSpot selection)."""
    if step not in (Step.STEP_A, Step.STEP_B, Step.STEP_C):
        raise ValidationError("Only the HubSpot steps have a sync validation.")
    _hubspot(migration, step)
    problems = []
    if step not in (migration.applied_at or {}):
        problems.append(f"The configuration of '{Step(step).label}' was not applied.")
    problems += _configuration_drift(migration, step)
    report = selectors.validation_report(migration, step)
    problems += report.problems(accept_missing=accept_missing)
    return _record_check(
        migration, step, ok=not problems, user=user, problems=problems,
        accepted_missing=report.missing_count if accept_missing else 0,
        **selectors.report_summary(report),
    )  # fmt: skip


# ---- step: third-party keys -----------------------------------------------------------------------------------


def third_party_check(*, migration: Migration, user: Any) -> dict[str, Any]:
    _require_reached(migration, Step.THIRD_PARTY)
    report = selectors.third_party_report(migration)
    problems = []
    if not report.stripe_unchanged:
        problems.append(
            f"Stripe ids changed: {report.stripe_before} before, {report.stripe_after} now, "
            f"{len(report.stripe_changed)} customer(s) differ."
        )
    missing = [
        label for key, label in checklist_items(Step.THIRD_PARTY, migration) if key not in migration.ticked
    ]
    problems += [f"Not ticked: {label}" for label in missing]
    return _record_check(
        migration, Step.THIRD_PARTY, ok=not problems, user=user, problems=problems,
        stripe_before=report.stripe_before, stripe_after=report.stripe_after,
        no_longer_matching={keys.source: keys.no_longer_matching for keys in report.sources},
    )  # fmt: skip
