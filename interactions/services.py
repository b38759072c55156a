from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from customers.changes import Actor
from customers.models import Contact, Customer

from .models import Direction, Interaction, InteractionKind

INTERACTION_FIELDS = (
    "kind",
    "direction",
    "customer_replied",
    "attended",
    "occurred_at",
    "subject",
    "body",
    "author",
    "author_name",
    "participants",
    "source",
    "external_id",
)


def counts_as_contact() -> Q:
    """Last contact counts moments the customer took part in (FAQ: "shows 15 days although I emailed
    yesterday"): an incoming email or one they replied to, a meeting they attended, a call. An outgoing
    email with no reply and an internal note do not."""
    return (
        Q(kind=InteractionKind.EMAIL, direction=Direction.INCOMING)
        | Q(kind=InteractionKind.EMAIL, customer_replied=True)
        | Q(kind=InteractionKind.MEETING, attended=True)
        | Q(kind=InteractionKind.CALL)
    )


def customer_last_contact(*, customer: Customer, now: dt.datetime | None = None) -> dt.datetime | None:
    now = now or timezone.now()
    return customer.interactions.filter(counts_as_contact(), occurred_at__lte=now).aggregate(
        last=Max("occurred_at")
    )["last"]


def customer_refresh_last_contact(*, customer: Customer) -> None:
    customer.last_contact_at = customer_last_contact(customer=customer)
    Customer.objects.filter(pk=customer.pk).update(last_contact_at=customer.last_contact_at)


def _check(interaction: Interaction, contacts: list[Contact]) -> None:
    if interaction.kind not in InteractionKind.values:
        raise ValidationError({"kind": "Choose email, meeting, call or note."})
    if interaction.kind == InteractionKind.EMAIL and not interaction.direction:
        raise ValidationError({"direction": "Say whether the email was received or sent."})
    if interaction.occurred_at is None:
        raise ValidationError({"occurred_at": "When did it happen?"})
    if any(contact.customer_id != interaction.customer_id for contact in contacts):
        raise ValidationError({"contacts": "Only contacts of this customer can take part."})


@transaction.atomic
def interaction_create(
    *, customer: Customer, actor: Actor, contacts: Iterable[Contact] = (), **fields: Any
) -> Interaction:
    interaction = _interaction_create(customer=customer, actor=actor, contacts=contacts, fields=fields)
    customer_refresh_last_contact(customer=customer)
    return interaction


def _interaction_create(
    *, customer: Customer, actor: Actor, contacts: Iterable[Contact], fields: dict[str, Any]
) -> Interaction:
    unknown = set(fields) - set(INTERACTION_FIELDS)
    if unknown:
        raise TypeError(f"interaction_create() cannot set {sorted(unknown)}")
    contact_list = list(contacts)
    interaction = Interaction(workspace_id=customer.workspace_id, customer=customer, **fields)
    if interaction.author is None and actor.user is not None and interaction.source == "manual":
        interaction.author = actor.user
    _check(interaction, contact_list)
    interaction.save()
    if contact_list:
        # A new row has no contacts yet: add() is one INSERT where set() first reads the current ones.
        interaction.contacts.add(*contact_list)
    return interaction


@transaction.atomic
def interaction_update(
    *, interaction: Interaction, actor: Actor, contacts: Iterable[Contact] | None = None, **fields: Any
) -> Interaction:
    _interaction_update(interaction=interaction, actor=actor, contacts=contacts, fields=fields)
    customer_refresh_last_contact(customer=interaction.customer)
    return interaction


def _interaction_update(
    *, interaction: Interaction, actor: Actor, contacts: Iterable[Contact] | None, fields: dict[str, Any]
) -> None:
    unknown = set(fields) - set(INTERACTION_FIELDS)
    if unknown:
        raise TypeError(f"interaction_update() cannot set {sorted(unknown)}")
    for field, value in fields.items():
        setattr(interaction, field, value)
    contact_list = list(contacts) if contacts is not None else list(interaction.contacts.all())
    _check(interaction, contact_list)
    interaction.save()
    if contacts is not None:
        interaction.contacts.set(contact_list)


@transaction.atomic
def interaction_delete(*, interaction: Interaction, actor: Actor) -> None:
    customer = interaction.customer
    interaction.delete()
    customer_refresh_last_contact(customer=customer)


