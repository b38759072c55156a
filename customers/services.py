from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from workspaces.models import Workspace

from .changes import Actor, changelog_record
from .models import (
    DEFAULT_PHASES,
    Contact,
    Customer,
    CustomerSource,
    CustomField,
    HealthProfile,
    Phase,
    RoleTag,
    Tag,
)

# Fields whose changes go to the change history (product.md: stage, owner, tags, profile, pulse, mapped
# fields); name/domain/ref_id/parent are mapped from CRMs, so they are tracked too.
TRACKED_CUSTOMER_FIELDS = ("name", "domain", "ref_id", "owner", "phase", "health_profile", "parent")


# ---- phases -------------------------------------------------------------------------------------------


def phases_create_defaults(*, workspace: Workspace) -> list[Phase]:
    if workspace.phases.exists():
        return list(workspace.phases.all())
    return [
        Phase.objects.create(
            workspace=workspace,
            technical_name=name,
            label=label,
            position=index,
            is_default=(name == "onboarding"),
        )
        for index, (name, label) in enumerate(DEFAULT_PHASES)
    ]


def phase_default(*, workspace: Workspace) -> Phase | None:
    return workspace.phases.filter(is_default=True).first() or workspace.phases.first()


def phase_create(*, workspace: Workspace, technical_name: str, label: str) -> Phase:
    technical_name = technical_name.strip().lower()
    if workspace.phases.filter(technical_name=technical_name).exists():
        raise ValidationError({"technical_name": f"A phase named '{technical_name}' already exists."})
    position = (workspace.phases.aggregate(top=Max("position"))["top"] or 0) + 1
    return Phase.objects.create(
        workspace=workspace, technical_name=technical_name, label=label.strip(), position=position
    )


def phase_rename(*, phase: Phase, label: str) -> Phase:
    label = label.strip()
    if not label:
        raise ValidationError({"label": "A phase needs a label."})
    phase.label = label
    phase.save(update_fields=["label"])
    return phase


@transaction.atomic
def phase_set_default(*, phase: Phase) -> Phase:
    Phase.objects.filter(workspace_id=phase.workspace_id, is_default=True).exclude(pk=phase.pk).update(
        is_default=False
    )
    phase.is_default = True
    phase.save(update_fields=["is_default"])
    return phase


@transaction.atomic
def phase_move(*, phase: Phase, offset: int) -> None:
    """Move a phase up (-1) or down (+1) in the workspace's order."""
    phases = list(
        Phase.objects.select_for_update().filter(workspace_id=phase.workspace_id).order_by("position", "id")
    )
    index = next(i for i, row in enumerate(phases) if row.pk == phase.pk)
    target = min(max(index + offset, 0), len(phases) - 1)
    phases.insert(target, phases.pop(index))
    for position, row in enumerate(phases):
        if row.position != position:
            Phase.objects.filter(pk=row.pk).update(position=position)


def phase_delete(*, phase: Phase) -> None:
    if phase.is_churn:
        raise ValidationError("The Churn phase marks churned customers; it can be renamed but not removed.")
    if phase.is_default:
        raise ValidationError("Choose another default phase before removing this one.")
    if phase.customers.exists():
        raise ValidationError(f"{phase.customers.count()} customers are in this phase; move them first.")
    phase.delete()


# ---- tags, profiles, custom fields ------------------------------------------------------------------


def tags_get_or_create(*, workspace: Workspace, names: Iterable[str]) -> list[Tag]:
    cleaned = sorted({name.strip() for name in names if name and name.strip()})
    existing = {tag.name.lower(): tag for tag in Tag.objects.filter(workspace=workspace)}
    tags = []
    for name in cleaned:
        tag = existing.get(name.lower()) or Tag.objects.create(workspace=workspace, name=name)
        existing[name.lower()] = tag
        tags.append(tag)
    return tags


def health_profile_get_or_create(*, workspace: Workspace, name: str) -> HealthProfile:
    profile, _ = HealthProfile.objects.get_or_create(workspace=workspace, name=name.strip())
    return profile


