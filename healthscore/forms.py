from __future__ import annotations

from typing import Any

from django import forms

from .models import FACTOR_LABELS, FACTORS


class WeightsForm(forms.Form):
    """The four weights as percentages that add up to 100."""

    usage = forms.IntegerField(label=FACTOR_LABELS["usage"], min_value=0, max_value=100)
    interactions = forms.IntegerField(label=FACTOR_LABELS["interactions"], min_value=0, max_value=100)
    pulse = forms.IntegerField(label=FACTOR_LABELS["pulse"], min_value=0, max_value=100)
    agreement = forms.IntegerField(label=FACTOR_LABELS["agreement"], min_value=0, max_value=100)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if all(isinstance(data.get(f), int) for f in FACTORS):
            total = sum(data[f] for f in FACTORS)
            if total != 100:
                raise forms.ValidationError(
                    f"The four weights are percentages: they must add up to 100 (they add up to {total})."
                )
        return data


class CredentialForm(forms.Form):
    name = forms.CharField(max_length=80, help_text="What sends events with it, e.g. 'Web app (production)'.")


class ProfileForm(WeightsForm):
    name = forms.CharField(max_length=80, label="Name")

    field_order = ["name", *FACTORS]


class ProfileRenameForm(forms.Form):
    name = forms.CharField(max_length=80)
