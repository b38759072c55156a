"""The sandbox CRMs' own data: generic enough for every fake vendor, shaped by each vendor module."""

from django.db import models


class SandboxRecord(models.Model):
    crm = models.CharField(max_length=20)
    object_type = models.CharField(max_length=40)  # vendor's own name: "companies", "Account"...
    external_id = models.CharField(max_length=40)
    properties = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(db_index=True)
    archived = models.BooleanField(default=False)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["crm", "object_type", "external_id"], name="sandbox_record_unique"
            )
        ]
        indexes = [models.Index(fields=["crm", "object_type", "updated_at"])]

    def __str__(self) -> str:
        return f"{self.crm} {self.object_type} {self.external_id}"


class SandboxAssociation(models.Model):
    crm = models.CharField(max_length=20)
    from_type = models.CharField(max_length=40)
    from_id = models.CharField(max_length=40)
    to_type = models.CharField(max_length=40)
    to_id = models.CharField(max_length=40)
    type_id = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["crm", "from_type", "from_id", "to_type", "to_id", "type_id"],
                name="sandbox_assoc_unique",
            )
        ]
        indexes = [models.Index(fields=["crm", "from_type", "from_id", "to_type"])]

    def __str__(self) -> str:
        return f"{self.from_type}:{self.from_id} -> {self.to_type}:{self.to_id} ({self.type_id})"


class SandboxProperty(models.Model):
    """A field definition (HubSpot property, Salesforce describe field), including ones made through the API."""

    crm = models.CharField(max_length=20)
    object_type = models.CharField(max_length=40)
    name = models.CharField(max_length=120)
    label = models.CharField(max_length=200)
    type = models.CharField(max_length=40, default="string")
    field_type = models.CharField(max_length=40, blank=True)
    options = models.JSONField(default=list, blank=True)
    created_by_api = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["crm", "object_type", "name"], name="sandbox_property_unique")
        ]

    def __str__(self) -> str:
        return f"{self.crm} {self.object_type}.{self.name}"


class SandboxToken(models.Model):
    class Kind(models.TextChoices):
        CODE = "code"
        ACCESS = "access"
        REFRESH = "refresh"

    crm = models.CharField(max_length=20)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    value = models.CharField(max_length=200, unique=True)
    account_id = models.CharField(max_length=60)
    user_email = models.CharField(max_length=254)
    redirect_uri = models.CharField(max_length=500, blank=True)
    code_challenge = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.crm} {self.kind} for {self.user_email}"


class SandboxAccount(models.Model):
    """One fake CRM account (portal / org) with its settings: the rate limit a test or the demo wants."""

    crm = models.CharField(max_length=20)
    account_id = models.CharField(max_length=60)
    user_email = models.CharField(max_length=254, default="admin@sandbox.test")
    # At most `rate_limit` calls per `rate_window_seconds`; 0 means unlimited.
    rate_limit = models.PositiveIntegerField(default=0)
    rate_window_seconds = models.PositiveIntegerField(default=10)
    # Salesforce-style daily allocation; 0 means unlimited.
    daily_limit = models.PositiveIntegerField(default=0)
    calls_today = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["crm", "account_id"], name="sandbox_account_unique")]

    def __str__(self) -> str:
        return f"{self.crm} {self.account_id}"


class SandboxCall(models.Model):
    """Calls received, for rate limiting and for tests and benchmarks that count them."""

    crm = models.CharField(max_length=20)
    account_id = models.CharField(max_length=60)
    at = models.DateTimeField(db_index=True)
    path = models.CharField(max_length=300)
    status = models.PositiveSmallIntegerField(default=200)

    def __str__(self) -> str:
        return f"{self.crm} {self.path} {self.status}"
