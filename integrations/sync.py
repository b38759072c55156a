"""The sync engine: claims a run, walks each object's pages, commits rows and cursor together, quarantines
bad records, and ends with a report. It knows no HTTP: a connector reads and writes; domain services write
Skalin rows (reliability.md R1-R6, R8-R10)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from customers.changes import Actor
from workspaces.models import Workspace

from .base import Connector, ConnectorError, Page, ReadRequest, Record
from .mapping import ValueMappingError, parse_datetime
from .models import Connection, ObjectSetting, ObjectType, QuarantinedRecord, SyncMode, SyncRun, SyncState
from .services import connector_for, setting_config_hash

log = logging.getLogger(__name__)

# Search indexes lag behind writes and equal timestamps straddle pages: re-read a little (R2).
LOOKBACK = dt.timedelta(minutes=5)
# A run that stopped beating this long ago crashed; its claim is taken over (R3).
CLAIM_TIMEOUT = dt.timedelta(minutes=30)
# When most of a page fails, the mapping is wrong, not the data: stop (R5).
BROKEN_PAGE_SHARE = 0.5
BROKEN_PAGE_MIN_RECORDS = 4
ORDER = (ObjectType.CUSTOMERS, ObjectType.CONTACTS, ObjectType.AGREEMENTS, ObjectType.INTERACTIONS)


class RecordRejected(Exception):
    """One record cannot be applied; it goes to quarantine with this reason and the run goes on."""


@dataclass
class RunContext:
    connection: Connection
    run: SyncRun
    connector: Connector
    settings: dict[str, ObjectSetting]
    progress: Callable[[str], None] = lambda message: None
    partial_reasons: list[str] = field(default_factory=list)
    # External ids of customers first linked in this run: their contacts & co. are read in full.
    new_customer_ids: list[str] = field(default_factory=list)
    scores_only_for: list[int] | None = None
    object_type: str = ""

    @property
    def workspace(self) -> Workspace:
        return self.connection.workspace

    @property
    def actor(self) -> Actor:
        return Actor.for_sync_run(self.run.pk, self.connection.get_crm_display())

    def count(self, name: str, amount: int = 1) -> None:
        if not amount:
            return
        setattr(self.run, name, getattr(self.run, name) + amount)
        per_object = self.run.by_object.setdefault(self.object_type or "scores", {})
        per_object[name] = per_object.get(name, 0) + amount

    def warn(self, message: str) -> None:
        if message not in self.run.warnings and len(self.run.warnings) < 200:
            self.run.warnings.append(message)


# ---- claiming -------------------------------------------------------------------------------------------


def run_claim(*, connection: Connection, trigger: str) -> tuple[SyncRun, bool]:
    """(run, claimed). At most one running run per connection; the unique index settles races, and a
    crashed run's claim expires after CLAIM_TIMEOUT."""
    now = timezone.now()
    SyncRun.objects.filter(
        connection=connection, status=SyncRun.Status.RUNNING, heartbeat_at__lt=now - CLAIM_TIMEOUT
    ).update(status=SyncRun.Status.ABANDONED, finished_at=now)
    try:
        with transaction.atomic():
            return SyncRun.objects.create(connection=connection, trigger=trigger, heartbeat_at=now), True
    except IntegrityError:
        skipped = SyncRun.objects.create(
            connection=connection,
            trigger=trigger,
            status=SyncRun.Status.SKIPPED,
            finished_at=now,
            warnings=["Another run of this connection was in progress; this one did nothing."],
        )
        return skipped, False


def _skip(connection: Connection, trigger: str, reason: str) -> SyncRun:
    return SyncRun.objects.create(
        connection=connection,
        trigger=trigger,
        status=SyncRun.Status.SKIPPED,
        finished_at=timezone.now(),
        warnings=[reason],
    )


# ---- the run --------------------------------------------------------------------------------------------


