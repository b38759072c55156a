"""What every object's pull shares: mappings, raw values and the links to CRM records."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from customers.changes import changelog_record

from ..base import ReadRequest, Record
from ..mapping import remote_value
from ..models import ExternalRef, FieldDirection, FieldMapping, ObjectSetting, ObjectType, SyncState
from ..push import same_value
from ..sync import RunContext, apply_page, read_pages

User = get_user_model()
DEFAULT_MERGE_KEYS = ("ref_id", "name", "domain")
ID_FIELD = "@id"  # a mapping's source field meaning "the record's own CRM id"


def input_mappings(setting: ObjectSetting) -> list[FieldMapping]:
    return [
        m for m in setting.mappings.all() if m.direction in (FieldDirection.INPUT, FieldDirection.TWO_WAYS)
    ]


def raw(record: Record, mapping: FieldMapping) -> Any:
    return (
        record.external_id
        if mapping.remote_field == ID_FIELD
        else remote_value(record.fields, mapping.remote_field)
    )


def requested_fields(mappings: list[FieldMapping]) -> list[str]:
    return sorted({m.remote_field for m in mappings if m.remote_field != ID_FIELD})


class Refs:
    """This connection's links for one object type, loaded once per run and kept in step."""

    def __init__(self, ctx: RunContext, object_type: str) -> None:
        self.ctx, self.object_type = ctx, object_type
        self.by_external: dict[str, ExternalRef] = {
            ref.external_id: ref
            for ref in ExternalRef.objects.filter(connection=ctx.connection, object_type=object_type)
        }
        self.by_local: dict[int, str] = {ref.local_id: ext for ext, ref in self.by_external.items()}

    def link(self, record: Record, local_id: int, received: dict[str, Any]) -> ExternalRef:
        ref = self.by_external.get(record.external_id)
        if ref is None:
            ref = ExternalRef(
                connection=self.ctx.connection, object_type=self.object_type, external_id=record.external_id
            )
        ref.local_id = local_id
        ref.in_selection = True
        ref.remote_modified_at = record.modified_at
        ref.received_values = {**ref.received_values, **received}
        ref.last_seen_run = self.ctx.run
        ref.save()
        self.by_external[record.external_id] = ref
        self.by_local[local_id] = record.external_id
        return ref


def synced_customers(ctx: RunContext) -> dict[str, int]:
    return dict(
        ExternalRef.objects.filter(
            connection=ctx.connection, object_type=ObjectType.CUSTOMERS, in_selection=True
        ).values_list("external_id", "local_id")
    )


def _same(left: Any, right: Any) -> bool:
    if left in (None, "") and right in (None, ""):
        return True
    return same_value(left, right)


def settle_two_way(
    ctx: RunContext,
    ref: ExternalRef | None,
    row: Any,
    maps: list[FieldMapping],
    received: dict[str, Any],
    local_value: Callable[[Any, FieldMapping], Any],
) -> set[str]:
    """Two-way fields the CRM did not change since the last sync keep Skalin's value (the push sends it);
    a value that is our own earlier push coming back is an echo, not a change (R10). A field changed on
    both sides is a conflict: the CRM's value is kept, and the run says so. Returns the local fields
    whose CRM value must not be applied."""
    if ref is None or row is None:
        return set()
    keep_local: set[str] = set()
    for mapping in maps:
        remote = mapping.remote_field
        if mapping.direction != FieldDirection.TWO_WAYS or remote not in ref.received_values:
            continue
        before, now = ref.received_values[remote], received.get(remote)
        if _same(now, before) or (remote in ref.pushed_values and _same(now, ref.pushed_values[remote])):
            keep_local.add(mapping.local_field)
        elif not _same(local_value(row, mapping), before):
            if hasattr(row, "pk") and getattr(row, "workspace_id", None):
                customer = row if hasattr(row, "owner_id") else row.customer
                changelog_record(
                    customer=customer,
                    actor=ctx.actor,
                    object_type="customer" if customer is row else "contact",
                    object_id=row.pk,
                    changes=[(f"{mapping.local_field} (conflict)", local_value(row, mapping), now)],
                )
            ctx.warn(
                f"{row}: {mapping.local_field} changed in Skalin and in {ctx.connection.get_crm_display()} "
                f"since the last sync; the CRM's value '{now}' was kept."
            )
    return keep_local


def read_scoped(
    ctx: RunContext,
    state: SyncState,
    request: ReadRequest,
    apply_one: Callable[[Record], None],
    scope: dict[str, int],
) -> None:
    """Read an object that hangs off synced customers: what changed since the cursor, then, for customers
    first linked in this run, everything (their records may be older than the cursor). A first read is
    full anyway, so it is not read twice."""
    incremental = request.since is not None
    for page, commit in read_pages(ctx, state, request):
        with transaction.atomic():
            apply_page(ctx, request.object_type, page, apply_one)
            commit()
    fresh = sorted(set(ctx.new_customer_ids) & set(scope))
    if not (incremental and fresh):
        return
    backfill = ReadRequest(
        object_type=request.object_type, since=None, cursor=None, options=request.options,
        fields=request.fields, scope_ids=fresh,
    )  # fmt: skip
    for page, _ in read_pages(ctx, None, backfill):
        with transaction.atomic():
            apply_page(ctx, request.object_type, page, apply_one)
