from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.db import models

from .models import MANUAL_STATUSES, Agreement, AgreementStatus, AmountPeriod, Interval
from .services import agreement_end, agreement_renewal

# Longest duration or notice a form accepts: a thousand of anything is already a typo.
MAX_INTERVAL_VALUE = 1000


class EndMode(models.TextChoices):
    DATE = "date", "End date"
    DURATION = "duration", "Duration"


class NoticeMode(models.TextChoices):
    NONE = "none", "None"
    DURATION = "duration", "Duration before end"
    DATE = "date", "Notice date"


FOLLOW_DATES = "dates"
STATUS_CHOICES = [
    (
        FOLLOW_DATES,
        "Follow the dates: Validated before the start, Active while it runs, Finished after the end",
    ),
    (AgreementStatus.PENDING.value, "Pending: not signed yet, not counted in MRR"),
    (AgreementStatus.PAUSED.value, "Paused: not counted in MRR"),
    (AgreementStatus.CANCELLED.value, "Cancelled: not counted in MRR"),
]
INTERVAL_CHOICES = [("", "---------"), *Interval.choices]
YES_NO = [("yes", "Yes"), ("no", "No")]


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def _interval_value(label: str) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        required=False,
        min_value=1,
        max_value=MAX_INTERVAL_VALUE,
        error_messages={
            "min_value": "Enter a whole number of at least 1.",
            "max_value": f"Enter at most {MAX_INTERVAL_VALUE}.",
            "invalid": "Enter a whole number.",
        },
    )


def _money(label: str, *, required: bool, negative_message: str, help_text: str = "") -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        help_text=help_text,
        min_value=Decimal("0"),
        max_digits=14,
        decimal_places=2,
        error_messages={
            "required": "Enter the amount.",
            "min_value": negative_message,
            "invalid": "Enter a number, such as 1200 or 99.50.",
            "max_decimal_places": "Use at most 2 decimals.",
            "max_digits": "That amount is too large.",
            "max_whole_digits": "That amount is too large.",
        },
    )


