from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone

from customers.models import Contact, Customer

from .models import Direction, Interaction, InteractionKind


class ContactChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Contact) -> str:
        return f"{obj} <{obj.email}>" if obj.email and obj.full_name else str(obj)


class InteractionForm(forms.Form):
    kind = forms.ChoiceField(
        label="Kind",
        choices=InteractionKind.choices,
        initial=InteractionKind.NOTE,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose email, meeting, call or note."},
    )
    direction = forms.ChoiceField(
        label="Direction",
        choices=[("", "---------"), *Direction.choices],
        required=False,
        help_text="Required for emails: received from the customer (incoming) or sent to them (outgoing).",
    )
    customer_replied = forms.BooleanField(
        label="The customer replied",
        required=False,
        help_text="Emails only: an outgoing email counts as a contact once the customer replies.",
    )
    attended = forms.BooleanField(
        label="The customer attended",
        required=False,
        initial=True,
        help_text="Meetings only: a cancelled or missed meeting does not count as a contact.",
    )
    occurred_at = forms.DateTimeField(
        label="Date and time",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={"required": "When did it happen?", "invalid": "Enter a valid date and time."},
    )
    subject = forms.CharField(label="Subject", max_length=300, required=False)
    body = forms.CharField(label="Body", required=False, widget=forms.Textarea)
    contacts = ContactChoiceField(
        label="Contacts",
        queryset=Contact.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "Only contacts of this customer can take part."},
    )

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        contacts = self.fields["contacts"]
        assert isinstance(contacts, ContactChoiceField)
        contacts.queryset = customer.contacts.all()
        if not customer.contacts.exists():
            contacts.help_text = "This customer has no contacts yet."
        self.fields["occurred_at"].help_text = f"Time zone: {settings.TIME_ZONE}."
        if "occurred_at" not in self.initial:
            self.initial["occurred_at"] = timezone.localtime().replace(second=0, microsecond=0)

    @staticmethod
    def initial_for(interaction: Interaction) -> dict[str, Any]:
        return {
            "kind": interaction.kind,
            "direction": interaction.direction,
            "customer_replied": interaction.customer_replied,
            "attended": interaction.attended,
            "occurred_at": interaction.occurred_at,
            "subject": interaction.subject,
            "body": interaction.body,
            "contacts": list(interaction.contacts.all()),
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        if kind == InteractionKind.EMAIL and not data.get("direction"):
            self.add_error("direction", "Say whether the email was received (incoming) or sent (outgoing).")
        if kind == InteractionKind.NOTE and not (data.get("subject") or data.get("body")):
            self.add_error("body", "Write a subject or a body for the note.")
        return data

    def interaction_fields(self) -> dict[str, Any]:
        """Keyword arguments for interactions.services.interaction_create/update. Flags that do not apply
        to the kind are reset so that switching kind never leaves a stale one counting as contact."""
        data = self.cleaned_data
        kind = data["kind"]
        is_email = kind == InteractionKind.EMAIL
        return {
            "kind": kind,
            "direction": data["direction"],
            "customer_replied": is_email
            and data["direction"] == Direction.OUTGOING
            and data["customer_replied"],
            "attended": data["attended"] if kind == InteractionKind.MEETING else True,
            "occurred_at": data["occurred_at"],
            "subject": data["subject"],
            "body": data["body"],
            "contacts": list(data["contacts"]),
        }
