from typing import Any

from django.http import HttpRequest

from .notifications import open_notifications


def admin_notifications(request: HttpRequest) -> dict[str, Any]:
    """The banner of what the Admins must act on (reconnect, paused run, refused push)."""
    membership = getattr(request, "membership", None)
    if membership is None or not membership.is_admin:
        return {"admin_notifications": []}
    return {"admin_notifications": open_notifications(workspace_id=membership.workspace_id)}
