"""Health scores and what feeds them: profile weights, weekly scores with their ledger, the CSM Pulse
history, usage credentials, raw usage events and their daily aggregates."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

FACTORS = ("usage", "interactions", "pulse", "agreement")
FACTOR_LABELS = {
    "usage": "Usage",
    "interactions": "Interactions",
    "pulse": "CSM Pulse",
    "agreement": "Agreement",
}
DEFAULT_WEIGHTS = {"usage": 25, "interactions": 25, "pulse": 25, "agreement": 25}
AT_RISK_SCORE = 3


class HealthWeights(models.Model):
    """The weights of the four sub-scores for one health profile, or (profile empty) the workspace's
    default weighting, used for customers without a profile or whose profile has no weights of its own."""

    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="+")
    profile = models.OneToOneField(
        "customers.HealthProfile", null=True, blank=True, on_delete=models.CASCADE, related_name="weights"
    )
    usage = models.PositiveSmallIntegerField(default=25)
    interactions = models.PositiveSmallIntegerField(default=25)
    pulse = models.PositiveSmallIntegerField(default=25)
    agreement = models.PositiveSmallIntegerField(default=25)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace"], condition=Q(profile__isnull=True), name="one_default_weighting"
            ),
            models.CheckConstraint(
                condition=Q(usage__lte=100, interactions__lte=100, pulse__lte=100, agreement__lte=100),
                name="weights_at_most_100",
            ),
        ]

    def __str__(self) -> str:
        return f"Weights of {self.profile or 'the workspace default'}"

    def as_dict(self) -> dict[str, int]:
        return {factor: getattr(self, factor) for factor in FACTORS}


class HealthScore(models.Model):
    """A customer's score for one week (the Monday that starts it). The ledger says how it was made."""

    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="health_scores")
    week = models.DateField(help_text="Monday of the week.")
    overall = models.DecimalField(max_digits=3, decimal_places=1, null=True)
    usage = models.DecimalField(max_digits=2, decimal_places=1, null=True)
    interactions = models.DecimalField(max_digits=2, decimal_places=1, null=True)
    pulse = models.DecimalField(max_digits=2, decimal_places=1, null=True)
    agreement = models.DecimalField(max_digits=2, decimal_places=1, null=True)
    previous_overall = models.DecimalField(max_digits=3, decimal_places=1, null=True)
    dropping = models.BooleanField(default=False)
    ledger = models.JSONField(default=dict)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-week"]
        constraints = [models.UniqueConstraint(fields=["customer", "week"], name="one_score_per_week")]
        indexes = [
            models.Index(fields=["workspace", "week"]),
            models.Index(fields=["customer", "-week"]),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.week}: {self.overall}"

    @property
    def is_at_risk(self) -> bool:
        return self.overall is not None and round(self.overall) <= AT_RISK_SCORE


class HealthRun(models.Model):
    """One computation of a workspace's scores; at most one runs at a time per workspace."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Weekly schedule"
        MANUAL = "manual", "Admin request"

    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="+")
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    week = models.DateField(null=True)
    customers = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    queries = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace"], condition=Q(status="running"), name="one_running_health_run"
            )
        ]

    def __str__(self) -> str:
        return f"Health run #{self.pk} ({self.status})"


class PulseEntry(models.Model):
    """Every CSM Pulse given, so that a stored week's score can be recomputed and the page shows the
    history (the customer row only keeps the latest)."""

    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="pulse_entries")
    pulse = models.PositiveSmallIntegerField()
    note = models.TextField(blank=True)
    set_at = models.DateTimeField()
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    set_by_label = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-set_at", "-id"]
        indexes = [models.Index(fields=["customer", "-set_at"]), models.Index(fields=["workspace", "set_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(pulse__gte=1, pulse__lte=5), name="pulse_entry_1_to_5")
        ]

    def __str__(self) -> str:
        return f"{self.pulse}/5 on {self.set_at:%Y-%m-%d}"


class UsageCredential(models.Model):
    """A token a product sends usage events with. Only its SHA-256 is stored; the token is shown once."""

    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=16, help_text="The token's first characters, to recognise it.")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class UsageEvent(models.Model):
    """A raw product-usage event as received. `customer` is empty while its contact or customer is not
    known yet (kept for a bounded time, attached when it appears); `aggregated_at` marks it counted."""

    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="+")
    event_id = models.CharField(max_length=200)
    name = models.CharField(max_length=200)
    occurred_at = models.DateTimeField()
    email = models.CharField(max_length=254, blank=True)
    customer_ref = models.CharField(max_length=120, blank=True)
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    contact = models.ForeignKey(
        "customers.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    credential = models.ForeignKey(UsageCredential, null=True, on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField()
    aggregated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "event_id"], name="usage_event_id_unique")
        ]
        indexes = [
            models.Index(fields=["workspace", "customer", "aggregated_at"]),
            models.Index(fields=["customer", "occurred_at"]),
            models.Index(fields=["workspace", "received_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.event_id}"


class UsageDaily(models.Model):
    """Usage of one customer on one day (UTC): the figures the usage sub-score reads."""

    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    events = models.PositiveIntegerField(default=0)
    users = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["customer", "day"], name="one_usage_row_per_day")]
        indexes = [models.Index(fields=["workspace", "day"])]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.day}: {self.events}"