# ---- writes coming from a CRM sync --------------------------------------------------------------------


def interaction_upsert_from_crm(
    *,
    customer: Customer,
    actor: Actor,
    source: str,
    external_id: str,
    kind: str,
    values: dict[str, Any],
    contacts: Iterable[Contact] = (),
    savepoint: bool = True,
    refresh_last_contact: bool = True,
    known: dict[str, Interaction] | None = None,
) -> tuple[Interaction, bool, bool]:
    """Create or update the interaction a CRM engagement describes (keyed by source + external id).
    `values`: subject, body, occurred_at, direction, author_name, attended, customer_replied. Returns
    (interaction, created); an engagement seen again unchanged is left as it is.

    A sync applying many engagements passes `savepoint=False` when its own savepoint already isolates
    this write, and `refresh_last_contact=False` to recompute `customer`'s Last contact once for all of
    them (customers_refresh_last_contact); a customer the engagement moved away from is refreshed here.
    `known`: what interactions_from_crm found for a batch of engagements including this one, so that
    each needs no look-up of its own."""
    with transaction.atomic(savepoint=savepoint):
        if known is not None:
            existing = known.get(external_id)
        else:
            existing = Interaction.objects.filter(
                workspace_id=customer.workspace_id, source=source, external_id=external_id
            ).first()
        if existing is None:
            created = _interaction_create(
                customer=customer,
                actor=actor,
                contacts=contacts,
                fields={"kind": kind, "source": source, "external_id": external_id, **values},
            )
            if refresh_last_contact:
                customer_refresh_last_contact(customer=customer)
            return created, True, True
        contact_list = list(contacts)
        unchanged = (
            existing.customer_id == customer.pk
            and existing.kind == kind
            and all(getattr(existing, key) == value for key, value in values.items())
            and {c.pk for c in contact_list} == set(existing.contacts.values_list("pk", flat=True))
        )
        if unchanged:
            # Seen again with nothing new: no write, no Last-contact recomputation.
            return existing, False, False
        previous_customer = existing.customer
        existing.customer = customer
        _interaction_update(
            interaction=existing, actor=actor, contacts=contact_list, fields={"kind": kind, **values}
        )
        if refresh_last_contact:
            customer_refresh_last_contact(customer=customer)
        if previous_customer.pk != customer.pk:
            customer_refresh_last_contact(customer=previous_customer)
        return existing, False, True


def interactions_from_crm(
    *, workspace_id: int, source: str, external_ids: Iterable[str]
) -> dict[str, Interaction]:
    """The interactions these CRM engagements made earlier, by external id (one query per 1,000)."""
    wanted = sorted(set(external_ids))
    found: dict[str, Interaction] = {}
    for start in range(0, len(wanted), 1000):
        rows = Interaction.objects.filter(
            workspace_id=workspace_id, source=source, external_id__in=wanted[start : start + 1000]
        )
        found.update((row.external_id, row) for row in rows)
    return found


def customers_refresh_last_contact(*, customers: Iterable[Customer], now: dt.datetime | None = None) -> None:
    """customer_refresh_last_contact for many customers at once: one aggregate and one UPDATE."""
    rows = {customer.pk: customer for customer in customers}
    if not rows:
        return
    now = now or timezone.now()
    last = dict(
        Interaction.objects.filter(counts_as_contact(), customer_id__in=list(rows), occurred_at__lte=now)
        .order_by()
        .values("customer_id")
        .annotate(last=Max("occurred_at"))
        .values_list("customer_id", "last")
    )
    for pk, customer in rows.items():
        customer.last_contact_at = last.get(pk)
    Customer.objects.bulk_update(list(rows.values()), ["last_contact_at"])


def last_contacts_refresh_recent(*, window: dt.timedelta = dt.timedelta(days=2)) -> int:
    """Meetings planned ahead become Last contact once they happen; nothing else touches the customer then,
    so a periodic pass refreshes customers whose counting interactions fell due in the recent window."""
    now = timezone.now()
    customer_ids = (
        Interaction.objects.filter(counts_as_contact(), occurred_at__gt=now - window, occurred_at__lte=now)
        .values_list("customer_id", flat=True)
        .distinct()
    )
    count = 0
    for customer in Customer.objects.filter(pk__in=list(customer_ids)).iterator(chunk_size=500):
        customer_refresh_last_contact(customer=customer)
        count += 1
    return count
