"""The sync engine: claims a run, walks each object's pages, commits rows and cursor together, quarantines
bad records, and ends with a report. It knows no HTTP: a connector reads and writes; domain services write
Skalin rows (reliability.md R1-R6, R8-R10)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from customers.changes import Actor
from customers.models import ChangeLog
from workspaces.models import Workspace

from .base import Connector, ConnectorError, Page, ReadRequest, Record
from .mapping import ValueMappingError, parse_datetime
from .models import (
    Connection,
    ExternalRef,
    Notification,
    ObjectSetting,
    ObjectType,
    QuarantinedRecord,
    SyncMode,
    SyncRun,
    SyncState,
)
from .notifications import notify_admins
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


class BreakerTripped(Exception):
    """The run would change too much at once (R11): it stops before writing and waits for an Admin."""


class _PlanDone(Exception):
    """Raised at the end of a plan to roll back everything it wrote."""


SAMPLES_PER_KIND = 20


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
    dry_run: bool = False
    # Only the mapped output fields, all of them (Push Skalin values to the CRM now).
    push_only: bool = False
    # Set when an Admin approved a paused run: this one goes past the breaker.
    approved: bool = False
    # Customers linked to the connection when the run started: the breaker's 100 %.
    linked_customers: int = 0
    overwritten: set[int] = field(default_factory=set)
    # Why the CRM refused or ignored score pushes, for the Admins' notification.
    push_refused: str = ""
    pages: int = 0
    records: int = 0

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

    def fill(self, local_field: str, outcome: str) -> None:
        """Count a mapped field's value in the run report: filled, empty, or kept (blank in the CRM)."""
        fields = self.run.fill_rates.setdefault(self.object_type, {})
        counts = fields.setdefault(local_field, {"filled": 0, "empty": 0, "kept": 0})
        counts[outcome] += 1
        if outcome == "kept":
            counts["empty"] -= 1

    def note(self, kind: str, sample: dict[str, Any]) -> None:
        """A sample of what the run does (or, as a plan, would do), per object and kind."""
        samples = self.run.plan.setdefault(self.object_type or "scores", {}).setdefault(kind, [])
        if len(samples) < SAMPLES_PER_KIND:
            samples.append({key: _plain(value) for key, value in sample.items()})

    def breaker_limit(self) -> int:
        """How many customers a run may churn or overwrite before it pauses; none on a first sync."""
        if self.approved or self.dry_run or self.linked_customers == 0:
            return -1
        return max(1, int(self.linked_customers * self.connection.breaker_percent / 100))

    def check_breaker(self, *, churning: int = 0) -> None:
        limit = self.breaker_limit()
        if limit < 0:
            return
        if churning > limit:
            raise BreakerTripped(
                f"{churning} of {self.linked_customers} customers would be churned: they are no longer in the "
                f"{self.connection.get_crm_display()} selection (filter, view or stage). Nothing was churned."
            )
        if len(self.overwritten) > limit:
            raise BreakerTripped(
                f"{len(self.overwritten)} of {self.linked_customers} customers would have values overwritten by "
                f"{self.connection.get_crm_display()} in this run. It stopped before writing them."
            )


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


# ---- claiming -------------------------------------------------------------------------------------------


