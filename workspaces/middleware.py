from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .models import Membership

SESSION_KEY = "workspace_id"


class CurrentWorkspaceMiddleware:
    """Puts the signed-in user's current membership (and its workspace) on the request.

    The workspace id lives in the session; it is always checked against the user's memberships, so a
    forged or stale id falls back to one the user really belongs to."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.membership = None  # type: ignore[attr-defined]
        request.workspace = None  # type: ignore[attr-defined]
        if request.user.is_authenticated:
            memberships = Membership.objects.filter(user=request.user).select_related("workspace")
            wanted = request.session.get(SESSION_KEY)
            membership = (memberships.filter(workspace_id=wanted).first() if wanted else None) or (
                memberships.order_by("workspace__name").first()
            )
            if membership is not None:
                request.membership = membership  # type: ignore[attr-defined]
                request.workspace = membership.workspace  # type: ignore[attr-defined]
                if wanted != membership.workspace_id:
                    request.session[SESSION_KEY] = membership.workspace_id
        return self.get_response(request)
