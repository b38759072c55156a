"""What every object's pull shares: mappings, raw values and the links to CRM records."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from django.contrib.auth import get_user_model
from django.db import transaction

from customers.changes import changelog_record
from customers.models import Customer

from ..base import Page, ReadRequest, Record
from ..mapping import remote_value
from ..models import ExternalRef, FieldDirection, FieldMapping, ObjectSetting, ObjectType, SyncState
from ..push import same_value
from ..sync import RunContext, apply_page, read_pages

User = get_user_model()
DEFAULT_MERGE_KEYS = ("ref_id", "name", "domain")
ID_FIELD = "@id"  # a mapping's source field meaning "the record's own CRM id"
LOOKUP_CHUNK = 1000  # ids per `IN (...)` lookup
T = TypeVar("T")


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
    """This connection's links for one object type, looked up per page: `load` fetches the links of a
    page's records in one query, so memory stays the size of a page whatever the number of links."""

    def __init__(self, ctx: RunContext, object_type: str) -> None:
        self.ctx, self.object_type = ctx, object_type
        # The links of the records at hand, None for a record not linked yet.
        self.loaded: dict[str, ExternalRef | None] = {}

    def _query(self) -> Any:
        return ExternalRef.objects.filter(connection=self.ctx.connection, object_type=self.object_type)

    def load(self, external_ids: Iterable[str]) -> None:
        """Keep the links of these records only (the page being applied)."""
        wanted = sorted(set(external_ids))
        self.loaded = dict.fromkeys(wanted)
        for chunk in chunked(wanted, LOOKUP_CHUNK):
            for ref in self._query().filter(external_id__in=chunk):
                self.loaded[ref.external_id] = ref

    def get(self, external_id: str) -> ExternalRef | None:
        if external_id not in self.loaded:
            self.loaded[external_id] = self._query().filter(external_id=external_id).first()
        return self.loaded[external_id]

    def linked_to(self, local_id: int, *, other_than: str) -> str | None:
        """Another record already linked to this Skalin row, if any."""
        return (
            self._query()
            .filter(local_id=local_id)
            .exclude(external_id=other_than)
            .values_list("external_id", flat=True)
            .first()
        )

    def link(self, record: Record, local_id: int, received: dict[str, Any]) -> ExternalRef:
        ref = self.get(record.external_id)
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
        self.loaded[record.external_id] = ref
        return ref


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def synced_customer_refs(ctx: RunContext) -> Any:
    return ExternalRef.objects.filter(
        connection=ctx.connection, object_type=ObjectType.CUSTOMERS, in_selection=True
    )


def synced_customer_ids(ctx: RunContext) -> list[str]:
    """External ids of the synced customers, the scope of the dependent reads: plain strings, about 60
    bytes each (6 MB at 100,000 customers); the connectors page through them."""
    return sorted(synced_customer_refs(ctx).values_list("external_id", flat=True).iterator(chunk_size=5000))


class PageCustomers:
    """The synced customers the records of one page hang off, loaded with one query for the page (with
    the workspace already known, so the services do not load it again)."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.by_external: dict[str, Customer] = {}

    def load(self, records: Iterable[Record]) -> None:
        wanted = sorted({str(c) for record in records for c in record.links.get("customers", [])})
        pairs: dict[str, int] = {}
        for chunk in chunked(wanted, LOOKUP_CHUNK):
            pairs.update(
                synced_customer_refs(self.ctx)
                .filter(external_id__in=chunk)
                .values_list("external_id", "local_id")
            )
        rows = Customer.objects.in_bulk(set(pairs.values()))
        for customer in rows.values():
            customer.workspace = self.ctx.workspace
        self.by_external = {ext: rows[pk] for ext, pk in pairs.items() if pk in rows}

    def of(self, record: Record) -> Customer | None:
        """The first of the record's companies that is a synced customer."""
        return next(
            (self.by_external[c] for c in record.links.get("customers", []) if c in self.by_external), None
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


class PagePuller(Protocol):
    """An object's pull as the page loop drives it: what a page needs loaded at once, each record, and
    what is recomputed once per page for the rows the page touched."""

    def prepare(self, records: list[Record]) -> None: ...

    def apply(self, record: Record) -> None: ...

    def settle(self) -> None: ...


def apply_pulled_page(ctx: RunContext, object_type: str, page: Page, puller: PagePuller) -> None:
    apply_page(ctx, object_type, page, puller.apply, prepare=puller.prepare, settle=puller.settle)


def read_scoped(ctx: RunContext, state: SyncState, request: ReadRequest, puller: PagePuller) -> None:
    """Read an object that hangs off synced customers: what changed since the cursor, then, for customers
    first linked in this run, everything (their records may be older than the cursor). A first read is
    full anyway, so it is not read twice."""
    incremental = request.since is not None
    for page, commit in read_pages(ctx, state, request):
        with transaction.atomic():
            apply_pulled_page(ctx, request.object_type, page, puller)
            commit()
    if not (incremental and ctx.new_customer_ids):
        return
    fresh: list[str] = []
    for chunk in chunked(sorted(set(ctx.new_customer_ids)), LOOKUP_CHUNK):
        fresh.extend(
            synced_customer_refs(ctx).filter(external_id__in=chunk).values_list("external_id", flat=True)
        )
    if not fresh:
        return
    backfill = ReadRequest(
        object_type=request.object_type, since=None, cursor=None, options=request.options,
        fields=request.fields, scope_ids=sorted(fresh),
    )  # fmt: skip
    for page, _ in read_pages(ctx, None, backfill):
        with transaction.atomic():
            apply_pulled_page(ctx, request.object_type, page, puller)
