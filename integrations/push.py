"""Writing Skalin's values to the CRM: mapped output fields (two-ways), manual interactions, and the
Healthscore and CSM Pulse. Every value written is remembered on its link, so that seeing it come back is
recognised as our own echo (R10); score pushes are read back, and a push the CRM ignores makes the run
partial."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

from customers.models import Contact, Customer
from interactions.models import Interaction, InteractionKind

from .base import ConnectorError
from .models import ExternalRef, FieldDirection, FieldMapping, ObjectSetting, ObjectType, SyncState
from .sync import RunContext, heartbeat

OUTPUT_DIRECTIONS = (FieldDirection.OUTPUT, FieldDirection.TWO_WAYS)


def output_mappings(setting: ObjectSetting) -> list[FieldMapping]:
    return [m for m in setting.mappings.all() if m.direction in OUTPUT_DIRECTIONS and m.remote_field != "@id"]


def _reverse(table: dict[str, str], value: str) -> str:
    return next((crm for crm, local in (table or {}).items() if local == value), value)


def customer_remote_value(customer: Customer, mapping: FieldMapping) -> Any:
    """A customer's value as the CRM field of `mapping` expects it (value tables read backwards)."""
    local = mapping.local_field
    if local in ("name", "domain", "ref_id"):
        return getattr(customer, local)
    if local == "owner":
        return customer.owner.email if customer.owner else ""
    if local == "phase":
        return _reverse(mapping.value_table, customer.phase.technical_name) if customer.phase else ""
    if local == "health_profile":
        return _reverse(mapping.value_table, customer.health_profile.name) if customer.health_profile else ""
    if local == "tags":
        names = [tag.name for tag in customer.tags.all()]
        table = mapping.value_table or {}
        if table:
            names = [_reverse(table, name) for name in names if name in table.values()]
        return ";".join(sorted(names))
    if local.startswith("custom:"):
        return customer.custom_values.get(local.removeprefix("custom:"))
    return None


def contact_remote_value(contact: Contact, mapping: FieldMapping) -> Any:
    local = mapping.local_field
    if local in ("first_name", "last_name", "email", "phone", "title", "ref_id"):
        return getattr(contact, local)
    if local.startswith("custom:"):
        return contact.custom_values.get(local.removeprefix("custom:"))
    return None


def _push_state(ctx: RunContext, object_type: str) -> SyncState:
    state, _ = SyncState.objects.get_or_create(connection=ctx.connection, object_type=object_type)
    return state


def _as_sent(value: Any) -> Any:
    return "" if value is None else value


def _push_rows(
    ctx: RunContext,
    setting: ObjectSetting,
    rows: Any,
    value_of: Callable[[Any, FieldMapping], Any],
) -> None:
    """Write the output fields that differ from what the CRM last sent and from what we last pushed."""
    mappings = output_mappings(setting)
    if not mappings:
        return
    state = _push_state(ctx, setting.object_type)
    started = timezone.now()
    links = ExternalRef.objects.filter(connection=ctx.connection, object_type=setting.object_type)
    if state.push_cursor is not None and not ctx.push_only:
        rows = rows.filter(updated_at__gte=state.push_cursor)
    # Rows and their links a chunk at a time: memory stays flat whatever the number of links.
    for row, ref in _with_links(rows.filter(pk__in=links.values("local_id")), links):
        changes = {}
        for mapping in mappings:
            value = _as_sent(value_of(row, mapping))
            remote = mapping.remote_field
            # What the CRM has, as far as we know: what it last sent, or what we last wrote there.
            known = [ref.received_values[remote]] if remote in ref.received_values else []
            if remote in ref.pushed_values:
                known.append(ref.pushed_values[remote])
            if any(str(_as_sent(k)) == str(value) for k in known) or (not known and value == ""):
                continue
            changes[remote] = value
        if not changes:
            continue
        ctx.connector.write(ObjectType(setting.object_type), ref.external_id, changes)
        ref.pushed_values = {**ref.pushed_values, **changes}
        ref.save(update_fields=["pushed_values", "updated_at"])
        for remote, value in changes.items():
            ctx.note("push", {"label": str(row), "field": remote, "new": value})
        ctx.count("pushed")
        heartbeat(ctx)
    state.push_cursor = started
    state.save(update_fields=["push_cursor", "updated_at"])


