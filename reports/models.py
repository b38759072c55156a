"""Daily report snapshots: the figures of every customer on the day, so that the page can filter by owner,
phase, profile or tag without recomputing a year of agreements on each request."""

from __future__ import annotations

from django.db import models


class ReportSnapshot(models.Model):
    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    computed_at = models.DateTimeField()
    currency = models.CharField(max_length=3, default="EUR")
    # The dates at which MRR was measured: month ends, oldest first, then the day itself.
    points = models.JSONField(default=list)
    # The latest week with health scores when the snapshot was taken (its Monday): what "dropping" compares
    # with the week before. None when the workspace has no scores yet.
    health_week = models.DateField(null=True)

    class Meta:
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "day"], name="one_report_per_workspace_day")
        ]

    def __str__(self) -> str:
        return f"Report of {self.day} (workspace {self.workspace_id})"


class CustomerFigures(models.Model):
    """One customer as the snapshot saw it. Not a foreign key: a customer deleted later stays in the
    figures of the days it existed."""

    snapshot = models.ForeignKey(ReportSnapshot, on_delete=models.CASCADE, related_name="customers")
    customer_id = models.PositiveBigIntegerField()
    name = models.CharField(max_length=200)
    owner_id = models.PositiveBigIntegerField(null=True)
    phase_id = models.PositiveBigIntegerField(null=True)
    profile_id = models.PositiveBigIntegerField(null=True)
    # ",3,7," so that one tag is a LIKE on every database.
    tag_ids = models.CharField(max_length=1000, blank=True)
    churned = models.BooleanField(default=False)
    # MRR in cents at each of the snapshot's points.
    mrr_cents = models.JSONField(default=list)
    # The earliest start of a contract counted in MRR: tells a new customer from a reactivation.
    first_start = models.DateField(null=True)
    health_score = models.PositiveSmallIntegerField(null=True)
    # The score of the snapshot's health week and of the week before, when it fell between the two (the
    # weekly computation's `HealthScore.dropping`); both None otherwise.
    dropped_from = models.DecimalField(max_digits=3, decimal_places=1, null=True)
    dropped_to = models.DecimalField(max_digits=3, decimal_places=1, null=True)
    pulse_at = models.DateTimeField(null=True)
    # [[renews_on ISO date, MRR cents], ...] for contracts renewing within 90 days of the snapshot.
    renewals = models.JSONField(default=list)

    class Meta:
        ordering = ["name", "customer_id"]
        indexes = [models.Index(fields=["snapshot", "owner_id"])]

    def __str__(self) -> str:
        return self.name
