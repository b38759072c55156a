"""Emails, meetings, calls and notes of synced customers."""

from __future__ import annotations

from customers.models import Contact, Customer
from interactions.models import Interaction, InteractionKind
from interactions.services import (
    customers_refresh_last_contact,
    interaction_upsert_from_crm,
    interactions_from_crm,
)

from ..base import ReadRequest, Record
from ..mapping import clean_text, parse_datetime
from ..models import ExternalRef, ObjectSetting, ObjectType
from ..sync import RecordRejected, RunContext, since_for, state_for
from .common import (
    LOOKUP_CHUNK,
    PageCustomers,
    chunked,
    read_scoped,
    synced_customer_ids,
    synced_customer_refs,
)


class InteractionPull:
    def __init__(self, ctx: RunContext, setting: ObjectSetting) -> None:
        self.ctx, self.setting = ctx, setting
        self.options = setting.options or {}
        self.kinds = [
            k for k in self.options.get("kinds", list(InteractionKind.values)) if k in InteractionKind.values
        ]
        self.customers = PageCustomers(ctx)
        # The page's linked contacts, by their CRM id.
        self.contacts: dict[str, Contact] = {}
        # Customers whose Last contact the page's interactions may move: recomputed once per page.
        self.touched: dict[int, Customer] = {}
        # The interactions the page's engagements made in earlier runs.
        self.known: dict[str, Interaction] = {}

    def run(self) -> None:
        if not self.kinds or not synced_customer_refs(self.ctx).exists():
            return
        state = state_for(self.ctx, self.setting)
        request = ReadRequest(
            object_type=ObjectType.INTERACTIONS,
            since=since_for(state),
            cursor=None,
            options={**self.options, "kinds": self.kinds},
            scope_ids=synced_customer_ids(self.ctx),
        )
        read_scoped(self.ctx, state, request, self)

    def prepare(self, records: list[Record]) -> None:
        self.customers.load(records)
        wanted = sorted({str(c) for record in records for c in record.links.get("contacts", [])})
        local: dict[str, int] = {}
        for chunk in chunked(wanted, LOOKUP_CHUNK):
            local.update(
                ExternalRef.objects.filter(
                    connection=self.ctx.connection, object_type=ObjectType.CONTACTS, external_id__in=chunk
                ).values_list("external_id", "local_id")
            )
        rows = Contact.objects.in_bulk(set(local.values()))
        self.contacts = {ext: rows[pk] for ext, pk in local.items() if pk in rows}
        self.known = interactions_from_crm(
            workspace_id=self.ctx.workspace.pk,
            source=self.ctx.connection.crm,
            external_ids=[record.external_id for record in records],
        )
        self.touched = {}

    def settle(self) -> None:
        if self.touched:
            customers_refresh_last_contact(customers=list(self.touched.values()))
        self.touched, self.known = {}, {}

    def apply(self, record: Record) -> None:
        if record.kind not in self.kinds:
            return
        customer = self.customers.of(record)
        if customer is None:
            self.ctx.count("skipped")
            return
        occurred = parse_datetime(record.fields.get("occurred_at"))
        if occurred is None:
            raise RecordRejected("The interaction has no date.")
        direction = record.fields.get("direction") or ""
        if record.kind == InteractionKind.EMAIL and direction not in ("incoming", "outgoing"):
            direction = "outgoing"
            self.ctx.warn(f"Email {record.external_id} has no direction; counted as sent.")
        linked = {
            self.contacts[c].pk: self.contacts[c]
            for c in record.links.get("contacts", [])
            if c in self.contacts
        }
        contacts = [contact for contact in linked.values() if contact.customer_id == customer.pk]
        values = {
            "subject": clean_text(record.fields.get("subject"), max_length=300),
            "body": clean_text(record.fields.get("body"), max_length=100_000),
            "occurred_at": occurred,
            "direction": direction if record.kind != InteractionKind.NOTE else "",
            "author_name": clean_text(record.fields.get("author_email"), max_length=200),
        }
        # The record's own savepoint (apply_page) isolates it; Last contact is recomputed per page.
        _, created, changed = interaction_upsert_from_crm(
            customer=customer,
            actor=self.ctx.actor,
            source=self.ctx.connection.crm,
            external_id=record.external_id,
            kind=record.kind,
            values=values,
            contacts=contacts,
            savepoint=False,
            refresh_last_contact=False,
            known=self.known,
        )
        if changed:
            self.touched[customer.pk] = customer
        self.ctx.count("created" if created else "updated" if changed else "unchanged")
