"""Reading each object from the CRM into Skalin: mapping values, finding the row (link, then merge keys),
and writing through the domain services."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from agreements.models import AmountPeriod, Interval
from agreements.services import agreement_missing_fields, agreement_skip_from_crm, agreement_upsert_from_crm
from customers.models import CHURN_PHASE, Contact, Customer, CustomField, HealthProfile, Phase, RoleTag
from customers.services import (
    contact_upsert_from_crm,
    custom_value_parse,
    customer_update,
    customer_upsert_from_crm,
    phase_default,
)
from interactions.models import InteractionKind
from interactions.services import interaction_upsert_from_crm

from .base import ReadRequest, Record
from .mapping import (
    ValueMappingError,
    clean_text,
    domain_of,
    is_blank,
    is_free_mail,
    normalise_name,
    parse_amount,
    parse_bool,
    parse_date,
    parse_datetime,
    parse_int,
    remote_value,
    split_values,
    translate,
)
from .models import ExternalRef, FieldDirection, FieldMapping, ObjectSetting, ObjectType
from .sync import RecordRejected, RunContext, apply_page, read_pages, since_for, state_for

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


# ---- customers --------------------------------------------------------------------------------------------


@dataclass
class CustomerIndex:
    """Merge-key lookups over the workspace's customers, built once per run (names compare after NFKC,
    case folding and whitespace collapsing)."""

    keys: dict[str, dict[str, set[int]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(set))
    )

    @classmethod
    def build(cls, workspace_id: int, merge_keys: list[str]) -> CustomerIndex:
        index = cls()
        for pk, name, domain, ref_id, custom in Customer.objects.filter(
            workspace_id=workspace_id
        ).values_list("pk", "name", "domain", "ref_id", "custom_values"):
            index.add(pk, name=name, domain=domain, ref_id=ref_id, custom=custom, merge_keys=merge_keys)
        return index

    def add(
        self, pk: int, *, name: str, domain: str, ref_id: str, custom: dict[str, Any], merge_keys: list[str]
    ) -> None:
        for key in merge_keys:
            value = self.key_value(key, name=name, domain=domain, ref_id=ref_id, custom=custom)
            if value:
                self.keys[key][value].add(pk)

    @staticmethod
    def key_value(key: str, *, name: Any, domain: Any, ref_id: Any, custom: dict[str, Any]) -> str:
        if key == "name":
            return normalise_name(name)
        if key == "domain":
            value = domain_of(domain)
            return "" if is_free_mail(value) else value
        if key == "ref_id":
            return clean_text(ref_id)
        if key.startswith("custom:"):
            return clean_text(custom.get(key.removeprefix("custom:")))
        return ""

    def find(self, key: str, value: str) -> set[int]:
        return self.keys[key].get(value, set()) if value else set()


KEY_LABELS = {"ref_id": "Customer ID", "name": "name", "domain": "domain"}


class CustomerPull:
    def __init__(self, ctx: RunContext, setting: ObjectSetting) -> None:
        self.ctx, self.setting = ctx, setting
        self.options = setting.options or {}
        self.maps = input_mappings(setting)
        if not ctx.connection.owns_customer_id:
            # Only one connection owns the Customer ID; the others never write it.
            self.maps = [m for m in self.maps if m.local_field != "ref_id"]
        self.merge_keys = list(self.options.get("merge_keys") or DEFAULT_MERGE_KEYS)
        workspace = ctx.workspace
        self.refs = Refs(ctx, ObjectType.CUSTOMERS)
        self.index = CustomerIndex.build(workspace.pk, self.merge_keys)
        self.phases = {p.technical_name: p for p in Phase.objects.filter(workspace=workspace)}
        self.phase_labels = {p.label.casefold(): p for p in self.phases.values()}
        self.profiles = {p.name.casefold(): p for p in HealthProfile.objects.filter(workspace=workspace)}
        self.members = {
            u.email.lower(): u for u in User.objects.filter(memberships__workspace=workspace) if u.email
        }
        self.custom_fields = {
            f.key: f for f in CustomField.objects.filter(workspace=workspace, target="customer")
        }
        self.parents: dict[str, str] = {}

    def run(self) -> None:
        state = state_for(self.ctx, self.setting)
        request = ReadRequest(
            object_type=ObjectType.CUSTOMERS,
            since=since_for(state),
            cursor=None,
            options=self.options,
            fields=requested_fields(self.maps),
        )
        for page, commit in read_pages(self.ctx, state, request):
            with transaction.atomic():
                apply_page(self.ctx, ObjectType.CUSTOMERS, page, self.apply)
                commit()
        if self.options.get("parent_child"):
            self.link_parents()
        if self.options.get("churn_on_absence"):
            self.churn_absent()

    # -- one record -------------------------------------------------------------------------------------
    def values(
        self, record: Record
    ) -> tuple[dict[str, Any], list[str] | None, set[str] | None, dict[str, Any]]:
        """(values, crm tags or None, managed tags or None, raw received values)."""
        values: dict[str, Any] = {}
        received: dict[str, Any] = {}
        tags: list[str] | None = None
        managed: set[str] | None = None
        for m in self.maps:
            value = raw(record, m)
            received[m.remote_field] = (
                value if isinstance(value, str | int | float | bool | type(None)) else str(value)
            )
            local = m.local_field
            if local == "name":
                values["name"] = clean_text(value, max_length=200)
            elif local == "domain":
                values["domain"] = domain_of(value)
            elif local == "ref_id":
                values["ref_id"] = clean_text(value, max_length=120)
            elif local == "owner":
                owner = self.owner(value)
                if owner is not False:
                    values["owner"] = owner
            elif local == "phase":
                phase = self.phase(value, m)
                if phase is not False:
                    values["phase"] = phase
            elif local == "health_profile":
                profile = self.profile(value, m)
                if profile is not False:
                    values["health_profile"] = profile
            elif local == "tags":
                if is_blank(value) and not m.clearable:
                    continue
                table = m.value_table or {}
                crm_values = split_values(value)
                if table:
                    tags = [t for t in (translate(v, table) for v in crm_values) if t]
                    managed = set(table.values())
                else:
                    tags = crm_values
                    managed = set(crm_values)
            elif local.startswith("custom:"):
                definition = self.custom_fields.get(local.removeprefix("custom:"))
                if definition is None:
                    self.ctx.warn(
                        f"The mapping names a custom field '{local}' that no longer exists; ignored."
                    )
                    continue
                values[local] = custom_value_parse(field=definition, raw=value)
        return values, tags, managed, received

    def owner(self, value: Any) -> Any:
        """CSM owner by email; an unknown one keeps the current owner (False) and is reported."""
        text = clean_text(value).lower()
        if not text:
            return None
        user = self.members.get(text)
        if user is None:
            self.ctx.warn(
                f"CSM owner '{text}' is not a member of this workspace; the current owner was kept."
            )
            return False
        return user

    def phase(self, value: Any, mapping: FieldMapping) -> Any:
        if is_blank(value):
            return None
        text = clean_text(value)
        name = translate(text, mapping.value_table or {}) or text
        phase = (
            self.phases.get(name) or self.phases.get(name.lower()) or self.phase_labels.get(name.casefold())
        )
        if phase is None:
            self.ctx.warn(
                f"Stage '{text}' has no matching phase; the current phase was kept (new customers: default)."
            )
            return False
        return phase

    def profile(self, value: Any, mapping: FieldMapping) -> Any:
        if is_blank(value):
            return None
        text = clean_text(value)
        name = translate(text, mapping.value_table or {}) or text
        profile = self.profiles.get(name.casefold())
        if profile is None:
            self.ctx.warn(f"Profile '{text}' has no matching health profile; the current one was kept.")
            return False
        return profile

    def find(self, record: Record, values: dict[str, Any]) -> Customer | None:
        ref = self.refs.by_external.get(record.external_id)
        if ref is not None:
            customer = Customer.objects.filter(pk=ref.local_id, workspace=self.ctx.workspace).first()
            if customer is not None:
                return customer
        for key in self.merge_keys:
            value = CustomerIndex.key_value(
                key,
                name=values.get("name"),
                domain=values.get("domain"),
                ref_id=values.get("ref_id"),
                custom={k.removeprefix("custom:"): v for k, v in values.items() if k.startswith("custom:")},
            )
            matches = self.index.find(key, value)
            if len(matches) > 1:
                raise RecordRejected(
                    f"{len(matches)} customers share the {KEY_LABELS.get(key, key)} '{value}'."
                )
            if matches:
                pk = next(iter(matches))
                other = self.refs.by_local.get(pk)
                if other and other != record.external_id:
                    raise RecordRejected(
                        f"Its {KEY_LABELS.get(key, key)} '{value}' matches a customer already linked to "
                        f"{self.ctx.connection.get_crm_display()} record {other}."
                    )
                return Customer.objects.get(pk=pk)
        return None

    def apply(self, record: Record) -> None:
        values, tags, managed, received = self.values(record)
        customer = self.find(record, values)
        result = customer_upsert_from_crm(
            workspace=self.ctx.workspace,
            customer=customer,
            actor=self.ctx.actor,
            values=values,
            clearable=[m.local_field for m in self.maps if m.clearable],
            managed_tags=managed,
            crm_tags=tags or [],
            source=self.ctx.connection.crm,
            external_id=record.external_id,
        )
        row: Customer = result.row
        if result.created:
            self.ctx.count("created")
            self.index.add(
                row.pk,
                name=row.name,
                domain=row.domain,
                ref_id=row.ref_id,
                custom=row.custom_values,
                merge_keys=self.merge_keys,
            )
        elif result.changed:
            self.ctx.count("updated")
        else:
            self.ctx.count("unchanged")
        self.ctx.count("skipped_empty", len(result.kept))
        if record.external_id not in self.refs.by_external:
            self.ctx.new_customer_ids.append(record.external_id)
        ref = self.refs.by_external.get(record.external_id)
        was_out = ref is not None and not ref.in_selection
        self.refs.link(record, row.pk, received)
        if was_out and row.is_churned and "phase" not in values:
            # Back in the selection: out of Churn, into the default phase (logged with the run).
            default = phase_default(workspace=self.ctx.workspace)
            if default is not None and not default.is_churn:
                customer_update(customer=row, actor=self.ctx.actor, phase=default)
        parents = record.links.get("parent") or []
        if parents and parents[0]:
            self.parents[record.external_id] = str(parents[0])

    # -- after the listing -------------------------------------------------------------------------------
    def link_parents(self) -> None:
        """Two levels at most: a deeper record is attached to its top-most synced ancestor, with a warning.
        Parents read later in the run (or in an earlier one) are found through the links."""
        ancestors = {**self._known_parents(), **self.parents}
        for child_ext, parent_ext in self.parents.items():
            child_ref = self.refs.by_external.get(child_ext)
            if child_ref is None:
                continue
            top, seen = parent_ext, {child_ext}
            while top in ancestors and ancestors[top] in self.refs.by_external and top not in seen:
                seen.add(top)
                top = ancestors[top]
            if top in seen:
                self.ctx.warn(f"Parent/child cycle around record {child_ext}; its parent was left unchanged.")
                continue
            parent_ref = self.refs.by_external.get(top)
            if parent_ref is None:
                self.ctx.warn(
                    f"The parent {parent_ext} of record {child_ext} is not synced; no parent was set."
                )
                continue
            if top != parent_ext:
                self.ctx.warn(
                    f"Record {child_ext} sits more than two levels deep; attached to {top}, its top-most parent."
                )
            child = Customer.objects.get(pk=child_ref.local_id)
            parent = Customer.objects.get(pk=parent_ref.local_id)
            if child.parent_id == parent.pk:
                continue
            with transaction.atomic():
                for grandchild in list(child.children.all()):
                    customer_update(customer=grandchild, actor=self.ctx.actor, parent=parent)
                if parent.parent_id is not None:
                    customer_update(customer=parent, actor=self.ctx.actor, parent=None)
                customer_update(customer=child, actor=self.ctx.actor, parent=parent)

    def _known_parents(self) -> dict[str, str]:
        """Child -> parent external ids as they stand locally, for records not read in this run."""
        known: dict[str, str] = {}
        local_to_ext = self.refs.by_local
        for pk, parent_id in Customer.objects.filter(
            pk__in=list(local_to_ext), parent__isnull=False
        ).values_list("pk", "parent_id"):
            if parent_id in local_to_ext:
                known[local_to_ext[pk]] = local_to_ext[parent_id]
        return known

    def churn_absent(self) -> None:
        """Churn only after a complete, error-free enumeration, and only on the present -> absent
        transition: a failed listing raises before this point, so nobody is churned by a truncated one."""
        seen: set[str] = set()
        request = ReadRequest(
            object_type=ObjectType.CUSTOMERS, since=None, cursor=None, options=self.options, ids_only=True
        )
        for page, _ in read_pages(self.ctx, None, request):
            seen.update(record.external_id for record in page.records)
        churn = Phase.objects.filter(workspace=self.ctx.workspace, technical_name=CHURN_PHASE).first()
        for ext, ref in self.refs.by_external.items():
            if ref.in_selection and ext not in seen:
                with transaction.atomic():
                    ref.in_selection = False
                    ref.save(update_fields=["in_selection", "updated_at"])
                    customer = Customer.objects.filter(pk=ref.local_id).first()
                    if customer is not None and churn is not None and customer.phase_id != churn.pk:
                        customer_update(customer=customer, actor=self.ctx.actor, phase=churn)
                        self.ctx.count("churned")


# ---- contacts ---------------------------------------------------------------------------------------------


def synced_customers(ctx: RunContext) -> dict[str, int]:
    return dict(
        ExternalRef.objects.filter(
            connection=ctx.connection, object_type=ObjectType.CUSTOMERS, in_selection=True
        ).values_list("external_id", "local_id")
    )


class ContactPull:
    FIELDS = ("first_name", "last_name", "email", "phone", "title", "ref_id")

    def __init__(self, ctx: RunContext, setting: ObjectSetting) -> None:
        self.ctx, self.setting = ctx, setting
        self.maps = input_mappings(setting)
        self.refs = Refs(ctx, ObjectType.CONTACTS)
        self.customers = synced_customers(ctx)
        self.custom_fields = {
            f.key: f for f in CustomField.objects.filter(workspace=ctx.workspace, target="contact")
        }
        self.role_maps = [m for m in self.maps if m.local_field.startswith("role:")]

    def run(self) -> None:
        if not self.customers:
            return
        state = state_for(self.ctx, self.setting)
        scope = sorted(self.customers)
        self._read(
            state,
            ReadRequest(
                object_type=ObjectType.CONTACTS,
                since=since_for(state),
                cursor=None,
                options=self.setting.options,
                fields=requested_fields(self.maps),
                scope_ids=scope,
            ),
        )
        fresh = sorted(set(self.ctx.new_customer_ids) & set(self.customers))
        if fresh and state.cursor:
            # Customers new to this run: their contacts may be older than the cursor.
            self._read(
                None,
                ReadRequest(
                    object_type=ObjectType.CONTACTS,
                    since=None,
                    cursor=None,
                    options=self.setting.options,
                    fields=requested_fields(self.maps),
                    scope_ids=fresh,
                ),
            )

    def _read(self, state: Any, request: ReadRequest) -> None:
        for page, commit in read_pages(self.ctx, state, request):
            with transaction.atomic():
                apply_page(self.ctx, ObjectType.CONTACTS, page, self.apply)
                commit()

    def apply(self, record: Record) -> None:
        customer_id = next(
            (self.customers[c] for c in record.links.get("customers", []) if c in self.customers), None
        )
        if customer_id is None:
            self.ctx.count("skipped")
            return
        values: dict[str, Any] = {}
        received: dict[str, Any] = {}
        for m in self.maps:
            value = raw(record, m)
            received[m.remote_field] = (
                value if isinstance(value, str | int | float | bool | type(None)) else str(value)
            )
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
        roles, managed = self.roles(record, contact)
        customer = Customer.objects.get(pk=customer_id)
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
        )
        self.ctx.count("created" if result.created else "updated" if result.changed else "unchanged")
        self.ctx.count("skipped_empty", len(result.kept))
        self.refs.link(record, result.row.pk, received)

    def find(self, record: Record, email: str) -> Contact | None:
        ref = self.refs.by_external.get(record.external_id)
        if ref is not None:
            contact = Contact.objects.filter(pk=ref.local_id, workspace=self.ctx.workspace).first()
            if contact is not None:
                return contact
        if not email:
            return None
        contact = Contact.objects.filter(workspace=self.ctx.workspace, email=email).first()
        if contact is None:
            contact = next(
                (
                    c
                    for c in Contact.objects.filter(
                        workspace=self.ctx.workspace, secondary_emails__icontains=email
                    )
                    if email in c.secondary_emails
                ),
                None,
            )
        if contact is not None:
            other = self.refs.by_local.get(contact.pk)
            if other and other != record.external_id:
                raise RecordRejected(
                    f"The email {email} is already the contact of {self.ctx.connection.get_crm_display()} record {other}."
                )
        return contact

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


# ---- agreements -------------------------------------------------------------------------------------------


class AgreementPull:
    def __init__(self, ctx: RunContext, setting: ObjectSetting) -> None:
        self.ctx, self.setting = ctx, setting
        self.options = setting.options or {}
        self.maps = {m.local_field: m for m in input_mappings(setting)}
        self.customers = synced_customers(ctx)
        self.refs = Refs(ctx, ObjectType.AGREEMENTS)

    def fields(self) -> list[str]:
        names = {m.remote_field for m in self.maps.values() if m.remote_field != ID_FIELD}
        for block in ("end", "notice", "tacit"):
            if self.options.get(block, {}).get("field"):
                names.add(self.options[block]["field"])
        return sorted(names)

    def run(self) -> None:
        if not self.customers:
            return
        if "amount" not in self.maps:
            self.ctx.partial_reasons.append(
                "Agreements: map the amount field (MRR or ARR) to import contracts."
            )
            return
        state = state_for(self.ctx, self.setting)
        request = ReadRequest(
            object_type=ObjectType.AGREEMENTS,
            since=since_for(state),
            cursor=None,
            options=self.options,
            fields=self.fields(),
            scope_ids=sorted(self.customers),
        )
        for page, commit in read_pages(self.ctx, state, request):
            with transaction.atomic():
                apply_page(self.ctx, ObjectType.AGREEMENTS, page, self.apply)
                commit()

    def value(self, record: Record, local: str) -> Any:
        mapping = self.maps.get(local)
        return raw(record, mapping) if mapping else None

    def _term(self, record: Record, block: str) -> tuple[Any, Any, Any]:
        """(value, unit, date) of an end or notice: Duration (field + unit), Date (field) or Manual."""
        spec = self.options.get(block) or {}
        mode = spec.get("mode", "none")
        if mode == "date":
            return None, "", parse_date(remote_value(record.fields, spec.get("field", "")))
        if mode == "duration":
            unit = spec.get("unit") or Interval.MONTH
            return parse_int(remote_value(record.fields, spec.get("field", ""))), unit, None
        if mode == "manual":
            return parse_int(spec.get("value")), spec.get("unit") or Interval.MONTH, None
        return None, "", None

    def apply(self, record: Record) -> None:
        customer_id = next(
            (self.customers[c] for c in record.links.get("customers", []) if c in self.customers), None
        )
        if customer_id is None:
            self.ctx.count("skipped")
            return
        customer = Customer.objects.get(pk=customer_id)
        amount = parse_amount(self.value(record, "amount"))
        start = parse_date(self.value(record, "start_date"))
        end_value, end_unit, end_date = self._term(record, "end")
        notice_value, notice_unit, notice_date = self._term(record, "notice")
        plan = clean_text(self.value(record, "plan_name"), max_length=200)
        missing = agreement_missing_fields(
            amount=amount,
            start_date=start,
            end_date=end_date,
            duration_value=end_value,
            duration_unit=end_unit,
        )
        if missing:
            agreement_skip_from_crm(
                customer=customer,
                source=self.ctx.connection.crm,
                external_id=record.external_id,
                label=plan or record.external_id,
                missing=missing,
            )
            self.ctx.count("skipped")
            self.ctx.warn(
                f"Contract {record.external_id} of {customer} not imported: missing {', '.join(missing)}."
            )
            return
        fee = parse_amount(self.value(record, "one_time_fee"))
        values = {
            "plan_name": plan,
            "amount": amount,
            "amount_period": AmountPeriod.ARR
            if self.options.get("amount_format") == "arr"
            else AmountPeriod.MRR,
            "one_time_fee": fee if fee is not None else 0,
            "start_date": start,
            "end_date": end_date,
            "duration_value": end_value if end_date is None else None,
            "duration_unit": end_unit if end_date is None else "",
            "notice_value": notice_value,
            "notice_unit": notice_unit if notice_value else "",
            "notice_date": notice_date,
            "tacit_renewal": self.tacit(record, notice_value, notice_date),
        }
        agreement, created, changed = agreement_upsert_from_crm(
            customer=customer,
            actor=self.ctx.actor,
            source=self.ctx.connection.crm,
            external_id=record.external_id,
            values=values,
        )
        self.ctx.count("created" if created else "updated" if changed else "unchanged")
        self.refs.link(record, agreement.pk, {})

    def tacit(self, record: Record, notice_value: Any, notice_date: Any) -> bool:
        rule = (self.options.get("tacit") or {}).get("rule", "if_notice")
        if rule == "always":
            return True
        if rule == "never":
            return False
        if rule == "field":
            spec = self.options["tacit"]
            value = remote_value(record.fields, spec.get("field", ""))
            expected = spec.get("value")
            if expected in (None, ""):
                return bool(parse_bool(value))
            return clean_text(value).casefold() == str(expected).casefold()
        return bool(notice_value or notice_date)


# ---- interactions ----------------------------------------------------------------------------------------


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
        for page, commit in read_pages(self.ctx, state, request):
            with transaction.atomic():
                apply_page(self.ctx, ObjectType.INTERACTIONS, page, self.apply)
                commit()

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
        _, created = interaction_upsert_from_crm(
            customer=customer,
            actor=self.ctx.actor,
            source=self.ctx.connection.crm,
            external_id=record.external_id,
            kind=record.kind,
            values=values,
            contacts=contacts,
        )
        self.ctx.count("created" if created else "updated")


def _pull(cls: Any) -> Callable[[RunContext, ObjectSetting], None]:
    return lambda ctx, setting: cls(ctx, setting).run()


PULLERS: dict[str, Callable[[RunContext, ObjectSetting], None]] = {
    ObjectType.CUSTOMERS: _pull(CustomerPull),
    ObjectType.CONTACTS: _pull(ContactPull),
    ObjectType.AGREEMENTS: _pull(AgreementPull),
    ObjectType.INTERACTIONS: _pull(InteractionPull),
}

__all__ = ["PULLERS", "ValueMappingError"]
