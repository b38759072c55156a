"""The one place where Skalin decides who sees and edits what.

Every list, detail, form, HTMX fragment and export starts from `visible()`; a row of another workspace
is never found (404), a visible row that the user may not change is refused (403)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect

from .models import Membership, Role

M = TypeVar("M", bound=Model)
View = Callable[..., HttpResponse]


def visible(membership: Membership | None, rows: type[M] | QuerySet[M]) -> QuerySet[M]:
    """Rows of a workspace-owned model that this membership may read."""
    queryset = rows if isinstance(rows, QuerySet) else rows._default_manager.all()
    if membership is None:
        return queryset.none()
    return queryset.filter(workspace_id=membership.workspace_id)


def get_visible_or_404(membership: Membership | None, rows: type[M] | QuerySet[M], **lookup: Any) -> M:
    row = visible(membership, rows).filter(**lookup).first()
    if row is None:
        raise Http404("Not found in this workspace.")
    return row


def owner_id_of(row: Any) -> int | None:
    """The CSM who owns a row: the customer's owner, for a customer or anything hanging off one."""
    customer = row if hasattr(row, "owner_id") else getattr(row, "customer", None)
    return getattr(customer, "owner_id", None)


def can_edit(membership: Membership | None, row: Any) -> bool:
    if membership is None or getattr(row, "workspace_id", None) != membership.workspace_id:
        return False
    if membership.role in (Role.ADMIN, Role.MANAGER):
        return True
    return owner_id_of(row) == membership.user_id


def get_editable_or_404(membership: Membership | None, rows: type[M] | QuerySet[M], **lookup: Any) -> M:
    row = get_visible_or_404(membership, rows, **lookup)
    if not can_edit(membership, row):
        raise PermissionDenied("Only the customer's owner, a Manager or an Admin can change this.")
    return row


def can_manage_settings(membership: Membership | None) -> bool:
    return membership is not None and membership.role == Role.ADMIN


def can_read_settings(membership: Membership | None) -> bool:
    return membership is not None and membership.role in (Role.ADMIN, Role.MANAGER)


def workspace_view(view: View) -> View:
    """Signed in and member of a workspace; else to login or to the 'no workspace' page."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(request, "membership", None) is None:
            return redirect("workspaces:no_workspace")
        return view(request, *args, **kwargs)

    return wrapper


def admin_view(refusal: str) -> Callable[[View], View]:
    """Settings pages that only an Admin may even read (a migration, a bulk delete): CSMs do not see they
    exist (404), Managers are refused with `refusal` (403), whatever the method."""

    def decorate(view: View) -> View:
        @workspace_view
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            membership = request.membership  # type: ignore[attr-defined]
            if not can_read_settings(membership):
                raise Http404("Not found in this workspace.")
            if not can_manage_settings(membership):
                raise PermissionDenied(refusal)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def settings_view(view: View) -> View:
    """Settings pages: Admins change them, Managers read them, CSMs do not see they exist (404).
    Writes (anything but GET/HEAD) are for Admins only."""

    @workspace_view
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        membership = request.membership  # type: ignore[attr-defined]
        if not can_read_settings(membership):
            raise Http404("Not found in this workspace.")
        if request.method not in ("GET", "HEAD") and not can_manage_settings(membership):
            raise PermissionDenied("Only an Admin can change the workspace settings.")
        return view(request, *args, **kwargs)

    return wrapper
