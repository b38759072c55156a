from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from . import crypto


class CrmKind(models.TextChoices):
    HUBSPOT = "hubspot", "HubSpot"
    SALESFORCE = "salesforce", "Salesforce"
    PIPEDRIVE = "pipedrive", "Pipedrive"
    ZOHO = "zoho", "Zoho CRM"
    SELLSY = "sellsy", "Sellsy"


class ObjectType(models.TextChoices):
    CUSTOMERS = "customers", "Customers"
    CONTACTS = "contacts", "Contacts"
    AGREEMENTS = "agreements", "Agreements"
    INTERACTIONS = "interactions", "Interactions"


class SyncMode(models.TextChoices):
    INPUT = "input", "Input only"
    TWO_WAYS = "two_ways", "Two-ways"
    OUTPUT = "output", "Output only"
    DISABLED = "disabled", "Disabled"


class FieldDirection(models.TextChoices):
    INPUT = "input", "CRM to Skalin"
    OUTPUT = "output", "Skalin to CRM"
    TWO_WAYS = "two_ways", "Both ways"


class Connection(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Not finished"
        ACTIVE = "active", "Active"
        DISABLED = "disabled", "Disabled"
        RECONNECT_NEEDED = "reconnect_needed", "Reconnect needed"

    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="connections"
    )
    crm = models.CharField(max_length=20, choices=CrmKind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    remote_account_id = models.CharField(max_length=120, blank=True)
    remote_user_email = models.CharField(max_length=254, blank=True)
    encrypted_tokens = models.TextField(blank=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    # Set by the worker refreshing the token (a conditional UPDATE), so that only one does at a time.
    token_refresh_claimed_until = models.DateTimeField(null=True, blank=True)
    # Where the provider said this account's API lives (Salesforce instance_url...), checked on arrival.
    base_url = models.URLField(max_length=300, blank=True)
    owns_customer_id = models.BooleanField(default=False)
    # A run that would churn or overwrite more than this share of the connection's customers pauses (R11).
    breaker_percent = models.DecimalField(max_digits=5, decimal_places=2, default=5)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["crm", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "crm", "remote_account_id"],
                condition=~Q(remote_account_id=""),
                name="one_connection_per_crm_account",
            ),
            models.UniqueConstraint(
                fields=["workspace"],
                condition=Q(owns_customer_id=True),
                name="one_connection_owns_customer_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_crm_display()} ({self.remote_account_id or 'not connected'})"

    @property
    def tokens(self) -> dict[str, Any]:
        return crypto.decrypt_json(self.encrypted_tokens)

    def set_tokens(self, tokens: dict[str, Any], *, expires_at: dt.datetime | None) -> None:
        self.encrypted_tokens = crypto.encrypt_json(tokens)
        self.token_expires_at = expires_at

    @property
    def can_write(self) -> bool:
        return self.status == self.Status.ACTIVE


class ObjectSetting(models.Model):
    """One block of the wizard: an object's sync mode and options (selection, filter, merge keys...)."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="object_settings")
    object_type = models.CharField(max_length=20, choices=ObjectType.choices)
    mode = models.CharField(max_length=10, choices=SyncMode.choices, default=SyncMode.DISABLED)
    options = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["connection", "object_type"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "object_type"], name="one_setting_per_object")
        ]

    def __str__(self) -> str:
        return f"{self.connection} {self.object_type}: {self.get_mode_display()}"


class FieldMapping(models.Model):
    """A Skalin field fed by (or feeding) a CRM field. `local_field` names: ref_id, name, domain, owner,
    phase, health_profile, tags, custom:<key>, role:<tag>, and the agreement/interaction fields."""

    object_setting = models.ForeignKey(ObjectSetting, on_delete=models.CASCADE, related_name="mappings")
    local_field = models.CharField(max_length=80)
    remote_field = models.CharField(max_length=200)
    direction = models.CharField(max_length=10, choices=FieldDirection.choices, default=FieldDirection.INPUT)
    # A blank CRM value empties the Skalin value only when the admin says so (reliability R6).
    clearable = models.BooleanField(default=False)
    # CRM value -> Skalin value (phase technical name, profile name, tag name, or "yes" for role tags).
    value_table = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["object_setting", "local_field"]
        constraints = [
            models.UniqueConstraint(
                fields=["object_setting", "local_field"], name="one_mapping_per_local_field"
            )
        ]

    def __str__(self) -> str:
        return f"{self.local_field} <- {self.remote_field}"


class SyncState(models.Model):
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="states")
    object_type = models.CharField(max_length=20, choices=ObjectType.choices)
    # Largest source modification time committed (ISO), never "now" (R2).
    cursor = models.CharField(max_length=64, blank=True)
    # The configuration the cursor was earned under; a different one resets the cursor.
    config_hash = models.CharField(max_length=64, blank=True)
    # Local changes after this time are pushed at the next run (two-ways).
    push_cursor = models.DateTimeField(null=True, blank=True)
    # A listing in progress: where its next page starts, the `since` it was asked with and the newest
    # modification time committed so far. A crashed run resumes here; `cursor` moves only when a listing
    # ends, so an unordered listing never skips what its later pages held.
    page_cursor = models.TextField(blank=True)
    listing_since = models.CharField(max_length=64, blank=True)
    high_water = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "object_type"], name="one_state_per_object")
        ]

    def __str__(self) -> str:
        return f"{self.connection} {self.object_type} @ {self.cursor or 'start'}"


class SyncRun(models.Model):
    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Hourly schedule"
        MANUAL = "manual", "Sync now"
        COMMAND = "command", "Command line"
        RETRY = "retry", "Retry"
        PUSH = "push", "Push"
        PLAN = "plan", "Plan"
        APPROVED = "approved", "Approved after a pause"

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting to start"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Partial"
        FAILED = "failed", "Failed"
        RATE_LIMITED = "rate_limited", "Rate limited"
        SKIPPED = "skipped", "Skipped"
        ABANDONED = "abandoned", "Abandoned"
        PAUSED = "paused", "Paused: waiting for an Admin"
        CANCELLED = "cancelled", "Cancelled"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="runs")
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.SCHEDULE)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    skipped_empty = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    quarantined = models.PositiveIntegerField(default=0)
    churned = models.PositiveIntegerField(default=0)
    pushed = models.PositiveIntegerField(default=0)
    api_calls = models.PositiveIntegerField(default=0)
    # The same counters per object: {"customers": {"created": 3, ...}, "contacts": {...}}.
    by_object = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    resume_at = models.DateTimeField(null=True, blank=True)
    # A plan (dry run) reads the CRM and computes every change, then writes nothing (R7).
    dry_run = models.BooleanField(default=False)
    # Per object: samples of what the run did (or, for a plan, would do): create, merge, update...
    plan = models.JSONField(default=dict, blank=True)
    # The plan this run applies, if any: what differs from it is reported.
    applies = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Per object and mapped field: {"customers": {"domain": {"filled": 90, "empty": 10, "kept": 4}}}.
    fill_rates = models.JSONField(default=dict, blank=True)
    # While running: {"object": "contacts", "pages": 12, "records": 2300}.
    progress = models.JSONField(default=dict, blank=True)
    # Set on a paused run by an Admin: approved (a new run goes past the breaker) or cancelled.
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # Reliability R3: at most one running run per connection; the database settles races.
            models.UniqueConstraint(
                fields=["connection"], condition=Q(status="running"), name="one_running_run_per_connection"
            )
        ]

    def __str__(self) -> str:
        return f"Run #{self.pk} of {self.connection} ({self.status})"

    COUNTERS = (
        "created",
        "updated",
        "unchanged",
        "skipped_empty",
        "skipped",
        "quarantined",
        "churned",
        "pushed",
    )

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.COUNTERS}


class ExternalRef(models.Model):
    """The link between a CRM record and the Skalin row it feeds: unique per connection, object type and
    external id (reliability R1)."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="refs")
    object_type = models.CharField(max_length=20, choices=ObjectType.choices)
    external_id = models.CharField(max_length=120)
    local_id = models.PositiveBigIntegerField()
    in_selection = models.BooleanField(default=True)
    remote_modified_at = models.DateTimeField(null=True, blank=True)
    deleted_in_crm_at = models.DateTimeField(null=True, blank=True)
    # What we last wrote to the CRM, field by field: seeing it come back is our own echo (R10).
    pushed_values = models.JSONField(default=dict, blank=True)
    # What the CRM last sent, field by field: a conflict is a field changed on both sides since.
    received_values = models.JSONField(default=dict, blank=True)
    last_seen_run = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "object_type", "external_id"], name="one_ref_per_external_id"
            )
        ]
        indexes = [models.Index(fields=["connection", "object_type", "local_id"])]

    def __str__(self) -> str:
        return f"{self.object_type} {self.external_id} -> {self.local_id}"


class QuarantinedRecord(models.Model):
    """A CRM record that could not be mapped (R5): kept with its reason, retried from the connection page."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="quarantine")
    run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    object_type = models.CharField(max_length=20, choices=ObjectType.choices)
    external_id = models.CharField(max_length=120)
    reason = models.TextField()
    payload = models.JSONField(default=dict, blank=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "object_type", "external_id"], name="one_quarantine_row_per_record"
            )
        ]

    def __str__(self) -> str:
        return f"{self.object_type} {self.external_id}: {self.reason}"


class Notification(models.Model):
    """Something the workspace's Admins must act on (reconnect, a paused run, a refused push): an email and
    a banner, at most once a day per connection and cause."""

    class Cause(models.TextChoices):
        RECONNECT = "reconnect", "Reconnect needed"
        PAUSED = "paused", "Run paused"
        PUSH_REFUSED = "push_refused", "Push refused"

    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="notifications"
    )
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="notifications")
    cause = models.CharField(max_length=20, choices=Cause.choices)
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    dismissed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["workspace", "dismissed_at"])]

    def __str__(self) -> str:
        return f"{self.get_cause_display()}: {self.message[:60]}"
