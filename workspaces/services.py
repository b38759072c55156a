from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.text import slugify

from .models import AmountDisplay, Membership, Role, Workspace

User = get_user_model()


@transaction.atomic
def workspace_create(
    *, name: str, currency: str = "EUR", email_domains: Iterable[str] = (), slug: str = ""
) -> Workspace:
    from customers.services import phases_create_defaults

    base = slugify(slug or name)[:70] or "workspace"
    candidate, n = base, 1
    while Workspace.objects.filter(slug=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    workspace = Workspace.objects.create(
        name=name.strip(),
        slug=candidate,
        currency=currency.upper(),
        email_domains=clean_domains(email_domains),
    )
    phases_create_defaults(workspace=workspace)
    return workspace


def clean_domains(domains: Iterable[str]) -> list[str]:
    cleaned: list[str] = []
    for raw in domains:
        domain = raw.strip().lower().removeprefix("@")
        if not domain:
            continue
        if "." not in domain or " " in domain or "@" in domain:
            raise ValidationError({"email_domains": f"'{raw.strip()}' is not a domain like example.com."})
        if domain not in cleaned:
            cleaned.append(domain)
    return cleaned


def workspace_default_domains(*, workspace: Workspace) -> list[str]:
    """The workspace's own email domains: as set, else those of its members."""
    if workspace.email_domains:
        return list(workspace.email_domains)
    emails = Membership.objects.filter(workspace=workspace).values_list("user__email", flat=True)
    return sorted({email.split("@", 1)[1].lower() for email in emails if email and "@" in email})


def workspace_update_general(
    *, workspace: Workspace, email_domains: Iterable[str], currency: str, amount_display: str
) -> Workspace:
    currency = currency.strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise ValidationError({"currency": "Use a three-letter ISO currency code such as EUR or USD."})
    if amount_display not in AmountDisplay.values:
        raise ValidationError({"amount_display": "Choose MRR or ARR."})
    workspace.email_domains = clean_domains(email_domains)
    workspace.currency = currency
    workspace.amount_display = amount_display
    workspace.save(update_fields=["email_domains", "currency", "amount_display"])
    return workspace


def user_get_or_create(
    *, email: str, first_name: str = "", last_name: str = "", password: str | None = None
) -> Any:
    email = email.strip().lower()
    validate_email(email)
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(
            username=email, email=email, first_name=first_name, last_name=last_name
        )
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    return user


def invite_link_path(user: Any) -> str:
    """Where an invited user sets a password; expires after PASSWORD_RESET_TIMEOUT."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": token})


@transaction.atomic
def membership_invite(
    *, workspace: Workspace, email: str, role: str, first_name: str = "", last_name: str = ""
) -> tuple[Membership, str | None]:
    """Add someone to the workspace. Returns the membership and, for a user with no password yet,
    the path of the link that lets them choose one."""
    if role not in Role.values:
        raise ValidationError({"role": "Choose Admin, Manager or CSM."})
    try:
        user = user_get_or_create(email=email, first_name=first_name, last_name=last_name)
    except ValidationError as bad:
        raise ValidationError({"email": f"'{email}' is not a valid email address."}) from bad
    if Membership.objects.filter(workspace=workspace, user=user).exists():
        raise ValidationError({"email": f"{user.email} is already a member of {workspace}."})
    membership = Membership.objects.create(workspace=workspace, user=user, role=role)
    link = None if user.has_usable_password() else invite_link_path(user)
    return membership, link


def _check_keeps_an_admin(membership: Membership) -> None:
    if (
        membership.role == Role.ADMIN
        and not Membership.objects.filter(workspace_id=membership.workspace_id, role=Role.ADMIN)
        .exclude(pk=membership.pk)
        .exists()
    ):
        raise ValidationError("A workspace needs at least one Admin; make someone else Admin first.")


def membership_change_role(*, membership: Membership, role: str) -> Membership:
    if role not in Role.values:
        raise ValidationError({"role": "Choose Admin, Manager or CSM."})
    if role != Role.ADMIN:
        _check_keeps_an_admin(membership)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    """Remove someone from a workspace; their customers there keep their data but lose their owner."""
    from customers.models import Customer

    _check_keeps_an_admin(membership)
    Customer.objects.filter(workspace_id=membership.workspace_id, owner_id=membership.user_id).update(
        owner=None
    )
    for customer in Customer.objects.filter(
        workspace_id=membership.workspace_id, team_members=membership.user_id
    ):
        customer.team_members.remove(membership.user_id)
    membership.delete()
