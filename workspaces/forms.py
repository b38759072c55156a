from django import forms

from .models import AmountDisplay, Role


class InviteForm(forms.Form):
    email = forms.EmailField()
    first_name = forms.CharField(max_length=100, required=False)
    last_name = forms.CharField(max_length=100, required=False)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.CSM)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class GeneralForm(forms.Form):
    email_domains = forms.CharField(
        required=False,
        help_text="Your company's own email domains, comma separated (e.g. acme.com, acme.io).",
        widget=forms.TextInput(attrs={"placeholder": "acme.com, acme.io"}),
    )
    currency = forms.CharField(max_length=3, min_length=3)
    amount_display = forms.ChoiceField(choices=AmountDisplay.choices, label="Show amounts as")
