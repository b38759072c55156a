"""Connect me: the authorize redirect and the per-provider callback."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from workspaces.access import get_visible_or_404, settings_view

from .. import services
from ..base import Connector, ConnectorError
from ..models import Connection
from ..oauth import OAuthFlowError, oauth_finish, oauth_start
from ..registry import CONNECTORS, connector_class


def _connector(crm: str) -> type[Connector]:
    if crm not in CONNECTORS:
        raise Http404("No such CRM.")
    return connector_class(crm)


@settings_view
@require_POST
def connect(request: HttpRequest, crm: str) -> HttpResponse:
    """Start OAuth in the full window; `connection` in the form reconnects an existing connection."""
    cls = _connector(crm)
    connection_id = None
    if request.POST.get("connection"):
        membership = request.membership  # type: ignore[attr-defined]
        wanted = request.POST["connection"]
        if not wanted.isdigit():
            raise Http404("No such connection.")
        connection = get_visible_or_404(membership, Connection, pk=int(wanted), crm=crm)
        connection_id = connection.pk
    try:
        url = oauth_start(
            session=request.session,
            connector=cls,
            redirect_uri=request.build_absolute_uri(reverse("integrations:oauth_callback", args=[crm])),
            workspace_id=request.workspace.pk,  # type: ignore[attr-defined]
            connection_id=connection_id,
        )
    except OAuthFlowError as error:
        messages.error(request, str(error))
        return redirect("integrations:list")
    return redirect(url)


@settings_view
@require_GET
def oauth_callback(request: HttpRequest, crm: str) -> HttpResponse:
    cls = _connector(crm)
    try:
        result = oauth_finish(session=request.session, connector=cls, params=request.GET.dict())
        if result.workspace_id != request.workspace.pk:  # type: ignore[attr-defined]
            raise OAuthFlowError(
                "This sign-in was started in another workspace. Switch to it and start again."
            )
        connection = services.connection_connect(
            workspace=request.workspace,  # type: ignore[attr-defined]
            crm=crm,
            result=result,
            user=request.user,
        )
    except (OAuthFlowError, ValidationError, ConnectorError) as error:
        message = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
        return render(
            request, "integrations/oauth_failed.html", {"crm": cls.label, "message": message}, status=400
        )
    messages.success(
        request, f"{cls.label} connected as {connection.remote_user_email or connection.remote_account_id}."
    )
    if result.connection_id:  # a reconnect: back where it started
        return redirect("integrations:connection", pk=connection.pk)
    return redirect("integrations:setup", pk=connection.pk)