def push_customers(ctx: RunContext, setting: ObjectSetting) -> None:
    rows = Customer.objects.filter(workspace=ctx.workspace).select_related("owner", "phase", "health_profile")
    _push_rows(ctx, setting, rows.prefetch_related("tags"), customer_remote_value)


def push_contacts(ctx: RunContext, setting: ObjectSetting) -> None:
    _push_rows(ctx, setting, Contact.objects.filter(workspace=ctx.workspace), contact_remote_value)


def push_interactions(ctx: RunContext, setting: ObjectSetting) -> None:
    """Only interactions entered by hand in Skalin go to the CRM, once each, from when pushing was enabled."""
    state = _push_state(ctx, ObjectType.INTERACTIONS)
    if state.push_cursor is None:
        state.push_cursor = timezone.now()
        state.save(update_fields=["push_cursor", "updated_at"])
        return
    kinds = [
        k for k in (setting.options or {}).get("kinds", InteractionKind.values) if k in InteractionKind.values
    ]
    refs = ExternalRef.objects.filter(connection=ctx.connection)
    customer_refs = refs.filter(object_type=ObjectType.CUSTOMERS)
    candidates = (
        Interaction.objects.filter(
            workspace=ctx.workspace,
            source="manual",
            kind__in=kinds,
            customer_id__in=customer_refs.values("local_id"),
            created_at__gte=state.push_cursor,
        )
        .exclude(pk__in=refs.filter(object_type=ObjectType.INTERACTIONS).values("local_id"))
        .prefetch_related("contacts")
        .select_related("author")
    )
    for interaction in candidates.iterator(chunk_size=200):
        # Links looked up per interaction: only those entered by hand since the cursor get here.
        customer_ext: str = (
            customer_refs.filter(local_id=interaction.customer_id)
            .values_list("external_id", flat=True)
            .last()
            or ""
        )
        contact_exts: dict[int, str] = dict(
            refs.filter(
                object_type=ObjectType.CONTACTS, local_id__in=[c.pk for c in interaction.contacts.all()]
            ).values_list("local_id", "external_id")
        )
        fields = {
            "subject": interaction.subject,
            "body": interaction.body,
            "occurred_at": interaction.occurred_at.isoformat(),
            "direction": interaction.direction,
            "author_email": interaction.author.email if interaction.author else "",
        }
        links = {
            "customers": [customer_ext],
            "contacts": [contact_exts[c.pk] for c in interaction.contacts.all() if c.pk in contact_exts],
        }
        # No database lock is held while the CRM answers; a crash between the two steps pushes the
        # interaction again next time (at least once), never loses it.
        external_id = ctx.connector.write(
            ObjectType.INTERACTIONS, None, {**fields, "kind": interaction.kind}, links
        )
        ExternalRef.objects.create(
            connection=ctx.connection,
            object_type=ObjectType.INTERACTIONS,
            external_id=external_id,
            local_id=interaction.pk,
            last_seen_run=ctx.run,
        )
        ctx.note("push", {"label": str(interaction), "field": interaction.kind, "new": interaction.subject})
        ctx.count("pushed")
        heartbeat(ctx)


LINK_CHUNK = 500


def _with_links(rows: Any, links: Any) -> Iterator[tuple[Any, ExternalRef]]:
    """(row, its link) for the rows that have one, loading rows and links a chunk at a time."""
    chunk: list[Any] = []
    for row in rows.order_by("pk").iterator(chunk_size=LINK_CHUNK):
        chunk.append(row)
        if len(chunk) == LINK_CHUNK:
            yield from _pair(chunk, links)
            chunk = []
    yield from _pair(chunk, links)


def _pair(rows: list[Any], links: Any) -> Iterator[tuple[Any, ExternalRef]]:
    if not rows:
        return
    refs = {ref.local_id: ref for ref in links.filter(local_id__in=[row.pk for row in rows])}
    for row in rows:
        if row.pk in refs:
            yield row, refs[row.pk]