class AgreementForm(forms.Form):
    plan_name = forms.CharField(label="Plan name", max_length=200, required=False)
    amount = _money("Amount", required=True, negative_message="The amount cannot be negative.")
    amount_period = forms.ChoiceField(
        label="Amount is", choices=AmountPeriod.choices, initial=AmountPeriod.MRR
    )
    one_time_fee = _money(
        "One-time fee",
        required=False,
        negative_message="The one-time fee cannot be negative.",
        help_text="Charged once; never counted in MRR.",
    )
    start_date = forms.DateField(
        label="Start date",
        widget=DateInput(),
        error_messages={"required": "Enter the start date.", "invalid": "Enter a valid date."},
    )
    end_mode = forms.ChoiceField(
        label="End",
        choices=EndMode.choices,
        initial=EndMode.DATE,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose an end date or a duration."},
    )
    end_date = forms.DateField(
        label="End date",
        required=False,
        widget=DateInput(),
        error_messages={"invalid": "Enter a valid date."},
    )
    duration_value = _interval_value("Duration")
    duration_unit = forms.ChoiceField(label="Duration unit", choices=INTERVAL_CHOICES, required=False)
    notice_mode = forms.ChoiceField(
        label="Notice",
        choices=NoticeMode.choices,
        initial=NoticeMode.NONE,
        widget=forms.RadioSelect,
    )
    notice_value = _interval_value("Notice period")
    notice_unit = forms.ChoiceField(label="Notice unit", choices=INTERVAL_CHOICES, required=False)
    notice_date = forms.DateField(
        label="Notice date",
        required=False,
        widget=DateInput(),
        error_messages={"invalid": "Enter a valid date."},
    )
    tacit_renewal = forms.ChoiceField(
        label="Tacit renewal",
        choices=YES_NO,
        initial="no",
        widget=forms.RadioSelect,
        help_text="Renewed automatically unless notice is given: the renewal date is then the end minus the notice.",
    )
    status = forms.ChoiceField(
        label="Status", choices=STATUS_CHOICES, initial=FOLLOW_DATES, widget=forms.RadioSelect
    )

    def __init__(self, *args: Any, currency: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if currency:
            self.fields["amount"].label = f"Amount ({currency})"
            self.fields["one_time_fee"].label = f"One-time fee ({currency})"

    @staticmethod
    def initial_for(agreement: Agreement) -> dict[str, Any]:
        """The form's values for an existing agreement, amount shown as it was entered."""
        if agreement.notice_date is not None:
            notice_mode = NoticeMode.DATE
        elif agreement.notice_value and agreement.notice_unit:
            notice_mode = NoticeMode.DURATION
        else:
            notice_mode = NoticeMode.NONE
        return {
            "plan_name": agreement.plan_name,
            "amount": agreement.amount,
            "amount_period": agreement.amount_period,
            "one_time_fee": agreement.one_time_fee or None,
            "start_date": agreement.start_date,
            "end_mode": EndMode.DATE if agreement.end_date else EndMode.DURATION,
            "end_date": agreement.end_date,
            "duration_value": agreement.duration_value,
            "duration_unit": agreement.duration_unit,
            "notice_mode": notice_mode,
            "notice_value": agreement.notice_value,
            "notice_unit": agreement.notice_unit,
            "notice_date": agreement.notice_date,
            "tacit_renewal": "yes" if agreement.tacit_renewal else "no",
            "status": agreement.status if agreement.status in MANUAL_STATUSES else FOLLOW_DATES,
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start: dt.date | None = data.get("start_date")
        ends_on = self._clean_end(data, start)
        self._clean_notice(data, start, ends_on)
        return data

    def _clean_end(self, data: dict[str, Any], start: dt.date | None) -> dt.date | None:
        mode = data.get("end_mode")
        if mode == EndMode.DATE:
            end = data.get("end_date")
            if end is None:
                if "end_date" not in self.errors:
                    self.add_error("end_date", "Enter the end date, or choose a duration instead.")
                return None
            if start is not None and end <= start:
                self.add_error("end_date", "The end date must be after the start date.")
                return None
            return end
        if mode == EndMode.DURATION:
            value, unit = data.get("duration_value"), data.get("duration_unit")
            if value is None and "duration_value" not in self.errors:
                self.add_error("duration_value", "Enter how long the agreement runs.")
            if not unit:
                self.add_error(
                    "duration_unit", "Choose day(s), week(s), month(s) or year(s) for the duration."
                )
            if value is None or not unit or start is None:
                return None
            try:
                return agreement_end(
                    start_date=start, end_date=None, duration_value=value, duration_unit=unit
                )
            except (ValueError, OverflowError):
                self.add_error("duration_value", "That duration ends beyond the year 9999.")
        return None

    def _clean_notice(self, data: dict[str, Any], start: dt.date | None, ends_on: dt.date | None) -> None:
        mode = data.get("notice_mode")
        if mode == NoticeMode.DATE:
            notice_date = data.get("notice_date")
            if notice_date is None:
                if "notice_date" not in self.errors:
                    self.add_error("notice_date", "Enter the notice date, or choose None.")
            elif ends_on is not None and notice_date > ends_on:
                self.add_error(
                    "notice_date", "The notice date must be on or before the end of the agreement."
                )
        elif mode == NoticeMode.DURATION:
            value, unit = data.get("notice_value"), data.get("notice_unit")
            if value is None and "notice_value" not in self.errors:
                self.add_error("notice_value", "Enter the notice period.")
            if not unit:
                self.add_error("notice_unit", "Choose day(s), week(s), month(s) or year(s) for the notice.")
            if value is None or not unit or ends_on is None or start is None:
                return
            try:
                renews_on = agreement_renewal(
                    ends_on=ends_on,
                    tacit_renewal=True,
                    notice_value=value,
                    notice_unit=unit,
                    notice_date=None,
                )
            except (ValueError, OverflowError):
                renews_on = None
            if renews_on is None or renews_on < start:
                self.add_error("notice_value", "The notice period is longer than the agreement itself.")

    def agreement_fields(self) -> dict[str, Any]:
        """Keyword arguments for agreements.services.agreement_create/update. A status that follows
        the dates is handed over as Active: the service replaces it with what the dates say."""
        data = self.cleaned_data
        by_date = data["end_mode"] == EndMode.DATE
        notice = data["notice_mode"]
        return {
            "plan_name": data["plan_name"],
            "amount": data["amount"],
            "amount_period": data["amount_period"],
            "one_time_fee": data["one_time_fee"] or Decimal("0"),
            "start_date": data["start_date"],
            "end_date": data["end_date"] if by_date else None,
            "duration_value": None if by_date else data["duration_value"],
            "duration_unit": "" if by_date else data["duration_unit"],
            "notice_value": data["notice_value"] if notice == NoticeMode.DURATION else None,
            "notice_unit": data["notice_unit"] if notice == NoticeMode.DURATION else "",
            "notice_date": data["notice_date"] if notice == NoticeMode.DATE else None,
            "tacit_renewal": data["tacit_renewal"] == "yes",
            "status": AgreementStatus.ACTIVE if data["status"] == FOLLOW_DATES else data["status"],
        }