def custom_value_parse(*, field: CustomField, raw: Any) -> Any:
    """Turn user or CSV input into the stored JSON value of a custom field; a bad value is a clear error."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    text = str(raw).strip()
    if field.type == CustomField.Type.NUMBER:
        try:
            return str(Decimal(text.replace(",", ".")))
        except InvalidOperation as bad:
            raise ValidationError(f"{field.label}: '{text}' is not a number.") from bad
    if field.type == CustomField.Type.DATE:
        try:
            return dt.date.fromisoformat(text).isoformat()
        except ValueError as bad:
            raise ValidationError(f"{field.label}: '{text}' is not a date (YYYY-MM-DD).") from bad
    if field.type == CustomField.Type.BOOLEAN:
        if isinstance(raw, bool):
            return raw
        lowered = text.lower()
        if lowered in ("yes", "true", "1", "y", "oui"):
            return True
        if lowered in ("no", "false", "0", "n", "non"):
            return False
        raise ValidationError(f"{field.label}: '{text}' is not yes or no.")
    if field.type == CustomField.Type.CHOICE and text not in field.choices:
        raise ValidationError(f"{field.label}: '{text}' is not one of {', '.join(field.choices)}.")
    return text


def custom_field_create(
    *, workspace: Workspace, target: str, key: str, label: str, type: str, choices: Sequence[str] = ()
) -> CustomField:
    if CustomField.objects.filter(workspace=workspace, target=target, key=key).exists():
        raise ValidationError({"key": f"A {target} field with the technical name '{key}' already exists."})
    cleaned_choices = [choice.strip() for choice in choices if choice.strip()]
    if type == CustomField.Type.CHOICE and not cleaned_choices:
        raise ValidationError({"choices": "A choice field needs at least one choice."})
    return CustomField.objects.create(
        workspace=workspace, target=target, key=key, label=label.strip(), type=type, choices=cleaned_choices
    )


# ---- customers ----------------------------------------------------------------------------------------


def customer_check_parent(
    *, customer: Customer | None, parent: Customer | None, workspace: Workspace
) -> None:
    """Parent/child is two levels at most: a parent has no parent, a child has no children."""
    if parent is None:
        return
    if parent.workspace_id != workspace.pk:
        raise ValidationError({"parent": "The parent account must be in the same workspace."})
    if customer is not None and parent.pk == customer.pk:
        raise ValidationError({"parent": "A customer cannot be its own parent."})
    if parent.parent_id is not None:
        raise ValidationError(
            {"parent": f"{parent} is already a child account; groups have two levels at most."}
        )
    if customer is not None and customer.pk and customer.children.exists():
        raise ValidationError(
            {"parent": f"{customer} has child accounts, so it cannot become a child itself."}
        )


def _check_ref_id(*, workspace: Workspace, ref_id: str, customer: Customer | None) -> None:
    if not ref_id:
        return
    clash = Customer.objects.filter(workspace=workspace, ref_id=ref_id)
    if customer is not None:
        clash = clash.exclude(pk=customer.pk)
    if clash.exists():
        raise ValidationError({"ref_id": f"Customer ID '{ref_id}' is already used by {clash.first()}."})


def _customer_create(
    *,
    workspace: Workspace,
    actor: Actor,
    name: str,
    domain: str = "",
    ref_id: str = "",
    owner: Any = None,
    phase: Phase | None = None,
    health_profile: HealthProfile | None = None,
    parent: Customer | None = None,
    tags: Iterable[Tag] = (),
    team_members: Iterable[Any] = (),
    custom_values: dict[str, Any] | None = None,
) -> Customer:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A customer needs a name."})
    ref_id = ref_id.strip()
    _check_ref_id(workspace=workspace, ref_id=ref_id, customer=None)
    customer_check_parent(customer=None, parent=parent, workspace=workspace)
    customer = Customer.objects.create(
        workspace=workspace,
        name=name,
        domain=normalise_domain(domain),
        ref_id=ref_id,
        owner=owner,
        phase=phase or phase_default(workspace=workspace),
        health_profile=health_profile,
        parent=parent,
        custom_values=custom_values or {},
    )
    tag_list = list(tags)
    if tag_list:
        customer.tags.set(tag_list)
    members = list(team_members)
    if members:  # a new row has none yet: nothing to read or remove first
        customer.team_members.set(members)
    changelog_record(customer=customer, actor=actor, changes=[("created", "", customer.name)])
    return customer


# The CRM upserts call the bare body inside their own transaction, without a second savepoint.
customer_create = transaction.atomic(_customer_create)


def normalise_domain(domain: str) -> str:
    domain = (domain or "").strip().lower()
    for prefix in ("https://", "http://"):
        domain = domain.removeprefix(prefix)
    return domain.removeprefix("www.").split("/")[0]


@transaction.atomic
def customer_update(*, customer: Customer, actor: Actor, **fields: Any) -> Customer:
    """Change some of a customer's fields; every change lands in the change history.

    `tags` replaces the tag set; `custom_values` updates the given keys (None removes one)."""
    return _customer_update(customer=customer, actor=actor, **fields)


def _customer_update(*, customer: Customer, actor: Actor, **fields: Any) -> Customer:
    workspace = customer.workspace
    tags = fields.pop("tags", None)
    team_members = fields.pop("team_members", None)
    custom_values = fields.pop("custom_values", None)
    if "name" in fields:
        fields["name"] = fields["name"].strip()
        if not fields["name"]:
            raise ValidationError({"name": "A customer needs a name."})
    if "domain" in fields:
        fields["domain"] = normalise_domain(fields["domain"])
    if "ref_id" in fields:
        fields["ref_id"] = (fields["ref_id"] or "").strip()
        _check_ref_id(workspace=workspace, ref_id=fields["ref_id"], customer=customer)
    if "parent" in fields:
        customer_check_parent(customer=customer, parent=fields["parent"], workspace=workspace)
    unknown = set(fields) - set(TRACKED_CUSTOMER_FIELDS)
    if unknown:
        raise TypeError(f"customer_update() cannot set {sorted(unknown)}")

    changes: list[tuple[str, Any, Any]] = []
    for field, value in fields.items():
        old = getattr(customer, field)
        if old != value:
            changes.append((field, old, value))
            setattr(customer, field, value)
    if custom_values is not None:
        merged = dict(customer.custom_values)
        for key, value in custom_values.items():
            old = merged.get(key)
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
            if old != value:
                changes.append((f"custom:{key}", old, value))
        customer.custom_values = merged
    customer.save()
    if tags is not None:
        old_tags = [tag.name for tag in customer.tags.all()]
        new_tags = list(tags)
        customer.tags.set(new_tags)
        changes.append(("tags", old_tags, [tag.name for tag in new_tags]))
    if team_members is not None:
        customer.team_members.set(list(team_members))
    changelog_record(customer=customer, actor=actor, changes=changes)
    return customer


@transaction.atomic
def customer_set_pulse(*, customer: Customer, actor: Actor, pulse: int, note: str = "") -> Customer:
    if not 1 <= pulse <= 5:
        raise ValidationError({"csm_pulse": "CSM Pulse is a rating from 1 to 5."})
    changes = [("csm_pulse", customer.csm_pulse, pulse)]
    customer.csm_pulse, customer.csm_pulse_note, customer.csm_pulse_at = pulse, note.strip(), timezone.now()
    customer.save(update_fields=["csm_pulse", "csm_pulse_note", "csm_pulse_at", "updated_at"])
    changelog_record(customer=customer, actor=actor, changes=changes)
    # The history the health score reads (a stored week stays recomputable) and the customer page shows.
    from healthscore.services import pulse_entry_record

    pulse_entry_record(
        customer=customer,
        pulse=pulse,
        note=customer.csm_pulse_note,
        set_at=customer.csm_pulse_at,
        user=actor.user,
        label=actor.label,
    )
    return customer


# ---- contacts -----------------------------------------------------------------------------------------


def _clean_emails(emails: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for email in emails:
        email = (email or "").strip().lower()
        if email and email not in seen:
            seen.append(email)
    return seen


def _check_contact_email(*, workspace: Workspace, email: str, contact: Contact | None) -> None:
    if not email:
        return
    clash = Contact.objects.filter(workspace=workspace, email=email)
    if contact is not None:
        clash = clash.exclude(pk=contact.pk)
    # Usually there is none: asked without the join first, the query costs PostgreSQL a fraction to plan.
    if not clash.exists():
        return
    other = clash.select_related("customer").first()
    if other is not None:
        raise ValidationError({"email": f"{email} is already the email of {other} at {other.customer}."})


def _clean_role_tags(role_tags: Iterable[str]) -> list[str]:
    tags = list(dict.fromkeys(role_tags))
    unknown = [tag for tag in tags if tag not in RoleTag.values]
    if unknown:
        raise ValidationError({"role_tags": f"Unknown role tag(s): {', '.join(unknown)}."})
    return tags


def _contact_create(
    *,
    customer: Customer,
    actor: Actor,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    secondary_emails: Iterable[str] = (),
    phone: str = "",
    title: str = "",
    ref_id: str = "",
    role_tags: Iterable[str] = (),
    custom_values: dict[str, Any] | None = None,
) -> Contact:
    email = (email or "").strip().lower()
    if not (first_name.strip() or last_name.strip() or email):
        raise ValidationError("A contact needs a name or an email.")
    _check_contact_email(workspace=customer.workspace, email=email, contact=None)
    contact = Contact.objects.create(
        workspace_id=customer.workspace_id,
        customer=customer,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        email=email,
        secondary_emails=[e for e in _clean_emails(secondary_emails) if e != email],
        phone=phone.strip(),
        title=title.strip(),
        ref_id=ref_id.strip(),
        role_tags=_clean_role_tags(role_tags),
        custom_values=custom_values or {},
    )
    changelog_record(
        customer=customer,
        actor=actor,
        object_type="contact",
        object_id=contact.pk,
        changes=[("contact added", "", str(contact))],
    )
    return contact


# The CRM upserts call the bare body inside their own transaction, without a second savepoint.
contact_create = transaction.atomic(_contact_create)


CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "secondary_emails",
    "phone",
    "title",
    "ref_id",
    "role_tags",
    "custom_values",
)


@transaction.atomic
def contact_update(*, contact: Contact, actor: Actor, **fields: Any) -> Contact:
    return _contact_update(contact=contact, actor=actor, **fields)


def _contact_update(*, contact: Contact, actor: Actor, **fields: Any) -> Contact:
    unknown = set(fields) - set(CONTACT_FIELDS)
    if unknown:
        raise TypeError(f"contact_update() cannot set {sorted(unknown)}")
    if "email" in fields:
        fields["email"] = (fields["email"] or "").strip().lower()
        _check_contact_email(workspace=contact.workspace, email=fields["email"], contact=contact)
    if "secondary_emails" in fields:
        primary = fields.get("email", contact.email)
        fields["secondary_emails"] = [e for e in _clean_emails(fields["secondary_emails"]) if e != primary]
    if "role_tags" in fields:
        fields["role_tags"] = _clean_role_tags(fields["role_tags"])
    for key in ("first_name", "last_name", "phone", "title", "ref_id"):
        if key in fields:
            fields[key] = (fields[key] or "").strip()
    changes = []
    for field, value in fields.items():
        old = getattr(contact, field)
        if old != value:
            changes.append((f"contact {field}", old, value))
            setattr(contact, field, value)
    if not (contact.first_name or contact.last_name or contact.email):
        raise ValidationError("A contact needs a name or an email.")
    contact.save()
    changelog_record(
        customer=contact.customer, actor=actor, object_type="contact", object_id=contact.pk, changes=changes
    )
    return contact


def contact_delete(*, contact: Contact, actor: Actor) -> None:
    changelog_record(
        customer=contact.customer,
        actor=actor,
        object_type="contact",
        object_id=contact.pk,
        changes=[("contact removed", str(contact), "")],
    )
    contact.delete()


# ---- writes coming from a CRM sync --------------------------------------------------------------------

BLANK_VALUES: tuple[Any, ...] = (None, "")


@dataclass
class CrmUpsertResult:
    row: Any
    created: bool = False
    changed: list[str] = dataclass_field(default_factory=list)
    # Fields the CRM sent blank while Skalin has a value: kept (reliability R6), counted and reported.
    kept: list[str] = dataclass_field(default_factory=list)


def _blank(value: Any) -> bool:
    return value in BLANK_VALUES or value == []


def _merge_crm_values(
    current: dict[str, Any], incoming: dict[str, Any], clearable: Iterable[str], result: CrmUpsertResult
) -> dict[str, Any]:
    """The updates a CRM may make: a blank value never erases a filled one unless the field is clearable."""
    clearable = set(clearable)
    updates: dict[str, Any] = {}
    for key, value in incoming.items():
        old = current.get(key)
        if _blank(value):
            if _blank(old):
                continue
            if key not in clearable:
                result.kept.append(key)
                continue
            value = "" if isinstance(old, str) else None
        if old != value:
            updates[key] = value
    return updates


def customer_upsert_from_crm(
    *,
    workspace: Workspace,
    customer: Customer | None,
    actor: Actor,
    values: dict[str, Any],
    clearable: Iterable[str] = (),
    managed_tags: Iterable[str] | None = None,
    crm_tags: Iterable[str] = (),
    source: str,
    external_id: str,
    savepoint: bool = True,
) -> CrmUpsertResult:
    """Create or update a customer from CRM values. `values` keys: name, domain, ref_id, owner, phase,
    health_profile, custom:<key>. Tags: only those in `managed_tags` (the ones the mapping can produce)
    are added or removed; tags added by hand stay. A new customer without a phase gets the default. A sync
    passes `savepoint=False` when its own savepoint already isolates this write."""
    with transaction.atomic(savepoint=savepoint):
        result = CrmUpsertResult(row=customer)
        custom = {
            key.removeprefix("custom:"): value for key, value in values.items() if key.startswith("custom:")
        }
        plain = {key: value for key, value in values.items() if not key.startswith("custom:")}
        if customer is None:
            if _blank(plain.get("name")):
                raise ValidationError({"name": "The CRM record has no name."})
            customer = _customer_create(
                workspace=workspace,
                actor=actor,
                name=plain["name"],
                domain=plain.get("domain") or "",
                ref_id=plain.get("ref_id") or "",
                owner=plain.get("owner"),
                phase=plain.get("phase"),
                health_profile=plain.get("health_profile"),
                custom_values={key: value for key, value in custom.items() if not _blank(value)},
            )
            result.row, result.created = customer, True
        else:
            current = {key: getattr(customer, key) for key in plain}
            updates = _merge_crm_values(current, plain, clearable, result)
            current_custom = {key: customer.custom_values.get(key) for key in custom}
            custom_clearable = [key.removeprefix("custom:") for key in clearable if key.startswith("custom:")]
            custom_updates = _merge_crm_values(current_custom, custom, custom_clearable, result)
            if custom_updates:
                updates["custom_values"] = {
                    key: (None if _blank(v) else v) for key, v in custom_updates.items()
                }
            if updates:
                _customer_update(customer=customer, actor=actor, **updates)
                result.changed.extend(sorted(updates))
        if managed_tags is not None:
            managed = {name.casefold() for name in managed_tags}
            wanted = {name.casefold(): name for name in crm_tags}
            current_tags = [] if result.created else list(customer.tags.all())
            keep = [tag for tag in current_tags if tag.name.casefold() not in managed]
            new_tags = keep + tags_get_or_create(workspace=workspace, names=wanted.values())
            if {t.pk for t in new_tags} != {t.pk for t in current_tags}:
                _customer_update(customer=customer, actor=actor, tags=new_tags)
                result.changed.append("tags")
        if result.created:  # a new customer has no source row yet: no look-up, no savepoints
            CustomerSource.objects.create(
                customer=customer, source=source, external_id=external_id, last_synced_at=timezone.now()
            )
        else:
            CustomerSource.objects.update_or_create(
                customer=customer,
                source=source,
                defaults={"external_id": external_id, "last_synced_at": timezone.now()},
            )
        return result


def contact_upsert_from_crm(
    *,
    customer: Customer,
    contact: Contact | None,
    actor: Actor,
    values: dict[str, Any],
    clearable: Iterable[str] = (),
    managed_roles: Iterable[str] = (),
    crm_roles: Iterable[str] | None = None,
    savepoint: bool = True,
) -> CrmUpsertResult:
    """Create or update a contact from CRM values (first_name, last_name, email, phone, title, ref_id,
    custom:<key>). Role tags: only the mapped ones (`managed_roles`) move; `crm_roles` None means the CRM
    said nothing about them (blank fields), so they stay. A sync passes `savepoint=False` when its own
    savepoint already isolates this write."""
    with transaction.atomic(savepoint=savepoint):
        result = CrmUpsertResult(row=contact)
        custom = {
            key.removeprefix("custom:"): value for key, value in values.items() if key.startswith("custom:")
        }
        plain = {key: value for key, value in values.items() if not key.startswith("custom:")}
        managed = set(managed_roles)
        if contact is None:
            contact = _contact_create(
                customer=customer,
                actor=actor,
                **{key: value or "" for key, value in plain.items()},
                role_tags=sorted(set(crm_roles or ()) & managed),
                custom_values={key: value for key, value in custom.items() if not _blank(value)},
            )
            result.row, result.created = contact, True
            return result
        current = {key: getattr(contact, key) for key in plain}
        updates = _merge_crm_values(current, plain, clearable, result)
        if custom:
            current_custom = {key: contact.custom_values.get(key) for key in custom}
            custom_clearable = [key.removeprefix("custom:") for key in clearable if key.startswith("custom:")]
            custom_updates = _merge_crm_values(current_custom, custom, custom_clearable, result)
            if custom_updates:
                merged = dict(contact.custom_values)
                for key, value in custom_updates.items():
                    if _blank(value):
                        merged.pop(key, None)
                    else:
                        merged[key] = value
                updates["custom_values"] = merged
        if crm_roles is not None and managed:
            roles = [tag for tag in contact.role_tags if tag not in managed] + sorted(
                set(crm_roles) & managed
            )
            if sorted(roles) != sorted(contact.role_tags):
                updates["role_tags"] = roles
        if contact.customer_id != customer.pk:
            # The CRM moved the person to another company: follow it, and say so in both histories.
            changelog_record(
                customer=contact.customer,
                actor=actor,
                object_type="contact",
                object_id=contact.pk,
                changes=[("contact moved to", "", str(customer))],
            )
            contact.customer = customer
            contact.save(update_fields=["customer", "updated_at"])
            result.changed.append("customer")
        if updates:
            _contact_update(contact=contact, actor=actor, **updates)
            result.changed.extend(sorted(updates))
        return result
