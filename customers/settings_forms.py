"""Forms of Settings > Phases, Settings > Custom fields and the CSV import page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.text import slugify

from .imports import CUSTOMER_COLUMNS, KINDS, MAX_FILE_BYTES
from .models import CustomField


class PhaseForm(forms.Form):
    label = forms.CharField(max_length=80)
    technical_name = forms.SlugField(
        max_length=60,
        required=False,
        help_text="What CRMs and CSV files use for this phase (letters, digits, - and _). "
        "Leave empty to derive it from the label.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("label") and not cleaned.get("technical_name") and "technical_name" not in self.errors:
            cleaned["technical_name"] = slugify(cleaned["label"]).replace("-", "_")[:60]
            if not cleaned["technical_name"]:
                self.add_error("technical_name", "Give a technical name made of letters and digits.")
        return cleaned


class PhaseRenameForm(forms.Form):
    label = forms.CharField(max_length=80)


class CustomFieldForm(forms.Form):
    target = forms.ChoiceField(choices=CustomField.Target.choices, label="For")
    label = forms.CharField(max_length=80)
    key = forms.SlugField(
        max_length=60,
        required=False,
        label="Technical name",
        help_text="Used by CRM mappings and as the CSV column. Leave empty to derive it from the label.",
    )
    type = forms.ChoiceField(choices=CustomField.Type.choices)
    choices = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="For a choice field: one choice per line.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("label") and not cleaned.get("key") and "key" not in self.errors:
            cleaned["key"] = slugify(cleaned["label"]).replace("-", "_")[:60]
            if not cleaned["key"]:
                self.add_error("key", "Give a technical name made of letters and digits.")
        key = (cleaned.get("key") or "").lower()
        if cleaned.get("target") == CustomField.Target.CUSTOMER and key in CUSTOMER_COLUMNS:
            # The CSV import would not know whether the column is the built-in one or the custom field.
            self.add_error("key", f"'{key}' is already a built-in customer column; choose another name.")
        lines = [line.strip() for line in (cleaned.get("choices") or "").splitlines() if line.strip()]
        cleaned["choices"] = list(dict.fromkeys(lines))
        if cleaned.get("type") == CustomField.Type.CHOICE and not cleaned["choices"]:
            self.add_error("choices", "A choice field needs at least one choice (one per line).")
        return cleaned


class ImportForm(forms.Form):
    kind = forms.ChoiceField(choices=list(KINDS.items()), label="The file contains", initial="customers")
    file = forms.FileField(label="CSV file", help_text="UTF-8, comma or semicolon separated, 5 MB at most.")

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size / (1024 * 1024):.1f} MB; the limit is 5 MB. "
                "Split it into smaller files and import each."
            )
        return upload
