from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q


class Interval(models.TextChoices):
    DAY = "day", "day(s)"
    WEEK = "week", "week(s)"
    MONTH = "month", "month(s)"
    YEAR = "year", "year(s)"


class AmountPeriod(models.TextChoices):
    MRR = "mrr", "MRR (per month)"
    ARR = "arr", "ARR (per year)"


class AgreementStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    VALIDATED = "validated", "Validated"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    CANCELLED = "cancelled", "Cancelled"
    FINISHED = "finished", "Finished"


# Statuses a person sets; the others follow the dates.
MANUAL_STATUSES = (AgreementStatus.PENDING, AgreementStatus.PAUSED, AgreementStatus.CANCELLED)


class Agreement(models.Model):
    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="agreements")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="agreements")
    plan_name = models.CharField(max_length=200, blank=True)
    amount = models.DecimalField(
        max_digits=14, decimal_places=2, help_text="As entered, per month or per year."
    )
    amount_period = models.CharField(max_length=3, choices=AmountPeriod.choices, default=AmountPeriod.MRR)
    mrr = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    one_time_fee = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(max_length=3, default="EUR")
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    duration_value = models.PositiveIntegerField(null=True, blank=True)
    duration_unit = models.CharField(max_length=5, choices=Interval.choices, blank=True)
    notice_value = models.PositiveIntegerField(null=True, blank=True)
    notice_unit = models.CharField(max_length=5, choices=Interval.choices, blank=True)
    notice_date = models.DateField(null=True, blank=True)
    tacit_renewal = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=AgreementStatus.choices, default=AgreementStatus.ACTIVE)
    source = models.CharField(max_length=30, default="ui")
    external_id = models.CharField(max_length=120, blank=True)
    # Derived by agreements.services from the fields above; stored so lists can sort and sum.
    ends_on = models.DateField()
    renews_on = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-start_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "source", "external_id"],
                condition=~Q(external_id=""),
                name="agreement_external_id_unique",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="agreement_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(ends_on__gt=models.F("start_date")), name="agreement_ends_after_start"
            ),
        ]
        indexes = [models.Index(fields=["customer", "start_date", "ends_on"])]

    def __str__(self) -> str:
        return f"{self.plan_name or 'Agreement'} ({self.customer_id})"

    @property
    def arr(self) -> Decimal:
        return self.mrr * 12


class SkippedAgreement(models.Model):
    """A contract seen in a source but not imported because a required field is missing (FAQ: "Why are
    some MRR not present"). Shown on the customer's Agreements section until the source is fixed."""

    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="skipped_agreements"
    )
    source = models.CharField(max_length=30)
    external_id = models.CharField(max_length=120)
    label = models.CharField(max_length=200, blank=True)
    missing_fields = models.JSONField(default=list)
    seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-seen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "source", "external_id"], name="skipped_agreement_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.label or self.external_id}: missing {', '.join(self.missing_fields)}"
