"""Reads of agreements for the pages; access checks stay in workspaces.access."""

from __future__ import annotations

from workspaces.access import get_editable_or_404
from workspaces.models import Membership

from .models import Agreement


def agreement_editable_or_404(*, membership: Membership | None, pk: int) -> Agreement:
    """An agreement of this workspace the user may change: 404 elsewhere, 403 on a customer they do not own."""
    return get_editable_or_404(
        membership, Agreement.objects.select_related("customer", "customer__workspace"), pk=pk
    )