def sync_connection(
    *,
    connection_id: int,
    trigger: str = SyncRun.Trigger.SCHEDULE,
    connector: Connector | None = None,
    progress: Callable[[str], None] | None = None,
    scores_only_for: list[int] | None = None,
) -> SyncRun:
    """One run of a connection. `scores_only_for` (customer ids) makes it a quick push of those
    customers' Healthscore and CSM Pulse, as after a Pulse change."""
    from .pull import PULLERS
    from .push import PUSHERS, push_scores

    connection = Connection.objects.select_related("workspace").get(pk=connection_id)
    if connection.status != Connection.Status.ACTIVE:
        # A disabled connection (or one waiting for a reconnect) writes nothing, on either side.
        return _skip(connection, trigger, f"The connection is {connection.get_status_display().lower()}.")
    run, claimed = run_claim(connection=connection, trigger=trigger)
    if not claimed:
        return run
    settings = {s.object_type: s for s in connection.object_settings.prefetch_related("mappings")}
    ctx = RunContext(
        connection=connection,
        run=run,
        connector=connector or connector_for(connection),
        settings=settings,
        progress=progress or (lambda message: None),
        scores_only_for=scores_only_for,
    )
    status: str = SyncRun.Status.SUCCEEDED
    try:
        for object_type in ORDER if scores_only_for is None else ():
            setting = settings.get(object_type)
            if setting is None or setting.mode == SyncMode.DISABLED:
                continue
            ctx.object_type = object_type
            if setting.mode in (SyncMode.INPUT, SyncMode.TWO_WAYS) and object_type in PULLERS:
                ctx.progress(f"Reading {object_type}...")
                PULLERS[object_type](ctx, setting)
            if setting.mode in (SyncMode.TWO_WAYS, SyncMode.OUTPUT) and object_type in PUSHERS:
                ctx.progress(f"Writing {object_type} to the CRM...")
                PUSHERS[object_type](ctx, setting)
        ctx.object_type = "scores"
        push_scores(ctx)
        if ctx.partial_reasons:
            status = SyncRun.Status.PARTIAL
    except ConnectorError as error:
        status = _record_connector_error(ctx, error)
    except Exception as error:  # noqa: BLE001 - a run always ends with a report, whatever broke
        log.exception("Sync run %s failed", run.pk)
        status = SyncRun.Status.FAILED
        run.errors.append(
            {
                "message": f"Unexpected error: {error.__class__.__name__}: {error}"[:500],
                "next": "Retry later; if it persists, report it with the run number.",
            }
        )
    _finish(ctx, status)
    return run


def _record_connector_error(ctx: RunContext, error: ConnectorError) -> str:
    ctx.run.errors.append({"message": error.message[:1000], "next": error.next_step()})
    connection = ctx.connection
    connection.last_error, connection.last_error_at = error.message[:1000], timezone.now()
    update = ["last_error", "last_error_at", "updated_at"]
    if error.reconnect:
        connection.status = Connection.Status.RECONNECT_NEEDED
        update.append("status")
    connection.save(update_fields=update)
    if error.rate_limited or (error.retry_after and not error.permanent):
        ctx.run.resume_at = timezone.now() + dt.timedelta(seconds=error.retry_after or 60)
        return SyncRun.Status.RATE_LIMITED if error.rate_limited else SyncRun.Status.FAILED
    return SyncRun.Status.FAILED


def _finish(ctx: RunContext, status: str) -> None:
    run = ctx.run
    run.status = status
    run.finished_at = timezone.now()
    run.api_calls = getattr(ctx.connector.http, "calls", 0)
    for reason in ctx.partial_reasons:
        run.errors.append({"message": reason, "next": "See the connection page."})
    run.save()
    if status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL):
        Connection.objects.filter(pk=ctx.connection.pk).update(last_synced_at=run.finished_at, last_error="")
    ctx.progress(f"Run #{run.pk} {run.get_status_display().lower()}: {run.counts()}")


def heartbeat(ctx: RunContext) -> None:
    now = timezone.now()
    SyncRun.objects.filter(pk=ctx.run.pk).update(heartbeat_at=now)


# ---- the page loop ------------------------------------------------------------------------------------


def state_for(ctx: RunContext, setting: ObjectSetting) -> SyncState:
    """The block's cursor; a changed selection, filter, merge key or mapping starts it over."""
    state, _ = SyncState.objects.get_or_create(connection=ctx.connection, object_type=setting.object_type)
    config = setting_config_hash(setting)
    if state.config_hash != config:
        state.cursor = state.page_cursor = state.listing_since = state.high_water = ""
        state.config_hash = config
        state.save()
    return state


