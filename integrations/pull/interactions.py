"""Emails, meetings, calls and notes of synced customers."""

from __future__ import annotations

from customers.models import Contact, Customer
from interactions.models import InteractionKind
from interactions.services import interaction_upsert_from_crm

from ..base import ReadRequest, Record
from ..mapping import clean_text, parse_datetime
from ..models import ExternalRef, ObjectSetting, ObjectType
from ..sync import RecordRejected, RunContext, since_for, state_for
from .common import read_scoped, synced_customers


class InteractionPull:
    def __init__(self, ctx: RunContext, setting: ObjectSetting) -> None:
        self.ctx, self.setting = ctx, setting
        self.options = setting.options or {}
        self.kinds = [
            k for k in self.options.get("kinds", list(InteractionKind.values)) if k in InteractionKind.values
        ]
        self.customers = synced_customers(ctx)
        self.contacts = dict(
            ExternalRef.objects.filter(
                connection=ctx.connection, object_type=ObjectType.CONTACTS
            ).values_list("external_id", "local_id")
        )

    def run(self) -> None:
        if not self.customers or not self.kinds:
            return
        state = state_for(self.ctx, self.setting)
        request = ReadRequest(
            object_type=ObjectType.INTERACTIONS,
            since=since_for(state),
            cursor=None,
            options={**self.options, "kinds": self.kinds},
            scope_ids=sorted(self.customers),
        )
        read_scoped(self.ctx, state, request, self.apply, self.customers)

    def apply(self, record: Record) -> None:
        if record.kind not in self.kinds:
            return
        customer_id = next(
            (self.customers[c] for c in record.links.get("customers", []) if c in self.customers), None
        )
        if customer_id is None:
            self.ctx.count("skipped")
            return
        occurred = parse_datetime(record.fields.get("occurred_at"))
        if occurred is None:
            raise RecordRejected("The interaction has no date.")
        direction = record.fields.get("direction") or ""
        if record.kind == InteractionKind.EMAIL and direction not in ("incoming", "outgoing"):
            direction = "outgoing"
            self.ctx.warn(f"Email {record.external_id} has no direction; counted as sent.")
        contact_ids = [self.contacts[c] for c in record.links.get("contacts", []) if c in self.contacts]
        contacts = list(Contact.objects.filter(pk__in=contact_ids, customer_id=customer_id))
        values = {
            "subject": clean_text(record.fields.get("subject"), max_length=300),
            "body": clean_text(record.fields.get("body"), max_length=100_000),
            "occurred_at": occurred,
            "direction": direction if record.kind != InteractionKind.NOTE else "",
            "author_name": clean_text(record.fields.get("author_email"), max_length=200),
        }
        customer = Customer.objects.get(pk=customer_id)
        _, created, changed = interaction_upsert_from_crm(
            customer=customer,
            actor=self.ctx.actor,
            source=self.ctx.connection.crm,
            external_id=record.external_id,
            kind=record.kind,
            values=values,
            contacts=contacts,
        )
        self.ctx.count("created" if created else "updated" if changed else "unchanged")
