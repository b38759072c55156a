from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import QuerySet

from workspaces.access import visible
from workspaces.models import Membership

from . import selectors
from .models import Contact, Customer, CustomField, HealthProfile, Phase, RoleTag, Tag
from .services import custom_value_parse

CUSTOM_PREFIX = "cf_"
YES_NO = [("", "—"), ("yes", "Yes"), ("no", "No")]


def split_list(text: str) -> list[str]:
    """Items typed one per line or comma separated, blanks dropped, order and first spelling kept."""
    items: list[str] = []
    for item in re.split(r"[,;\n]", text or ""):
        item = item.strip()
        if item and item.lower() not in (seen.lower() for seen in items):
            items.append(item)
    return items


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.get_full_name() or obj.email


class UsersChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.get_full_name() or obj.email


class ParentField(forms.CharField):
    """The parent account, typed as its Customer ID or exact name.

    A select would list every top-level customer, tens of thousands in a large workspace; a name or an
    ID is what people know, and an ambiguous name is refused rather than guessed."""

    def __init__(self, *, candidates: QuerySet[Customer], **kwargs: Any) -> None:
        self.candidates = candidates
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Customer | None:
        text = super().clean(value).strip()
        if not text:
            return None
        by_id = list(self.candidates.filter(ref_id=text)[:1])
        if by_id:
            return by_id[0]
        by_name = list(self.candidates.filter(name__iexact=text)[:2])
        if len(by_name) == 1:
            return by_name[0]
        if len(by_name) > 1:
            raise ValidationError(f"Several customers are named '{text}'; type the Customer ID instead.")
        raise ValidationError(
            f"No top-level customer has the name or Customer ID '{text}' "
            "(a child account cannot be a parent: groups have two levels)."
        )


def custom_form_field(field: CustomField) -> forms.Field:
    """A form field for a custom field; values are parsed by the service's `custom_value_parse`."""
    options: dict[str, Any] = {"label": field.label, "required": False}
    if field.type == CustomField.Type.BOOLEAN:
        return forms.ChoiceField(choices=YES_NO, **options)
    if field.type == CustomField.Type.CHOICE:
        return forms.ChoiceField(choices=[("", "—"), *[(c, c) for c in field.choices]], **options)
    if field.type == CustomField.Type.DATE:
        return forms.CharField(
            widget=forms.DateInput(attrs={"type": "date"}), help_text="YYYY-MM-DD", **options
        )
    if field.type == CustomField.Type.NUMBER:
        return forms.CharField(widget=forms.TextInput(attrs={"inputmode": "decimal"}), **options)
    return forms.CharField(max_length=500, **options)


def custom_initial(field: CustomField, stored: Any) -> str:
    if stored is None:
        return ""
    if isinstance(stored, bool):
        return "yes" if stored else "no"
    return str(stored)


class CustomFieldsMixin(forms.Form):
    """Adds one form field per custom field of a target and parses them into `custom_values`."""

    custom_target: str = ""

    def add_custom_fields(self, membership: Membership | None, stored: dict[str, Any]) -> None:
        self.custom_field_rows = list(selectors.custom_fields(membership, self.custom_target))
        self.stored_custom = stored
        for field in self.custom_field_rows:
            self.fields[CUSTOM_PREFIX + field.key] = custom_form_field(field)
            self.initial.setdefault(CUSTOM_PREFIX + field.key, custom_initial(field, stored.get(field.key)))

    def custom_bound_fields(self) -> list[forms.BoundField]:
        return [self[CUSTOM_PREFIX + field.key] for field in self.custom_field_rows]

    def clean_custom_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for field in self.custom_field_rows:
            name = CUSTOM_PREFIX + field.key
            if name not in self.cleaned_data:
                continue
            raw = self.cleaned_data[name]
            stored = self.stored_custom.get(field.key)
            if raw == custom_initial(field, stored):
                # Untouched: keep the stored value as it is, even one a choice list no longer offers.
                values[field.key] = stored
                continue
            try:
                values[field.key] = custom_value_parse(field=field, raw=raw)
            except ValidationError as error:
                self.add_error(name, error)
        return values


