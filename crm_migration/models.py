"""A workspace's move from one CRM connection to HubSpot, step by step, as the integration guide's last
section describes it. The old connection is deleted half-way, so what must outlive it is kept here."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q


class Step(models.TextChoices):
    PREPARATION = "preparation", "HubSpot preparation"
    OLD_ID = "old_id", "Old CRM ID"
    OLD_CONNECTION = "old_connection", "Disable, then delete the old connection"
    CONNECT = "connect", "Connect HubSpot"
    STEP_A = "step_a", "Step A: first sync, input only"
    STEP_B = "step_b", "Step B: extra fields, output only"
    STEP_C = "step_c", "Step C: two-way fields"
    THIRD_PARTY = "third_party", "Third-party keys"
    DONE = "done", "Done"


STEP_ORDER: tuple[str, ...] = tuple(Step.values)
# Once the old connection is deleted these cannot be redone: there is nothing left to map or delete.
BEFORE_DELETION: tuple[str, ...] = (Step.PREPARATION, Step.OLD_ID, Step.OLD_CONNECTION)


class Migration(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "In progress"
        COMPLETED = "completed", "Completed"
        ABANDONED = "abandoned", "Abandoned"

    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="crm_migrations"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    # The old connection, while it exists; its kind, label and id stay once it is deleted.
    old_connection = models.ForeignKey(
        "integrations.Connection", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    old_connection_pk = models.PositiveBigIntegerField()
    old_crm = models.CharField(max_length=20)
    old_crm_label = models.CharField(max_length=60)
    old_account_id = models.CharField(max_length=120, blank=True)
    target_crm = models.CharField(max_length=20, default="hubspot")
    new_connection = models.ForeignKey(
        "integrations.Connection", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    old_id_field = models.ForeignKey(
        "customers.CustomField", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as text too: the merge key names the field by its key, even if the field row is removed.
    old_id_field_key = models.CharField(max_length=60, blank=True)
    # The HubSpot company property holding the old CRM's id (mapped input to the Old CRM ID field).
    old_id_property = models.CharField(max_length=200, blank=True)
    step = models.CharField(max_length=20, choices=Step.choices, default=Step.PREPARATION)
    # Per step: {"ok": bool, "at": iso, "by": email, "summary": {...}} of its last check.
    checks = models.JSONField(default=dict, blank=True)
    # Per step: when its configuration was applied (a sync after this time is the one that validates it).
    applied_at = models.JSONField(default=dict, blank=True)
    # Ticked items of the checklists outside Skalin (preparation, third-party tools).
    ticked = models.JSONField(default=list, blank=True)
    # Key data before the switch: {"taken_at", "customers": {pk: {...}}, "totals": {...}, "stripe": {pk: id}}.
    before = models.JSONField(default=dict, blank=True)
    # The old connection's synced customers when it was deleted: {customer pk: old CRM id}.
    old_links = models.JSONField(default=dict, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace"], condition=Q(status="open"), name="one_open_crm_migration_per_workspace"
            )
        ]

    def __str__(self) -> str:
        return f"{self.old_crm_label} to HubSpot ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    def check_of(self, step: str) -> dict[str, Any]:
        return (self.checks or {}).get(step) or {}

    def passed(self, step: str) -> bool:
        return bool(self.check_of(step).get("ok"))

    def frozen(self, step: str) -> bool:
        """The steps before the old connection's deletion, once it passed: the point of no return."""
        return step in BEFORE_DELETION and self.passed(Step.OLD_CONNECTION)

    def actionable(self, step: str) -> bool:
        return self.is_open and self.reached(step) and not self.frozen(step)

    def reached(self, step: str) -> bool:
        """A step can be acted on once every step before it passed its check."""
        index = STEP_ORDER.index(step)
        return all(self.passed(earlier) for earlier in STEP_ORDER[:index])
