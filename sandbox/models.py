"""The sandbox CRMs' own data: generic enough for every fake vendor, shaped by each vendor module."""

from typing import Any

from django.db import models

# The account a row written without one belongs to: the default account of each sandbox CRM (HubSpot's demo
# portal; the one account Pipedrive, Zoho and Sellsy keep). Each vendor module names its own; a test checks
# they agree. Salesforce and Zoho, which keep several orgs, name the org on every record they write.
DEFAULT_ACCOUNTS = {
    "hubspot": "12345678",
    "salesforce": "00D000000000001",
    "pipedrive": "7301024",
    "zoho": "20071234567",
    "sellsy": "41235",
}


class AccountIdField(models.CharField):
    """The CRM account (HubSpot portal, Salesforce org...) a row belongs to; left blank, the CRM's default
    account, filled in when the row is written (save and bulk_create both call pre_save)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 60)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        if not getattr(model_instance, self.attname):
            crm = getattr(model_instance, "crm", "")
            setattr(model_instance, self.attname, DEFAULT_ACCOUNTS.get(crm, ""))
        return super().pre_save(model_instance, add)


class SandboxRecord(models.Model):
    crm = models.CharField(max_length=20)
    account_id = AccountIdField()
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
                fields=["crm", "account_id", "object_type", "external_id"], name="sandbox_record_unique"
            )
        ]
        indexes = [
            models.Index(fields=["crm", "account_id", "object_type", "updated_at"], name="sandbox_record_modified")
        ]

    def __str__(self) -> str:
        return f"{self.crm} {self.account_id} {self.object_type} {self.external_id}"


class SandboxAssociation(models.Model):
    crm = models.CharField(max_length=20)
    account_id = AccountIdField()
    from_type = models.CharField(max_length=40)
    from_id = models.CharField(max_length=40)
    to_type = models.CharField(max_length=40)
    to_id = models.CharField(max_length=40)
    type_id = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["crm", "account_id", "from_type", "from_id", "to_type", "to_id", "type_id"],
                name="sandbox_assoc_unique",
            )
        ]
        indexes = [
            models.Index(fields=["crm", "account_id", "from_type", "from_id", "to_type"], name="sandbox_assoc_from")
        ]

    def __str__(self) -> str:
        return f"{self.from_type}:{self.from_id} -> {self.to_type}:{self.to_id} ({self.type_id})"


class SandboxProperty(models.Model):
    """A field definition (HubSpot property, Salesforce describe field), including ones made through the API."""

    crm = models.CharField(max_length=20)
    account_id = AccountIdField()
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
            models.UniqueConstraint(
                fields=["crm", "account_id", "object_type", "name"], name="sandbox_property_unique"
            )
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
    # What the account chooser of a consent page shows next to the id (HubSpot's portal name).
    name = models.CharField(max_length=100, blank=True)
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
        return f"{self.crm} {self.account_id}{f' ({self.name})' if self.name else ''}"


class SandboxCall(models.Model):
    """Calls received, for rate limiting and for tests and benchmarks that count them."""

    crm = models.CharField(max_length=20)
    account_id = models.CharField(max_length=60)
    at = models.DateTimeField(db_index=True)
    path = models.CharField(max_length=300)
    status = models.PositiveSmallIntegerField(default=200)

    def __str__(self) -> str:
        return f"{self.crm} {self.path} {self.status}"