class CustomerForm(CustomFieldsMixin):
    custom_target = CustomField.Target.CUSTOMER

    name = forms.CharField(max_length=200)
    domain = forms.CharField(max_length=253, required=False, help_text="e.g. globex.com")
    ref_id = forms.CharField(
        max_length=120,
        required=False,
        label="Customer ID",
        help_text="The key this customer has in your other systems.",
    )
    owner = UserChoiceField(queryset=None, required=False, empty_label="No owner", label="CSM owner")
    phase: forms.ModelChoiceField = forms.ModelChoiceField(
        queryset=None, required=False, empty_label=None, label="Stage"
    )
    health_profile: forms.ModelChoiceField = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="—"
    )
    tags = forms.CharField(
        max_length=1000,
        required=False,
        help_text="Comma separated; new tags are created.",
        widget=forms.TextInput(attrs={"placeholder": "enterprise, france"}),
    )
    parent = ParentField(
        candidates=Customer.objects.none(),
        max_length=200,
        label="Parent account",
        help_text="Customer ID or exact name of the group's top-level customer; leave empty for none.",
        widget=forms.TextInput(attrs={"list": "parent-suggestions", "autocomplete": "off"}),
    )
    team_members = UsersChoiceField(
        queryset=None, required=False, widget=forms.CheckboxSelectMultiple, label="Team members"
    )

    def __init__(
        self, *args: Any, membership: Membership | None, customer: Customer | None = None, **kwargs: Any
    ) -> None:
        if customer is not None and customer.pk:
            kwargs.setdefault("initial", customer_initial(customer))
        super().__init__(*args, **kwargs)
        users = selectors.workspace_users(membership)
        self.fields["owner"].queryset = users  # type: ignore[attr-defined]
        self.fields["team_members"].queryset = users  # type: ignore[attr-defined]
        self.fields["phase"].queryset = visible(membership, Phase)  # type: ignore[attr-defined]
        self.fields["health_profile"].queryset = visible(membership, HealthProfile)  # type: ignore[attr-defined]
        self.fields["parent"].candidates = selectors.parent_candidates(  # type: ignore[attr-defined]
            membership, exclude=customer
        )
        self.parent_suggestions = selectors.group_parents(membership)
        self.add_custom_fields(membership, customer.custom_values if customer is not None else {})

    def clean_tags(self) -> list[str]:
        return split_list(self.cleaned_data.get("tags", ""))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        cleaned["custom_values"] = self.clean_custom_values()
        return cleaned

    def main_fields(self) -> list[forms.BoundField]:
        custom = {CUSTOM_PREFIX + field.key for field in self.custom_field_rows}
        return [bound for bound in self.visible_fields() if bound.name not in custom]


def customer_initial(customer: Customer) -> dict[str, Any]:
    parent = customer.parent
    return {
        "name": customer.name,
        "domain": customer.domain,
        "ref_id": customer.ref_id,
        "owner": customer.owner_id,
        "phase": customer.phase_id,
        "health_profile": customer.health_profile_id,
        "tags": ", ".join(tag.name for tag in customer.tags.all()),
        "parent": (parent.ref_id or parent.name) if parent is not None else "",
        "team_members": [user.pk for user in customer.team_members.all()],
    }