def run_claim(*, connection: Connection, trigger: str, queued: SyncRun | None = None) -> tuple[SyncRun, bool]:
    """(run, claimed). At most one running run per connection; the unique index settles races, and a
    crashed run's claim expires after CLAIM_TIMEOUT. A queued run (made by a page that wants to follow it)
    is the one that starts."""
    now = timezone.now()
    SyncRun.objects.filter(
        connection=connection, status=SyncRun.Status.RUNNING, heartbeat_at__lt=now - CLAIM_TIMEOUT
    ).update(status=SyncRun.Status.ABANDONED, finished_at=now)
    try:
        with transaction.atomic():
            if queued is not None:
                started = SyncRun.objects.filter(pk=queued.pk, status=SyncRun.Status.QUEUED).update(
                    status=SyncRun.Status.RUNNING, heartbeat_at=now
                )
                if not started:
                    return queued, False
                queued.refresh_from_db()
                return queued, True
            return SyncRun.objects.create(connection=connection, trigger=trigger, heartbeat_at=now), True
    except IntegrityError:
        if queued is not None:
            SyncRun.objects.filter(pk=queued.pk).update(
                status=SyncRun.Status.SKIPPED,
                finished_at=now,
                warnings=[
                    "Another run of this connection was in progress; start this one again when it ends."
                ],
            )
            queued.refresh_from_db()
            return queued, False
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
    dry_run: bool = False,
    approved: bool = False,
    applies: SyncRun | None = None,
    push_only: bool = False,
    queued_run_id: int | None = None,
) -> SyncRun:
    """One run of a connection. `scores_only_for` (customer ids) makes it a quick push of those
    customers' Healthscore and CSM Pulse, as after a Pulse change. `dry_run` makes it a plan: the same
    pipeline, rolled back at the end, with no CRM write. `approved` goes past the mass-change breaker."""
    from .pull import PULLERS
    from .push import PUSHERS, push_scores

    connection = Connection.objects.select_related("workspace").get(pk=connection_id)
    queued = (
        SyncRun.objects.filter(pk=queued_run_id, connection=connection).first() if queued_run_id else None
    )
    if connection.status != Connection.Status.ACTIVE and not (
        dry_run and connection.status == Connection.Status.DRAFT
    ):
        # A disabled connection (or one waiting for a reconnect) writes nothing, on either side. A draft
        # may be planned: that is how an Admin checks a configuration before starting it.
        reason = f"The connection is {connection.get_status_display().lower()}."
        if queued is not None:
            SyncRun.objects.filter(pk=queued.pk).update(
                status=SyncRun.Status.SKIPPED, finished_at=timezone.now(), warnings=[reason]
            )
            queued.refresh_from_db()
            return queued
        return _skip(connection, trigger, reason)
    run, claimed = run_claim(connection=connection, trigger=trigger, queued=queued)
    if not claimed:
        return run
    run.dry_run, run.applies = dry_run, applies
    run.save(update_fields=["dry_run", "applies"])
    settings = {s.object_type: s for s in connection.object_settings.prefetch_related("mappings")}
    real_connector = connector or connector_for(connection)
    ctx = RunContext(
        connection=connection,
        run=run,
        connector=cast(Connector, PlanConnector(real_connector)) if dry_run else real_connector,
        settings=settings,
        progress=progress or (lambda message: None),
        scores_only_for=scores_only_for,
        push_only=push_only,
        dry_run=dry_run,
        approved=approved,
        linked_customers=ExternalRef.objects.filter(
            connection=connection, object_type=ObjectType.CUSTOMERS, in_selection=True
        ).count(),
    )
    status: str = SyncRun.Status.SUCCEEDED
    try:
        if dry_run:
            _plan(ctx, PULLERS, PUSHERS, push_scores)
        else:
            _pipeline(ctx, PULLERS, PUSHERS, push_scores)
        if ctx.partial_reasons:
            status = SyncRun.Status.PARTIAL
    except BreakerTripped as tripped:
        status = SyncRun.Status.PAUSED
        run.errors.append(
            {"message": str(tripped), "next": "An Admin approves the run (it goes on) or cancels it."}
        )
        notify_admins(connection=connection, cause=Notification.Cause.PAUSED, message=str(tripped))
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