def same_value(read: Any, sent: Any) -> bool:
    """What the CRM reads back equals what we sent, numbers compared as numbers (4 == "4.0")."""
    try:
        return Decimal(str(read)) == Decimal(str(sent))
    except (InvalidOperation, ValueError):
        return str(read) == str(sent)


SCORE_FIELDS = (("health_score", "Healthscore"), ("csm_pulse", "CSM Pulse"))


def push_scores(ctx: RunContext) -> None:
    """Healthscore (1-10) and CSM Pulse (1-5) into the CRM's company fields, each push read back."""
    setting = ctx.settings.get(ObjectType.CUSTOMERS)
    if setting is None:
        return
    data_back = (setting.options or {}).get("data_back") or {}
    if not data_back.get("enabled"):
        return
    # Each score has its own toggle (missing: on, as before the wizard offered them separately).
    wanted = [key for key, _ in SCORE_FIELDS if data_back.get(f"{key}_on", True)]
    targets = {key: data_back.get(key, "") for key in wanted}
    if ctx.connector.creates_output_fields and not all(targets.values()):
        created = ctx.connector.ensure_output_fields()
        targets = {key: targets[key] or created.get(key, "") for key in targets}
        if not ctx.dry_run:
            setting.options = {**setting.options, "data_back": {**data_back, **targets}}
            setting.save(update_fields=["options", "updated_at"])
    targets = {key: name for key, name in targets.items() if name}
    if not targets:
        ctx.partial_reasons.append(
            "Data back to the CRM is on, but no CRM field is chosen for Healthscore or Pulse."
        )
        return
    linked = ExternalRef.objects.filter(
        connection=ctx.connection, object_type=ObjectType.CUSTOMERS, in_selection=True
    )
    if ctx.scores_only_for is not None:
        linked = linked.filter(local_id__in=ctx.scores_only_for)
    ignored: list[str] = []
    # Only customers with a score have anything to push.
    scored = Customer.objects.filter(pk__in=linked.values("local_id")).exclude(
        health_score__isnull=True, csm_pulse__isnull=True
    )
    for customer, ref in _with_links(scored.only("pk", "name", "health_score", "csm_pulse"), linked):
        changes = {
            remote: getattr(customer, key)
            for key, remote in targets.items()
            if getattr(customer, key) is not None and ref.pushed_values.get(remote) != getattr(customer, key)
        }
        if not changes:
            continue
        if ctx.dry_run:
            for remote, value in changes.items():
                ctx.note("push", {"label": customer.name, "field": remote, "new": value})
            ctx.count("pushed")
            continue
        try:
            ctx.connector.write(ObjectType.CUSTOMERS, ref.external_id, changes)
            landed = ctx.connector.read_back(ObjectType.CUSTOMERS, ref.external_id, list(changes))
        except ConnectorError as error:
            if not error.permanent:
                raise
            ignored.append(f"{customer.name}: {error.message}")
            continue
        missed = [name for name, value in changes.items() if not same_value(landed.get(name), value)]
        if missed:
            ignored.append(f"{customer.name}: {', '.join(missed)} did not change")
            continue
        ref.pushed_values = {**ref.pushed_values, **changes}
        ref.save(update_fields=["pushed_values", "updated_at"])
        ctx.count("pushed")
    if ignored:
        crm = ctx.connection.get_crm_display()
        hint = " (HubSpot needs Super Admin rights for it)" if ctx.connection.crm == "hubspot" else ""
        ctx.push_refused = f"{crm} refused or ignored {len(ignored)} score pushes{hint}: " + "; ".join(
            ignored[:5]
        )
        ctx.partial_reasons.append(ctx.push_refused)


PUSHERS: dict[str, Callable[[RunContext, ObjectSetting], None]] = {
    ObjectType.CUSTOMERS: push_customers,
    ObjectType.CONTACTS: push_contacts,
    ObjectType.INTERACTIONS: push_interactions,
}
