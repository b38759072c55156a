"""Customers: selection, merge keys, mapped values, hierarchy and churn on absence."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from customers.models import CHURN_PHASE, Customer, CustomField, HealthProfile, Phase
from customers.services import custom_value_parse, customer_update, customer_upsert_from_crm, phase_default

from ..base import ReadRequest, Record
from ..mapping import clean_text, domain_of, is_blank, is_free_mail, normalise_name, split_values, translate
from ..models import ExternalRef, FieldMapping, ObjectSetting, ObjectType
from ..push import customer_remote_value
from ..sync import RecordRejected, RunContext, read_pages, since_for, state_for
from .common import (
    DEFAULT_MERGE_KEYS,
    LOOKUP_CHUNK,
    Refs,
    User,
    apply_pulled_page,
    chunked,
    input_mappings,
    raw,
    requested_fields,
    settle_two_way,
    synced_customer_refs,
)


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
        self._index: CustomerIndex | None = None
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
        # The page's linked customers, by id.
        self.rows: dict[int, Customer] = {}
        self.user_emails: dict[str, str] = {}
        self.matched_by = ""

    @property
    def index(self) -> CustomerIndex:
        """Built when a record without a link first needs the merge keys: a run that only updates linked
        customers never reads the whole workspace."""
        if self._index is None:
            self._index = CustomerIndex.build(self.ctx.workspace.pk, self.merge_keys)
        return self._index

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
                apply_pulled_page(self.ctx, ObjectType.CUSTOMERS, page, self)
                # Too many overwrites: this page is rolled back and the run pauses (R11).
                self.ctx.check_breaker()
                commit()
        if self.options.get("parent_child"):
            self.link_parents()
        self.tombstone_deleted(since=request.since)
        if self.options.get("churn_on_absence"):
            self.churn_absent()

    def prepare(self, records: list[Record]) -> None:
        self.refs.load(record.external_id for record in records)
        linked = [ref.local_id for ref in self.refs.loaded.values() if ref is not None]
        self.rows = Customer.objects.filter(pk__in=linked, workspace=self.ctx.workspace).in_bulk()
        for customer in self.rows.values():
            customer.workspace = self.ctx.workspace

    def settle(self) -> None:
        self.rows = {}

    def tombstone_deleted(self, *, since: Any) -> None:
        """Records deleted in the CRM (R8): the link is marked, the customer stays with its history, its
        child accounts are unlinked, and it churns if the connection churns customers no longer found."""
        gone = sorted(set(self.ctx.connector.deleted_ids(ObjectType.CUSTOMERS, since)))
        deleted: list[ExternalRef] = []
        for chunk in chunked(gone, LOOKUP_CHUNK):
            deleted.extend(
                ExternalRef.objects.filter(
                    connection=self.ctx.connection,
                    object_type=ObjectType.CUSTOMERS,
                    external_id__in=chunk,
                    deleted_in_crm_at__isnull=True,
                )
            )
        if not deleted:
            return
        churning = self.options.get("churn_on_absence")
        if churning:
            self.ctx.check_breaker(churning=len(deleted))
        churn = Phase.objects.filter(workspace=self.ctx.workspace, technical_name=CHURN_PHASE).first()
        now = timezone.now()
        for ref in deleted:
            with transaction.atomic():
                ref.deleted_in_crm_at, ref.in_selection = now, False
                ref.save(update_fields=["deleted_in_crm_at", "in_selection", "updated_at"])
                customer = Customer.objects.filter(pk=ref.local_id).first()
                if customer is None:
                    continue
                for child in list(customer.children.all()):
                    customer_update(customer=child, actor=self.ctx.actor, parent=None)
                self.ctx.note("deleted", {"external_id": ref.external_id, "customer": customer.name})
                if churning and churn is not None and customer.phase_id != churn.pk:
                    customer_update(customer=customer, actor=self.ctx.actor, phase=churn)
                    self.ctx.count("churned")
                else:
                    self.ctx.warn(f"{customer.name} was deleted in {self.ctx.connection.get_crm_display()}; "
                                  "it stays in Skalin with its history.")  # fmt: skip

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
            self.ctx.fill(m.local_field, "empty" if is_blank(value) else "filled")
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
        """CSM owner by email; a CRM user field holds an id, whose email the CRM tells. An unknown one keeps
        the current owner (False) and is reported."""
        text = clean_text(value)
        if not text:
            return None
        if "@" not in text:
            if text not in self.user_emails:
                self.user_emails[text] = self.ctx.connector.user_emails([text]).get(text, "")
            if not self.user_emails[text]:
                self.ctx.warn(f"CRM user {text} has no email the CRM would tell; the current owner was kept.")
                return False
            text = self.user_emails[text]
        user = self.members.get(text.lower())
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

    def _overwrites(self, customer: Customer, values: dict[str, Any]) -> list[str]:
        """Fields whose filled Skalin value the CRM would replace by another filled one."""
        changed = []
        for key, new in values.items():
            old = (
                customer.custom_values.get(key.removeprefix("custom:"))
                if key.startswith("custom:")
                else getattr(customer, key, None)
            )
            if old not in (None, "") and new not in (None, "") and old != new:
                changed.append(key)
        return changed

    def key_label(self, key: str) -> str:
        """How a merge key reads in quarantine reasons and merge notes: a custom field by its label."""
        if key.startswith("custom:"):
            definition = self.custom_fields.get(key.removeprefix("custom:"))
            return definition.label if definition is not None else key.removeprefix("custom:")
        return KEY_LABELS.get(key, key)

    def find(self, record: Record, values: dict[str, Any]) -> Customer | None:
        self.matched_by = ""
        ref = self.refs.get(record.external_id)
        if ref is not None:
            customer = self.rows.get(ref.local_id)
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
                raise RecordRejected(f"{len(matches)} customers share the {self.key_label(key)} '{value}'.")
            if matches:
                pk = next(iter(matches))
                other = self.refs.linked_to(pk, other_than=record.external_id)
                if other and other != record.external_id:
                    raise RecordRejected(
                        f"Its {self.key_label(key)} '{value}' matches a customer already linked to "
                        f"{self.ctx.connection.get_crm_display()} record {other}."
                    )
                self.matched_by = key
                return Customer.objects.get(pk=pk)
        return None

    def apply(self, record: Record) -> None:
        values, tags, managed, received = self.values(record)
        customer = self.find(record, values)
        keep_local = settle_two_way(
            self.ctx,
            self.refs.get(record.external_id),
            customer,
            self.maps,
            received,
            customer_remote_value,
        )
        values = {key: value for key, value in values.items() if key not in keep_local}
        if "tags" in keep_local:
            managed = None
        matched_by = self.matched_by
        overwrites = self._overwrites(customer, values) if customer is not None else []
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
            savepoint=False,  # the record's own savepoint (apply_page) isolates it
        )
        row: Customer = result.row
        label = row.name
        if overwrites:
            self.ctx.overwritten.add(row.pk)
        for key in result.kept:
            self.ctx.fill(key, "kept")
            self.ctx.note("kept_empty", {"external_id": record.external_id, "label": label, "field": key})
        if matched_by:
            self.ctx.note(
                "merge",
                {
                    "external_id": record.external_id,
                    "label": label,
                    "customer": row.name,
                    "key": self.key_label(matched_by),
                },
            )
        if result.created:
            self.ctx.note("create", {"external_id": record.external_id, "label": label})
            self.ctx.count("created")
            if self._index is not None:  # else it is built later, from the database, with this row
                self._index.add(
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
        ref = self.refs.get(record.external_id)
        if ref is None:
            self.ctx.new_customer_ids.append(record.external_id)
        was_out = ref is not None and not ref.in_selection
        self.refs.link(record, row.pk, received)
        if was_out and row.is_churned and "phase" not in values:
            # Back in the selection: out of Churn, into the default phase (logged with the run).
            default = phase_default(workspace=self.ctx.workspace)
            if default is not None and not default.is_churn:
                customer_update(customer=row, actor=self.ctx.actor, phase=default)
                self.ctx.note("unchurn", {"external_id": record.external_id, "customer": row.name})
        parents = record.links.get("parent") or []
        if parents and parents[0]:
            self.parents[record.external_id] = str(parents[0])

    # -- after the listing -------------------------------------------------------------------------------
    def link_parents(self) -> None:
        """Two levels at most: a deeper record is attached to its top-most synced ancestor, with a warning.
        Parents read later in the run (or in an earlier one) are found through the links."""
        self.refs.load([*self.parents, *self.parents.values()])
        for child_ext, parent_ext in self.parents.items():
            child_ref = self.refs.get(child_ext)
            if child_ref is None:
                continue
            top, seen = parent_ext, {child_ext}
            while top not in seen:
                above = self._parent_of(top)
                if above is None or self.refs.get(above) is None:
                    break
                seen.add(top)
                top = above
            if top in seen:
                self.ctx.warn(f"Parent/child cycle around record {child_ext}; its parent was left unchanged.")
                continue
            parent_ref = self.refs.get(top)
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

    def _parent_of(self, external_id: str) -> str | None:
        """The record's parent: as read in this run, else as it stands locally (for records not read in
        this run), when both ends are linked."""
        if external_id in self.parents:
            return self.parents[external_id]
        ref = self.refs.get(external_id)
        if ref is None:
            return None
        parent_id = Customer.objects.filter(pk=ref.local_id).values_list("parent_id", flat=True).first()
        if parent_id is None:
            return None
        return self.refs.linked_to(parent_id, other_than="")

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
        # The links are walked as plain ids, a chunk at a time: only the leaving ones are loaded whole.
        leaving_ids = [
            pk
            for pk, ext in synced_customer_refs(self.ctx)
            .values_list("pk", "external_id")
            .iterator(chunk_size=5000)
            if ext not in seen
        ]
        del seen
        self.ctx.check_breaker(churning=len(leaving_ids))
        for chunk in chunked(leaving_ids, LOOKUP_CHUNK):
            for ref in ExternalRef.objects.filter(pk__in=chunk):
                with transaction.atomic():
                    ref.in_selection = False
                    ref.save(update_fields=["in_selection", "updated_at"])
                    customer = Customer.objects.filter(pk=ref.local_id).first()
                    if customer is not None and churn is not None and customer.phase_id != churn.pk:
                        customer_update(customer=customer, actor=self.ctx.actor, phase=churn)
                        self.ctx.note("churn", {"external_id": ref.external_id, "customer": customer.name})
                        self.ctx.count("churned")