def _pipeline(ctx: RunContext, pullers: dict[str, Any], pushers: dict[str, Any], push_scores: Any) -> None:
    for object_type in ORDER if ctx.scores_only_for is None else ():
        setting = ctx.settings.get(object_type)
        if setting is None or setting.mode == SyncMode.DISABLED:
            continue
        ctx.object_type = object_type
        if (
            setting.mode in (SyncMode.INPUT, SyncMode.TWO_WAYS)
            and object_type in pullers
            and not ctx.push_only
        ):
            ctx.progress(f"Reading {object_type}...")
            pullers[object_type](ctx, setting)
        # Customer and contact fields carry their own direction: an output field of an Input only block is
        # pushed too (the migration guide's step B). Interactions go out only in Two-ways or Output only.
        pushes = setting.mode in (SyncMode.TWO_WAYS, SyncMode.OUTPUT) or object_type in (
            ObjectType.CUSTOMERS,
            ObjectType.CONTACTS,
        )
        if pushes and object_type in pushers:
            ctx.progress(f"Writing {object_type} to the CRM...")
            pushers[object_type](ctx, setting)
    ctx.object_type = "scores"
    push_scores(ctx)


def _plan(ctx: RunContext, pullers: dict[str, Any], pushers: dict[str, Any], push_scores: Any) -> None:
    """The same pipeline inside one transaction that is rolled back: rows, links, cursors and quarantine
    all vanish; the counts and samples stay in memory on the run. CRM writes are only recorded."""
    run = ctx.run
    try:
        with transaction.atomic():
            _pipeline(ctx, pullers, pushers, push_scores)
            _collect_updates(ctx)
            raise _PlanDone
    except _PlanDone:
        pass
    finally:
        tokens = getattr(ctx.connector.http, "tokens", None)
        if tokens is not None and hasattr(tokens, "persist"):
            # A token refreshed during the plan was rolled back with the rest, even when the plan failed:
            # keep it, or a rotated refresh token would be lost.
            tokens.persist()
    run.progress = {}


def _collect_updates(ctx: RunContext) -> None:
    """Field changes as the change history recorded them, before the plan's rollback erases them."""
    rows = (
        ChangeLog.objects.filter(actor_kind=ChangeLog.ActorKind.SYNC_RUN, actor_ref=str(ctx.run.pk))
        .exclude(field="created")
        .select_related("customer")
        .order_by("id")
    )
    for row in rows[: SAMPLES_PER_KIND * 10]:
        ctx.object_type = {"contact": ObjectType.CONTACTS, "agreement": ObjectType.AGREEMENTS}.get(
            row.object_type, ObjectType.CUSTOMERS
        )
        label = str(row.customer) if row.customer else ""
        ctx.note("update", {"label": label, "field": row.field, "old": row.old_value, "new": row.new_value})


class PlanConnector:
    """A connector whose writes are recorded, never sent: what a plan would push."""

    def __init__(self, connector: Connector) -> None:
        self._connector = connector
        self.writes: list[tuple[str, str | None, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connector, name)

    def write(
        self,
        object_type: Any,
        external_id: str | None,
        fields: dict[str, Any],
        links: dict[str, list[str]] | None = None,
    ) -> str:
        self.writes.append((str(object_type), external_id, dict(fields)))
        return external_id or f"planned-{len(self.writes)}"

    def read_back(self, object_type: Any, external_id: str, fields: Any) -> dict[str, Any]:
        return {}

    def ensure_output_fields(self) -> dict[str, str]:
        return {"health_score": "(to be created)", "csm_pulse": "(to be created)"}


def _record_connector_error(ctx: RunContext, error: ConnectorError) -> str:
    ctx.run.errors.append({"message": error.message[:1000], "next": error.next_step()})
    connection = ctx.connection
    connection.last_error, connection.last_error_at = error.message[:1000], timezone.now()
    update = ["last_error", "last_error_at", "updated_at"]
    if error.reconnect:
        connection.status = Connection.Status.RECONNECT_NEEDED
        update.append("status")
    connection.save(update_fields=update)
    if error.reconnect:
        notify_admins(
            connection=connection,
            cause=Notification.Cause.RECONNECT,
            message=f"{connection.get_crm_display()} needs reconnecting: {error.message} Until then nothing syncs.",
        )
    if error.rate_limited or (error.retry_after and not error.permanent):
        ctx.run.resume_at = timezone.now() + dt.timedelta(seconds=error.retry_after or 60)
        return SyncRun.Status.RATE_LIMITED if error.rate_limited else SyncRun.Status.FAILED
    return SyncRun.Status.FAILED


def _finish(ctx: RunContext, status: str) -> None:
    run = ctx.run
    run.status = status
    run.finished_at = timezone.now()
    run.progress = {}
    if run.applies is not None and status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL):
        for difference in plan_differences(run.applies, run):
            ctx.warn(difference)
    run.api_calls = getattr(ctx.connector.http, "calls", 0)
    for reason in ctx.partial_reasons:
        run.errors.append({"message": reason, "next": "See the connection page."})
    run.save()
    if ctx.push_refused and not run.dry_run:
        notify_admins(
            connection=ctx.connection, cause=Notification.Cause.PUSH_REFUSED, message=ctx.push_refused
        )
    if status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL) and not run.dry_run:
        Connection.objects.filter(pk=ctx.connection.pk).update(last_synced_at=run.finished_at, last_error="")
    ctx.progress(f"Run #{run.pk} {run.get_status_display().lower()}: {run.counts()}")


