"""Contacts of synced customers, matched on email, with their mapped role tags."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from customers.models import Contact, CustomField, RoleTag
from customers.services import contact_upsert_from_crm, custom_value_parse
from workspaces.services import workspace_default_domains

from ..base import ReadRequest, Record
from ..mapping import clean_text, is_blank, split_values
from ..models import ObjectSetting, ObjectType
from ..push import contact_remote_value
from ..sync import RecordRejected, RunContext, since_for, state_for
from .common import (
    PageCustomers,
    Refs,
    input_mappings,
    raw,
    read_scoped,
    requested_fields,
    settle_two_way,
    synced_customer_ids,
    synced_customer_refs,
)


class ContactPull:
    FIELDS = ("first_name", "last_name", "email", "phone", "title", "ref_id")

    def __init__(self, ctx: RunContext, setting: ObjectSetting) -> None:
        self.ctx, self.setting = ctx, setting
        self.maps = input_mappings(setting)
        self.refs = Refs(ctx, ObjectType.CONTACTS)
        self.customers = PageCustomers(ctx)
        # The page's contacts found by their link or their email, one instance per row.
        self.rows: dict[int, Contact] = {}
        self.by_email: dict[str, Contact] = {}
        self.custom_fields = {
            f.key: f for f in CustomField.objects.filter(workspace=ctx.workspace, target="contact")
        }
        self.role_maps = [m for m in self.maps if m.local_field.startswith("role:")]
        self._secondary: dict[str, int] | None = None
        # The workspace's own domains, for CRMs that offer to leave colleagues out (Sellsy).
        self.options = {
            **(setting.options or {}),
            "own_domains": workspace_default_domains(workspace=ctx.workspace),
        }

    def run(self) -> None:
        if not synced_customer_refs(self.ctx).exists():
            return
        state = state_for(self.ctx, self.setting)
        request = ReadRequest(
            object_type=ObjectType.CONTACTS,
            since=since_for(state),
            cursor=None,
            options=self.options,
            fields=requested_fields(self.maps),
            scope_ids=synced_customer_ids(self.ctx),
        )
        read_scoped(self.ctx, state, request, self)

    def prepare(self, records: list[Record]) -> None:
        self.customers.load(records)
        self.refs.load(record.external_id for record in records)
        linked = [ref.local_id for ref in self.refs.loaded.values() if ref is not None]
        emails: set[str] = set()
        for record in records:
            for m in self.maps:
                if m.local_field == "email":
                    emails.add(clean_text(raw(record, m), max_length=254).lower())
        emails.discard("")
        wanted = Q(pk__in=linked) if linked else Q()
        if emails:
            wanted = wanted | Q(email__in=sorted(emails)) if linked else Q(email__in=sorted(emails))
        found = (
            Contact.objects.filter(wanted, workspace=self.ctx.workspace)
            if linked or emails
            else Contact.objects.none()
        )
        self.rows = {contact.pk: contact for contact in found}
        self.by_email = {}
        for contact in sorted(
            self.rows.values(), key=lambda c: (c.last_name, c.first_name, c.pk), reverse=True
        ):
            if contact.email:
                self.by_email[contact.email] = contact

    def settle(self) -> None:
        self.rows, self.by_email = {}, {}

    def apply(self, record: Record) -> None:
        customer = self.customers.of(record)
        if customer is None:
            self.ctx.count("skipped")
            return
        values: dict[str, Any] = {}
        received: dict[str, Any] = {}
        for m in self.maps:
            value = raw(record, m)
            received[m.remote_field] = (
                value if isinstance(value, str | int | float | bool | type(None)) else str(value)
            )
            self.ctx.fill(m.local_field, "empty" if is_blank(value) else "filled")
            if m.local_field in self.FIELDS:
                text = clean_text(value, max_length=254 if m.local_field == "email" else 120)
                if m.local_field == "email":
                    text = text.lower()
                    if text and ("@" not in text or " " in text):
                        self.ctx.warn(f"Contact {record.external_id}: '{text}' is not an email; left out.")
                        continue
                values[m.local_field] = text
            elif m.local_field.startswith("custom:"):
                definition = self.custom_fields.get(m.local_field.removeprefix("custom:"))
                if definition is not None:
                    values[m.local_field] = custom_value_parse(field=definition, raw=value)
        contact = self.find(record, values.get("email", ""))
        keep_local = settle_two_way(
            self.ctx,
            self.refs.get(record.external_id),
            contact,
            self.maps,
            received,
            contact_remote_value,
        )
        values = {key: value for key, value in values.items() if key not in keep_local}
        roles, managed = self.roles(record, contact)
        if contact is None and not (
            values.get("email") or values.get("first_name") or values.get("last_name")
        ):
            raise RecordRejected("The contact has neither a name nor an email.")
        result = contact_upsert_from_crm(
            customer=customer,
            contact=contact,
            actor=self.ctx.actor,
            values=values,
            clearable=[m.local_field for m in self.maps if m.clearable],
            managed_roles=managed,
            crm_roles=roles,
            savepoint=False,  # the record's own savepoint (apply_page) isolates it
        )
        self.ctx.count("created" if result.created else "updated" if result.changed else "unchanged")
        self.ctx.count("skipped_empty", len(result.kept))
        for key in result.kept:
            self.ctx.fill(key, "kept")
        self.refs.link(record, result.row.pk, received)
        self.rows[result.row.pk] = result.row
        if result.row.email:
            self.by_email[result.row.email] = result.row

    def find(self, record: Record, email: str) -> Contact | None:
        ref = self.refs.get(record.external_id)
        if ref is not None:
            contact = self.rows.get(ref.local_id)
            if contact is not None:
                return contact
        if not email:
            return None
        contact = self.by_email.get(email)
        if contact is not None and contact.email != email:
            contact = None  # its email changed earlier in this page
        if contact is None:
            pk = self._by_secondary_email().get(email)
            contact = (self.rows.get(pk) or Contact.objects.filter(pk=pk).first()) if pk else None
        if contact is not None:
            other = self.refs.linked_to(contact.pk, other_than=record.external_id)
            if other and other != record.external_id:
                raise RecordRejected(
                    f"The email {email} is already the contact of {self.ctx.connection.get_crm_display()} record {other}."
                )
        return contact

    def _by_secondary_email(self) -> dict[str, int]:
        """Secondary email -> contact, built once per run (a per-contact JSON scan was the run's slowest query)."""
        if self._secondary is None:
            self._secondary = {}
            rows = Contact.objects.filter(workspace=self.ctx.workspace).exclude(secondary_emails=[])
            for pk, emails in rows.values_list("pk", "secondary_emails"):
                for address in emails or []:
                    self._secondary.setdefault(str(address).lower(), pk)
        return self._secondary

    def roles(self, record: Record, contact: Contact | None) -> tuple[list[str] | None, set[str]]:
        """Role tags from their (CRM field, value) pairs; a blank field keeps what the contact has."""
        if not self.role_maps:
            return None, set()
        current = set(contact.role_tags) if contact else set()
        roles: set[str] = set()
        managed: set[str] = set()
        for m in self.role_maps:
            role = m.local_field.removeprefix("role:")
            if role not in RoleTag.values:
                continue
            managed.add(role)
            value = raw(record, m)
            if is_blank(value) and not m.clearable:
                if role in current:
                    roles.add(role)
                continue
            wanted = {key.casefold() for key in (m.value_table or {})}
            if any(v.casefold() in wanted for v in split_values(value)):
                roles.add(role)
        return sorted(roles), managed