class ContactForm(CustomFieldsMixin):
    custom_target = CustomField.Target.CONTACT

    first_name = forms.CharField(max_length=100, required=False)
    last_name = forms.CharField(max_length=100, required=False)
    email = forms.EmailField(required=False, label="Primary email")
    secondary_emails = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line or comma separated. Emails from these addresses are linked to this contact.",
    )
    phone = forms.CharField(max_length=40, required=False)
    title = forms.CharField(max_length=120, required=False, label="Job title")
    ref_id = forms.CharField(max_length=120, required=False, label="Contact ID")
    role_tags = forms.MultipleChoiceField(
        choices=RoleTag.choices, required=False, widget=forms.CheckboxSelectMultiple, label="Roles"
    )

    def __init__(
        self, *args: Any, membership: Membership | None, contact: Contact | None = None, **kwargs: Any
    ) -> None:
        if contact is not None and contact.pk:
            kwargs.setdefault(
                "initial",
                {
                    "first_name": contact.first_name,
                    "last_name": contact.last_name,
                    "email": contact.email,
                    "secondary_emails": "\n".join(contact.secondary_emails),
                    "phone": contact.phone,
                    "title": contact.title,
                    "ref_id": contact.ref_id,
                    "role_tags": list(contact.role_tags),
                },
            )
        super().__init__(*args, **kwargs)
        self.add_custom_fields(membership, contact.custom_values if contact is not None else {})

    def clean_secondary_emails(self) -> list[str]:
        emails = split_list(self.cleaned_data.get("secondary_emails", ""))
        bad = []
        for email in emails:
            try:
                validate_email(email)
            except ValidationError:
                bad.append(email)
        if bad:
            raise ValidationError(f"Not a valid email address: {', '.join(bad)}.")
        return emails

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        cleaned["custom_values"] = self.clean_custom_values()
        return cleaned


class PulseForm(forms.Form):
    pulse = forms.TypedChoiceField(
        coerce=int,
        choices=[("", "—"), *[(str(n), str(n)) for n in range(1, 6)]],
        label="Rating",
        help_text="Your view of the relationship: 1 = at risk, 5 = excellent.",
    )
    note = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), label="Note"
    )


class CustomerFilterForm(forms.Form):
    """The list's search box, filters and sort, read from the query string."""

    q = forms.CharField(required=False, max_length=200)
    stage = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    owner = forms.ChoiceField(required=False)
    tag = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    profile = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    risk = forms.BooleanField(required=False, label="At risk only")
    churned = forms.BooleanField(required=False, label="Show churned")
    sort = forms.CharField(required=False)

    def __init__(self, data: Any, *, membership: Membership | None) -> None:
        super().__init__(data)
        self.phases = list(visible(membership, Phase))
        self.users = list(selectors.workspace_users(membership))
        self.tag_rows = list(visible(membership, Tag))
        self.profiles = list(visible(membership, HealthProfile))
        self.fields["stage"].choices = [("", "All stages"), *[(p.pk, p.label) for p in self.phases]]  # type: ignore[attr-defined]
        self.fields["owner"].choices = [  # type: ignore[attr-defined]
            ("", "Any owner"),
            (selectors.OWNER_ME, "Me"),
            (selectors.OWNER_NONE, "No owner"),
            *[(str(u.pk), u.get_full_name() or u.email) for u in self.users],
        ]
        self.fields["tag"].choices = [("", "Any tag"), *[(t.pk, t.name) for t in self.tag_rows]]  # type: ignore[attr-defined]
        self.fields["profile"].choices = [("", "Any profile"), *[(p.pk, p.name) for p in self.profiles]]  # type: ignore[attr-defined]

    def search_text(self) -> str:
        return self._value("q") or ""

    def sort_order(self) -> str:
        return selectors.sort_key(self._value("sort") or "")

    def filters(self) -> selectors.CustomerFilters:
        return selectors.CustomerFilters(
            phase_id=self._value("stage"),
            owner=self._value("owner") or "",
            tag_id=self._value("tag"),
            profile_id=self._value("profile"),
            at_risk=bool(self._value("risk")),
            show_churned=bool(self._value("churned")),
        )

    def is_filtered(self) -> bool:
        return any(self._value(name) for name in ("q", "stage", "owner", "tag", "profile", "risk", "churned"))

    def _value(self, name: str) -> Any:
        # A stale or tampered value (a removed tag, ?stage=abc) is ignored, the rest still applies.
        self.is_valid()
        return self.cleaned_data.get(name)