def plan_differences(plan: SyncRun, run: SyncRun) -> list[str]:
    """What the CRM changed between a plan and its apply, in counts per object."""
    differences = []
    for object_type in ORDER:
        planned, done = plan.by_object.get(object_type, {}), run.by_object.get(object_type, {})
        for counter in ("created", "updated", "churned", "quarantined", "pushed"):
            if planned.get(counter, 0) != done.get(counter, 0):
                differences.append(
                    f"{object_type.capitalize()}: {done.get(counter, 0)} {counter} where the plan said "
                    f"{planned.get(counter, 0)} (the CRM changed in between)."
                )
    return differences


def heartbeat(ctx: RunContext) -> None:
    ctx.run.progress = {"object": ctx.object_type, "pages": ctx.pages, "records": ctx.records}
    if ctx.dry_run:
        return  # the plan's writes are rolled back anyway; it shows its progress at the end
    SyncRun.objects.filter(pk=ctx.run.pk).update(heartbeat_at=timezone.now(), progress=ctx.run.progress)


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
        ctx.pages += 1
        ctx.records += len(page.records)
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
    move the cursor to the newest modification time it held or the connector saw and dropped (never
    'now', R2): changes the selection leaves out are not searched again run after run."""
    stamps = [r.modified_at for r in page.records if r.modified_at]
    if page.seen is not None:
        stamps.append(page.seen)
    newest = max(stamps, default=None)
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


def apply_page(
    ctx: RunContext,
    object_type: str,
    page: Page,
    apply_one: Callable[[Record], None],
    *,
    prepare: Callable[[list[Record]], None] | None = None,
    settle: Callable[[], None] | None = None,
) -> None:
    """Apply a page's records, each in its own savepoint; rejected ones go to quarantine. The page and
    its quarantine rows commit together, before the cursor moves. `prepare` loads what the page's
    records need in a few queries; `settle` recomputes, once per page, what the applied records changed
    (a customer's Last contact, MRR and renewal), in the page's transaction."""
    records = list({record.external_id: record for record in page.records}.values())
    failures: list[str] = []
    applied: list[str] = []
    with transaction.atomic():
        if prepare is not None:
            prepare(records)
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
                applied.append(record.external_id)
        if settle is not None:
            settle()
        # Records that went through now leave the quarantine: one statement for the page.
        QuarantinedRecord.objects.filter(
            connection=ctx.connection,
            object_type=object_type,
            external_id__in=applied,
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
    ctx.note("quarantine", {"external_id": record.external_id, "reason": reason})
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