def read_pages(
    ctx: RunContext, state: SyncState | None, request: ReadRequest
) -> Iterator[tuple[Page, Callable[[], None]]]:
    """Every page of one listing, each with the function that moves the state past it: call it in the
    transaction that commits the page's rows, so rows and cursor commit together (R2). With a state, a
    listing a crashed run left half-read resumes where it stopped."""
    cursor = request.cursor
    since = request.since
    if state is not None and state.page_cursor:
        cursor, since = state.page_cursor, parse_datetime(state.listing_since)
    while True:
        page = ctx.connector.read_page(
            ReadRequest(
                object_type=request.object_type,
                since=since,
                cursor=cursor,
                options=request.options,
                fields=request.fields,
                scope_ids=request.scope_ids,
                ids_only=request.ids_only,
            )
        )
        if state is None:
            yield page, _nothing
        else:
            yield page, (lambda page=page, since=since: _advance(state, page, since))  # type: ignore[misc]
        heartbeat(ctx)
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _nothing() -> None:
    return None


def _advance(state: SyncState, page: Page, since: dt.datetime | None) -> None:
    """Called once the page's rows are committed: remember where the listing goes on, and when it ends,
    move the cursor to the newest modification time it held (never 'now', R2)."""
    newest = max((r.modified_at for r in page.records if r.modified_at), default=None)
    high = parse_datetime(state.high_water) if state.high_water else None
    if newest and (high is None or newest > high):
        state.high_water = newest.isoformat()
    if page.next_cursor is None:
        if state.high_water:
            state.cursor = state.high_water
        state.page_cursor = state.listing_since = state.high_water = ""
    else:
        state.page_cursor = page.next_cursor
        state.listing_since = since.isoformat() if since else ""
    state.save()


def since_for(state: SyncState) -> dt.datetime | None:
    cursor = parse_datetime(state.cursor) if state.cursor else None
    return cursor - LOOKBACK if cursor else None


def apply_page(ctx: RunContext, object_type: str, page: Page, apply_one: Callable[[Record], None]) -> None:
    """Apply a page's records, each in its own savepoint; rejected ones go to quarantine. The page and
    its quarantine rows commit together, before the cursor moves."""
    records = list({record.external_id: record for record in page.records}.values())
    failures: list[str] = []
    with transaction.atomic():
        for record in records:
            try:
                with transaction.atomic():
                    apply_one(record)
            except (RecordRejected, ValidationError, ValueMappingError) as rejected:
                reason = (
                    "; ".join(rejected.messages) if isinstance(rejected, ValidationError) else str(rejected)
                )
                failures.append(f"{record.external_id}: {reason}")
                quarantine(ctx, object_type, record, reason)
            else:
                QuarantinedRecord.objects.filter(
                    connection=ctx.connection,
                    object_type=object_type,
                    external_id=record.external_id,
                    resolved_at__isnull=True,
                ).update(resolved_at=timezone.now())
        if len(records) >= BROKEN_PAGE_MIN_RECORDS and len(failures) > len(records) * BROKEN_PAGE_SHARE:
            examples = "; ".join(failures[:3])
            raise ConnectorError(
                f"{len(failures)} of {len(records)} {object_type} on one page could not be mapped ({examples}). "
                "The mapping is probably wrong; nothing of that page was kept.",
                permanent=True,
            )


def quarantine(ctx: RunContext, object_type: str, record: Record, reason: str) -> None:
    payload: dict[str, Any] = {"fields": _jsonable(record.fields), "links": record.links}
    QuarantinedRecord.objects.update_or_create(
        connection=ctx.connection,
        object_type=object_type,
        external_id=record.external_id,
        defaults={"reason": reason[:2000], "payload": payload, "run": ctx.run, "resolved_at": None},
    )
    ctx.count("quarantined")


def _jsonable(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value if isinstance(value, str | int | float | bool | type(None) | list | dict) else str(value)
        for key, value in fields.items()
    }
