from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class InteractionKind(models.TextChoices):
    EMAIL = "email", "Email"
    MEETING = "meeting", "Meeting"
    CALL = "call", "Call"
    NOTE = "note", "Note"


class Direction(models.TextChoices):
    INCOMING = "incoming", "Incoming"
    OUTGOING = "outgoing", "Outgoing"


class Interaction(models.Model):
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="interactions"
    )
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="interactions")
    contacts = models.ManyToManyField("customers.Contact", blank=True, related_name="interactions")
    kind = models.CharField(max_length=10, choices=InteractionKind.choices)
    direction = models.CharField(max_length=10, choices=Direction.choices, blank=True)
    # An outgoing email the customer answered counts as contact; set when the reply is seen.
    customer_replied = models.BooleanField(default=False)
    # Meetings count only if the customer attended; a cancelled or no-show meeting does not.
    attended = models.BooleanField(default=True)
    occurred_at = models.DateTimeField()
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    author_name = models.CharField(max_length=200, blank=True)
    participants = models.JSONField(default=list, blank=True)
    source = models.CharField(max_length=30, default="manual")
    external_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "source", "external_id"],
                condition=~Q(external_id=""),
                name="interaction_external_id_unique",
            )
        ]
        indexes = [models.Index(fields=["customer", "-occurred_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.subject}".strip()
