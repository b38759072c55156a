from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q

if TYPE_CHECKING:
    from workspaces.models import Membership

CHURN_PHASE = "churn"
DEFAULT_PHASES = [("trial", "Trial"), ("onboarding", "Onboarding"), ("run", "Run"), (CHURN_PHASE, "Churn")]


class RoleTag(models.TextChoices):
    CHAMPION = "champion", "Champion"
    SPONSOR = "sponsor", "Sponsor"
    KEY_USER = "key_user", "Key user"
    END_USER = "end_user", "End user"


class Phase(models.Model):
    """A lifecycle phase (stage). CRM values match on `technical_name`; users see `label`."""

    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="phases")
    technical_name = models.SlugField(max_length=60)
    label = models.CharField(max_length=80)
    position = models.PositiveIntegerField(default=0)
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "technical_name"], name="phase_name_unique"),
            models.UniqueConstraint(
                fields=["workspace"], condition=Q(is_default=True), name="one_default_phase_per_workspace"
            ),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def is_churn(self) -> bool:
        return self.technical_name == CHURN_PHASE


class HealthProfile(models.Model):
    """A customer segment whose health-score weights are its own (weights come with the health score)."""

    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="profiles")
    name = models.CharField(max_length=80)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="profile_name_unique")]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=60)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="tag_name_unique")]

    def __str__(self) -> str:
        return self.name


class CustomField(models.Model):
    class Target(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        CONTACT = "contact", "Contact"

    class Type(models.TextChoices):
        TEXT = "text", "Text"
        NUMBER = "number", "Number"
        DATE = "date", "Date"
        BOOLEAN = "boolean", "Yes/No"
        CHOICE = "choice", "Choice"

    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="custom_fields"
    )
    target = models.CharField(max_length=10, choices=Target.choices)
    key = models.SlugField(max_length=60, help_text="Technical name, used by mappings and CSV columns.")
    label = models.CharField(max_length=80)
    type = models.CharField(max_length=10, choices=Type.choices, default=Type.TEXT)
    choices = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["target", "label"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "target", "key"], name="custom_field_key_unique")
        ]

    def __str__(self) -> str:
        return self.label


class CustomerQuerySet(models.QuerySet["Customer"]):
    def visible_to(self, membership: Membership | None) -> CustomerQuerySet:
        """The one filter every customer listing starts from (see workspaces.access)."""
        if membership is None:
            return self.none()
        return self.filter(workspace_id=membership.workspace_id)

    def not_churned(self) -> CustomerQuerySet:
        return self.exclude(phase__technical_name=CHURN_PHASE)


class Customer(models.Model):
    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="customers")
    name = models.CharField(max_length=200)
    domain = models.CharField(max_length=253, blank=True)
    ref_id = models.CharField("Customer ID", max_length=120, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_customers",
    )
    team_members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="team_customers")
    phase = models.ForeignKey(
        Phase, null=True, blank=True, on_delete=models.PROTECT, related_name="customers"
    )
    health_profile = models.ForeignKey(
        HealthProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="customers"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="customers")
    custom_values = models.JSONField(default=dict, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    csm_pulse = models.PositiveSmallIntegerField(null=True, blank=True)
    csm_pulse_note = models.TextField(blank=True)
    csm_pulse_at = models.DateTimeField(null=True, blank=True)
    health_score = models.PositiveSmallIntegerField(null=True, blank=True)
    # Kept up to date by the interaction and agreement services (and a daily refresh, since dates move),
    # so that the list can sort 50,000 customers without a subquery per row.
    last_contact_at = models.DateTimeField(null=True, blank=True)
    active_mrr = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    next_renewal_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CustomerQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "ref_id"], condition=~Q(ref_id=""), name="customer_ref_id_unique"
            ),
            models.CheckConstraint(
                condition=Q(csm_pulse__isnull=True) | Q(csm_pulse__gte=1, csm_pulse__lte=5),
                name="pulse_1_to_5",
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "name"]),
            models.Index(fields=["workspace", "domain"]),
            models.Index(fields=["workspace", "active_mrr"]),
            models.Index(fields=["workspace", "next_renewal_on"]),
            models.Index(fields=["workspace", "last_contact_at"]),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_churned(self) -> bool:
        return self.phase is not None and self.phase.is_churn

    @property
    def is_at_risk(self) -> bool:
        return self.health_score is not None and self.health_score <= 3


class CustomerSource(models.Model):
    """Where a customer also lives (a CRM, billing...), with its id there and the last sync time."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="sources")
    source = models.CharField(max_length=30)
    external_id = models.CharField(max_length=120)
    last_synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["source"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "source"], name="one_source_row_per_customer")
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.external_id}"


class Contact(models.Model):
    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="contacts")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    secondary_emails = models.JSONField(default=list, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    title = models.CharField(max_length=120, blank=True)
    ref_id = models.CharField("Contact ID", max_length=120, blank=True)
    role_tags = models.JSONField(default=list, blank=True)
    custom_values = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "email"], condition=~Q(email=""), name="contact_email_unique"
            )
        ]
        indexes = [models.Index(fields=["customer", "last_name"])]

    def __str__(self) -> str:
        return self.full_name or self.email or f"Contact {self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def role_tag_labels(self) -> list[str]:
        return [RoleTag(tag).label for tag in self.role_tags if tag in RoleTag.values]


class ChangeLog(models.Model):
    """Who or what changed which field of a customer (or its contacts/agreements), from what to what."""

    class ActorKind(models.TextChoices):
        USER = "user", "User"
        PLAYBOOK_RUN = "playbook_run", "Playbook run"
        SYNC_RUN = "sync_run", "Sync run"
        IMPORT = "import", "Import"
        SYSTEM = "system", "System"

    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="changes")
    customer = models.ForeignKey(Customer, null=True, on_delete=models.CASCADE, related_name="changes")
    object_type = models.CharField(max_length=30, default="customer")
    object_id = models.PositiveBigIntegerField(null=True)
    field = models.CharField(max_length=80)
    old_value = models.TextField(blank=True)
    new_value = models.TextField(blank=True)
    actor_kind = models.CharField(max_length=20, choices=ActorKind.choices)
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # e.g. "Sync run #12 (HubSpot)" or "Playbook 'Onboarding' run #3": readable after the run is gone.
    actor_label = models.CharField(max_length=200, blank=True)
    actor_ref = models.CharField(max_length=60, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.field}: {self.old_value!r} -> {self.new_value!r}"
