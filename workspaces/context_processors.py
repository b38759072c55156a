from typing import Any

from django.conf import settings
from django.http import HttpRequest

from .models import Membership


def current_workspace(request: HttpRequest) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    if membership is None:
        return {
            "membership": None,
            "workspace": None,
            "other_memberships": [],
            "APP_VERSION": settings.APP_VERSION,
        }
    others = (
        Membership.objects.filter(user_id=membership.user_id)
        .exclude(pk=membership.pk)
        .select_related("workspace")
        .order_by("workspace__name")
    )
    return {
        "membership": membership,
        "workspace": membership.workspace,
        "other_memberships": others,
        "APP_VERSION": settings.APP_VERSION,
    }
