"""Undo a bad first sync: the hard delete, by an Admin, of the customers one sync run created.

Which customers: those whose creation the change history attributes to the run (the "created" row a sync
writes with the run as actor). Customers the run merged with existing ones are never touched. Of the ones
it created, a customer is kept (and listed with the reason) when deleting it would lose something that
did not come from that CRM: a change made by a person or a CSV import since, a contact, contract or
interaction entered by hand or that existed before the run (moved in from another customer), a task a
person wrote, or a link to another source (Stripe id, another connection). Changes made by playbooks
and later syncs are consequences of the creation and go with it.

Everything happens in one transaction: the customers and what cascades from them, their links to every
connection of the workspace (so that the next sync recreates or merges them cleanly), the connection's
cursors (so that the next sync reads its whole selection again), their header-search entries, and an
audit entry in the workspace's change history, which outlives the customers' own history. Usage events are
detached, not deleted: they wait to be matched again, as events of an unknown customer do."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet, Sum

from agreements.models import Agreement
from customers.changes import Actor
from customers.models import ChangeLog, Contact, Customer, CustomerSource
from healthscore.models import UsageEvent
from interactions.models import Interaction
from playbooks.models import Task
from search.models import SearchEntry

from .models import Connection, ExternalRef, ObjectType, SyncRun, SyncState
from .services import connection_disable

AUDIT_OBJECT_TYPE = "sync_run"
AUDIT_FIELD = "sync run undone"
# Actors whose changes mean a person touched the customer; playbooks and syncs act on their own.
PERSON_ACTORS = (ChangeLog.ActorKind.USER, ChangeLog.ActorKind.IMPORT)
BUSY_STATUSES = (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING)
NAMES_IN_AUDIT = 200
# Ids per IN (...) list: far below SQLite's bound on query parameters.
CHUNK = 1000


@dataclass(frozen=True)
class KeptCustomer:
    customer: Customer
    reasons: list[str]


@dataclass
class UndoPreview:
    run: SyncRun
    created_count: int = 0
    deletable: list[Customer] = field(default_factory=list)
    kept: list[KeptCustomer] = field(default_factory=list)
    # Customers that were in Skalin before the run and that it linked to the CRM: never deleted.
    merged: list[Customer] = field(default_factory=list)
    contacts: int = 0
    agreements: int = 0
    interactions: int = 0
    tasks: int = 0
    usage_events: int = 0
    active_mrr: Decimal = Decimal("0")
    blocker: str = ""

    @property
    def confirmation_phrase(self) -> str:
        return confirmation_phrase(len(self.deletable))


@dataclass(frozen=True)
class UndoResult:
    customers: int
    contacts: int
    agreements: int
    interactions: int
    kept: int
    audit: ChangeLog


def confirmation_phrase(count: int) -> str:
    return f"DELETE {count} CUSTOMER{'' if count == 1 else 'S'}"


def _normalised(text: str) -> str:
    return " ".join((text or "").split()).upper()


# ---- selectors -------------------------------------------------------------------------------------------


def _creation_rows(run: SyncRun) -> QuerySet[ChangeLog]:
    return ChangeLog.objects.filter(
        workspace_id=run.connection.workspace_id,
        actor_kind=ChangeLog.ActorKind.SYNC_RUN,
        actor_ref=str(run.pk),
        object_type="customer",
        field="created",
        customer__isnull=False,
    )


def run_created_customers(*, run: SyncRun) -> QuerySet[Customer]:
    """The customers this run created that are still in Skalin."""
    return Customer.objects.filter(
        workspace_id=run.connection.workspace_id, pk__in=_creation_rows(run).values("customer_id")
    )


def run_merged_customers(*, run: SyncRun) -> QuerySet[Customer]:
    """The customers already in Skalin that this run linked to a CRM record (merged by a merge key)."""
    window = Q(created_at__gte=run.started_at)
    if run.finished_at is not None:
        window &= Q(created_at__lte=run.finished_at)
    linked = ExternalRef.objects.filter(window, connection=run.connection, object_type=ObjectType.CUSTOMERS)
    return Customer.objects.filter(
        workspace_id=run.connection.workspace_id, pk__in=linked.values("local_id")
    ).exclude(pk__in=_creation_rows(run).values("customer_id"))


def run_created_customers_remaining(*, run: SyncRun) -> int:
    if run.dry_run:
        return 0
    return run_created_customers(run=run).count()


def run_undo_entries(*, run: SyncRun) -> list[ChangeLog]:
    """The audit entries of earlier undos of this run, newest first."""
    return list(
        ChangeLog.objects.filter(
            workspace_id=run.connection.workspace_id,
            customer__isnull=True,
            object_type=AUDIT_OBJECT_TYPE,
            object_id=run.pk,
            field=AUDIT_FIELD,
        ).select_related("actor_user")
    )


def _busy_reason(run: SyncRun) -> str:
    if run.dry_run:
        return "This run is a preview: it created nothing."
    if run.status in BUSY_STATUSES:
        return "This run has not finished yet; wait for it to end."
    if run.connection.runs.filter(status__in=BUSY_STATUSES).exists():
        return (
            f"A {run.connection.get_crm_display()} sync is running now; wait for it to end, so that it does "
            "not link records to customers being deleted."
        )
    return ""


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[start : start + CHUNK] for start in range(0, len(ids), CHUNK)]


def _customer_ids(rows: QuerySet[Any]) -> set[int]:
    # No ordering: a model's default ordering would join DISTINCT and repeat customers.
    return set(rows.order_by().values_list("customer_id", flat=True).distinct())


def _kept_reasons(run: SyncRun, ids: list[int]) -> dict[int, list[str]]:
    """Why some of the created customers must stay, per customer id."""
    connection = run.connection
    reasons: dict[int, list[str]] = {}

    def add(customer_ids: set[int], reason: str) -> None:
        for customer_id in customer_ids:
            reasons.setdefault(customer_id, []).append(reason)

    for chunk in _chunks(ids):
        edits = (
            ChangeLog.objects.filter(customer_id__in=chunk, actor_kind__in=PERSON_ACTORS)
            .order_by("customer_id", "-created_at", "-id")
            .only("customer_id", "field", "actor_label", "created_at")
        )
        seen: set[int] = set()
        for row in edits:
            customer_id = int(row.customer_id or 0)
            if customer_id not in seen:
                seen.add(customer_id)
                who = row.actor_label or "a person"
                add({customer_id}, f"changed by {who} on {row.created_at:%d %b %Y} ({row.field})")
        add(
            _customer_ids(Interaction.objects.filter(customer_id__in=chunk, source="manual")),
            "has interactions entered in Skalin",
        )
        add(
            _customer_ids(Agreement.objects.filter(customer_id__in=chunk, source="ui")),
            "has agreements entered in Skalin",
        )
        add(
            _customer_ids(Task.objects.filter(customer_id__in=chunk, created_by__isnull=False)),
            "has tasks written by a person",
        )
        older = Q(created_at__lt=run.started_at, customer_id__in=chunk)
        for model, label in ((Contact, "contacts"), (Agreement, "agreements"), (Interaction, "interactions")):
            add(
                _customer_ids(model._default_manager.filter(older)),
                f"holds {label} that were in Skalin before this run (moved from another customer)",
            )
        for source in CustomerSource.objects.filter(customer_id__in=chunk).exclude(source=connection.crm):
            add({source.customer_id}, f"is linked to {source.source.title()} ({source.external_id})")
        other_links = ExternalRef.objects.filter(
            connection__workspace_id=connection.workspace_id,
            object_type=ObjectType.CUSTOMERS,
            local_id__in=chunk,
        ).exclude(connection=connection)
        for ref in other_links.select_related("connection"):
            add(
                {int(ref.local_id)},
                f"is linked to the {ref.connection.get_crm_display()} connection #{ref.connection_id}",
            )
    return reasons


def run_undo_preview(*, run: SyncRun) -> UndoPreview:
    """What an undo of this run would delete now, and what it would keep and why."""
    preview = UndoPreview(run=run, blocker=_busy_reason(run))
    if run.dry_run:
        return preview
    created = run_created_customers(run=run)
    customers = list(created.order_by("name", "pk"))
    preview.created_count = len(customers)
    reasons = _kept_reasons(run, [customer.pk for customer in customers])
    for customer in customers:
        if customer.pk in reasons:
            preview.kept.append(KeptCustomer(customer, reasons[customer.pk]))
        else:
            preview.deletable.append(customer)
    preview.merged = list(run_merged_customers(run=run).order_by("name", "pk"))
    for chunk in _chunks([customer.pk for customer in preview.deletable]):
        preview.contacts += Contact.objects.filter(customer_id__in=chunk).count()
        preview.agreements += Agreement.objects.filter(customer_id__in=chunk).count()
        preview.interactions += Interaction.objects.filter(customer_id__in=chunk).count()
        preview.tasks += Task.objects.filter(customer_id__in=chunk).count()
        preview.usage_events += UsageEvent.objects.filter(customer_id__in=chunk).count()
    if preview.deletable:
        preview.active_mrr = sum((customer.active_mrr for customer in preview.deletable), Decimal("0"))
    return preview


# ---- the undo ----------------------------------------------------------------------------------------------


def _check_confirmation(preview: UndoPreview, confirmation: str) -> None:
    typed = _normalised(confirmation)
    wanted = preview.confirmation_phrase
    if typed == wanted:
        return
    if not typed:
        raise ValidationError(f"Nothing was deleted: type {wanted} to confirm.")
    other_count = re.fullmatch(r"DELETE (\d+) CUSTOMERS?", typed)
    if other_count:
        raise ValidationError(
            f"Nothing was deleted: you confirmed {other_count.group(1)} customers, but "
            f"{len(preview.deletable)} can be deleted now (the list changed since the preview, or the number "
            f"was mistyped). Check the list below and type {wanted}."
        )
    raise ValidationError(
        f"Nothing was deleted: '{confirmation.strip()}' is not the confirmation. Type {wanted}."
    )


def _summary(*, customers: int, contacts: int, agreements: int, interactions: int, kept: int) -> str:
    text = (
        f"{customers} customers, {contacts} contacts, {agreements} agreements and {interactions} interactions "
        "deleted"
    )
    return f"{text}; {kept} kept (changed or enriched since)" if kept else text


@transaction.atomic
def run_undo(*, run: SyncRun, user: Any, confirmation: str, disable_connection: bool = False) -> UndoResult:
    """Hard-delete what `run_undo_preview` lists as deletable, if `confirmation` is its phrase. The preview
    is computed again here, inside the transaction: a customer edited since the Admin looked is kept, and
    the count in the phrase no longer matches, so nothing is deleted behind the Admin's back."""
    run = SyncRun.objects.select_related("connection__workspace").get(pk=run.pk)
    connection: Connection = run.connection
    # Lock the rows first, so that an edit racing this transaction waits for it or is seen by the preview
    # (PostgreSQL; SQLite locks the whole database for a write transaction anyway).
    list(run_created_customers(run=run).select_for_update().values_list("pk", flat=True))
    preview = run_undo_preview(run=run)
    if preview.blocker:
        raise ValidationError(f"Nothing was deleted: {preview.blocker}")
    if not preview.deletable:
        raise ValidationError("Nothing to delete: none of the customers this run created can be deleted.")
    _check_confirmation(preview, confirmation)

    ids = [customer.pk for customer in preview.deletable]
    counts = {"contacts": 0, "agreements": 0, "interactions": 0}
    mrr = Decimal("0")
    workspace_links = ExternalRef.objects.filter(connection__workspace_id=connection.workspace_id)
    for chunk in _chunks(ids):
        for object_type, model, key in (
            (ObjectType.CONTACTS, Contact, "contacts"),
            (ObjectType.AGREEMENTS, Agreement, "agreements"),
            (ObjectType.INTERACTIONS, Interaction, "interactions"),
        ):
            local_ids = list(
                model._default_manager.filter(customer_id__in=chunk).values_list("pk", flat=True)
            )
            counts[key] += len(local_ids)
            for part in _chunks(local_ids):
                workspace_links.filter(object_type=object_type, local_id__in=part).delete()
        workspace_links.filter(object_type=ObjectType.CUSTOMERS, local_id__in=chunk).delete()
        # Usage events are the product's own record: they wait, unattached, for the customer to come back.
        UsageEvent.objects.filter(customer_id__in=chunk).update(
            customer=None, contact=None, aggregated_at=None
        )
        mrr += Customer.objects.filter(pk__in=chunk).aggregate(total=Sum("active_mrr"))["total"] or 0
        Customer.objects.filter(pk__in=chunk).delete()
        # The search pass would drop their entries within 15 minutes; a hard delete leaves no name findable.
        SearchEntry.objects.filter(workspace_id=connection.workspace_id, customer_id__in=chunk).delete()
    names = sorted(customer.name for customer in preview.deletable)
    # Customers still selected in the CRM come back at the next run, created again or merged.
    SyncState.objects.filter(connection=connection).update(
        cursor="", page_cursor="", listing_since="", high_water=""
    )
    if disable_connection and connection.status != Connection.Status.DISABLED:
        connection_disable(connection=connection)

    actor = Actor.for_user(user)
    listed = "; ".join(names[:NAMES_IN_AUDIT])
    if len(names) > NAMES_IN_AUDIT:
        listed += f"; and {len(names) - NAMES_IN_AUDIT} more"
    audit = ChangeLog.objects.create(
        workspace_id=connection.workspace_id,
        customer=None,
        object_type=AUDIT_OBJECT_TYPE,
        object_id=run.pk,
        field=AUDIT_FIELD,
        old_value=listed,
        new_value=_summary(customers=len(ids), **counts, kept=len(preview.kept))
        + f"; active MRR removed: {mrr} {connection.workspace.currency}"
        + f"; {connection.get_crm_display()} sync run #{run.pk}"
        + ("; connection disabled" if disable_connection else ""),
        actor_kind=actor.kind,
        actor_user=user,
        actor_label=actor.label,
        actor_ref=str(user.pk),
    )
    return UndoResult(customers=len(ids), **counts, kept=len(preview.kept), audit=audit)
