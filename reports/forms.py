from __future__ import annotations

from typing import Any

from django import forms

from customers import selectors as customer_selectors
from customers.models import HealthProfile, Phase, Tag
from workspaces.access import visible
from workspaces.models import Membership

from .services import Filters

EXPORTS = ("months", "quarters", "renewals", "at_risk", "dropping", "pulse")


class ReportFilterForm(forms.Form):
    owner = forms.ChoiceField(required=False)
    phase = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Stage")
    profile = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    tag = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)

    def __init__(self, data: Any, *, membership: Membership | None) -> None:
        super().__init__(data)
        users = customer_selectors.workspace_users(membership)
        self.fields["owner"].choices = [  # type: ignore[attr-defined]
            ("", "Any owner"),
            ("none", "No owner"),
            *[(str(user.pk), user.get_full_name() or user.email) for user in users],
        ]
        self.fields["phase"].choices = [  # type: ignore[attr-defined]
            ("", "All stages"),
            *[(p.pk, p.label) for p in visible(membership, Phase)],
        ]
        self.fields["profile"].choices = [  # type: ignore[attr-defined]
            ("", "Any profile"),
            *[(p.pk, p.name) for p in visible(membership, HealthProfile)],
        ]
        self.fields["tag"].choices = [("", "Any tag"), *[(t.pk, t.name) for t in visible(membership, Tag)]]  # type: ignore[attr-defined]

    def filters(self) -> Filters:
        # A bad value (a removed tag, ?owner=abc) is reported by the form and that filter alone is dropped.
        self.is_valid()
        data = {name: value for name, value in self.cleaned_data.items()}
        return Filters(
            owner=data.get("owner") or "",
            phase_id=data.get("phase"),
            profile_id=data.get("profile"),
            tag_id=data.get("tag"),
        )

    def is_filtered(self) -> bool:
        filters = self.filters()
        return bool(filters.owner or filters.phase_id or filters.profile_id or filters.tag_id)
