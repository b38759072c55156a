"""Playbooks: a trigger, conditions on the customer, actions; each run recorded per customer; tasks.

A run is unique per (playbook, customer, trigger key): the key names the event that triggered it (the
change-log row, the renewal date, the stay in a stage, the week of a low health score, a manual click),
so a re-trigger of the same event never runs a playbook twice."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Trigger(models.TextChoices):
    MANUAL = "manual", "Manual (run from the customer page)"
    CUSTOMER_CREATED = "customer_created", "New customer"
    STAGE_CHANGED = "stage_changed", "Stage changed"
    STAGE_UNCHANGED = "stage_unchanged", "Stage unchanged for N days"
    RENEWAL_IN = "renewal_in", "Renewal date in N days"
    PULSE_CHANGED = "pulse_changed", "CSM Pulse changed"
    HEALTH_BELOW = "health_below", "Health score below N"
    OWNER_CHANGED = "owner_changed", "Owner changed"


# Triggers read from the change history every few minutes, keyed by the change-log field they follow.
EVENT_TRIGGER_FIELDS: dict[str, str] = {
    Trigger.CUSTOMER_CREATED: "created",
    Trigger.STAGE_CHANGED: "phase",
    Trigger.PULSE_CHANGED: "csm_pulse",
    Trigger.OWNER_CHANGED: "owner",
}
# Triggers evaluated once a day against the customers' state.
TIME_TRIGGERS = (Trigger.STAGE_UNCHANGED, Trigger.RENEWAL_IN, Trigger.HEALTH_BELOW)
TRIGGERS_WITH_DAYS = (Trigger.STAGE_UNCHANGED, Trigger.RENEWAL_IN)


class ConditionKind(models.TextChoices):
    STAGE_IS = "stage_is", "Stage is"
    STAGE_IS_NOT = "stage_is_not", "Stage is not"
    OWNER_IS = "owner_is", "Owner is"
    OWNER_IS_NOT = "owner_is_not", "Owner is not"
    NO_OWNER = "no_owner", "Has no owner"
    HAS_TAG = "has_tag", "Has the tag"
    HAS_NOT_TAG = "has_not_tag", "Does not have the tag"
    PROFILE_IS = "profile_is", "Health profile is"
    PROFILE_IS_NOT = "profile_is_not", "Health profile is not"
    MRR_GTE = "mrr_gte", "Active MRR is at least"
    MRR_LTE = "mrr_lte", "Active MRR is at most"
    HEALTH_LTE = "health_lte", "Health score is at most"
    HEALTH_GTE = "health_gte", "Health score is at least"
    NO_HEALTH = "no_health", "Has no health score"
    PULSE_LTE = "pulse_lte", "CSM Pulse is at most"
    PULSE_GTE = "pulse_gte", "CSM Pulse is at least"
    NO_PULSE = "no_pulse", "Has no CSM Pulse (or one older than 90 days)"


class ActionKind(models.TextChoices):
    CHANGE_STAGE = "change_stage", "Change the stage to"
    CHANGE_PROFILE = "change_profile", "Change the health profile to"
    ADD_TAG = "add_tag", "Add the tag"
    REMOVE_TAG = "remove_tag", "Remove the tag"
    CHANGE_OWNER = "change_owner", "Change the owner to"
    CREATE_TASK = "create_task", "Create a task for"


class Playbook(models.Model):
    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="playbooks")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    # New playbooks start disabled: an editor enables one after seeing who would enter it now.
    enabled = models.BooleanField(default=False)
    trigger = models.CharField(max_length=30, choices=Trigger.choices, default=Trigger.MANUAL)
    trigger_days = models.PositiveIntegerField(null=True, blank=True)
    trigger_score = models.PositiveSmallIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    enabled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="playbook_name_unique")]
        indexes = [models.Index(fields=["workspace", "enabled", "trigger"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_manual(self) -> bool:
        return self.trigger == Trigger.MANUAL

    @property
    def is_event_driven(self) -> bool:
        return self.trigger in EVENT_TRIGGER_FIELDS

    @property
    def is_time_based(self) -> bool:
        return self.trigger in TIME_TRIGGERS

    def trigger_text(self) -> str:
        if self.trigger == Trigger.STAGE_UNCHANGED:
            return f"Stage unchanged for {self.trigger_days} days"
        if self.trigger == Trigger.RENEWAL_IN:
            return f"Renewal date in {self.trigger_days} days or less"
        if self.trigger == Trigger.HEALTH_BELOW:
            return f"Health score below {self.trigger_score}"
        return Trigger(self.trigger).label


class _Target(models.Model):
    """What a condition or an action points at. References are SET_NULL so that deleting a stage, a tag,
    a profile or a user never deletes a condition silently (which would widen the playbook): a row whose
    target is gone matches nobody and its action is skipped, and the playbook page says so."""

    phase = models.ForeignKey(
        "customers.Phase", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    profile = models.ForeignKey(
        "customers.HealthProfile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tag = models.ForeignKey(
        "customers.Tag", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        abstract = True


class PlaybookCondition(_Target):
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="conditions")
    kind = models.CharField(max_length=20, choices=ConditionKind.choices)
    number = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        from .rules import condition_text

        return condition_text(self)


class PlaybookAction(_Target):
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(max_length=20, choices=ActionKind.choices)
    # Tasks: assigned to `user`, or to the customer's owner at run time.
    assign_to_owner = models.BooleanField(default=False)
    task_title = models.CharField(max_length=200, blank=True)
    due_in_days = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        from .rules import action_text

        return action_text(self)


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    PARTIAL = "partial", "Partly done"
    FAILED = "failed", "Failed"


class PlaybookRun(models.Model):
    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="+")
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="runs")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="playbook_runs")
    # The event that triggered the run; unique per playbook and customer (see the module docstring).
    trigger_key = models.CharField(max_length=120)
    trigger_detail = models.CharField(max_length=300, blank=True)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The playbook run whose change triggered this one: the chain that stops playbook loops.
    caused_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    # One entry per action: {"action": text, "outcome": "done"|"unchanged"|"skipped"|"failed", "detail": text}
    results = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["playbook", "customer", "trigger_key"], name="playbook_run_once")
        ]
        indexes = [
            models.Index(fields=["customer", "-started_at"]),
            models.Index(fields=["playbook", "-started_at"]),
        ]

    def __str__(self) -> str:
        return f"Run #{self.pk} of {self.playbook_id} on {self.customer_id}"


class Task(models.Model):
    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="tasks")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    title = models.CharField(max_length=200)
    due_on = models.DateField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Made by a playbook run, or by a user.
    created_by_run = models.ForeignKey(
        PlaybookRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept when the playbook is deleted, so that "from which playbook" still reads.
    playbook_name = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = [models.F("due_on").asc(nulls_last=True), "id"]
        indexes = [
            models.Index(
                fields=["assignee", "due_on"], condition=Q(done_at__isnull=True), name="task_open_by_user"
            ),
            models.Index(fields=["customer", "done_at"]),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_done(self) -> bool:
        return self.done_at is not None


class PlaybookEngineState(models.Model):
    """The one row (pk=1) the beat tasks claim with a conditional UPDATE, so that passes never overlap."""

    last_change_id = models.PositiveBigIntegerField(null=True, blank=True)
    events_running_since = models.DateTimeField(null=True, blank=True)
    events_finished_at = models.DateTimeField(null=True, blank=True)
    events_last_result = models.JSONField(default=dict, blank=True)
    daily_running_since = models.DateTimeField(null=True, blank=True)
    daily_finished_at = models.DateTimeField(null=True, blank=True)
    daily_last_result = models.JSONField(default=dict, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"Playbook engine (last change #{self.last_change_id})"
