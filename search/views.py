"""The header search: a real GET form with a results page, and the same results as an HTMX panel."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from workspaces.access import can_manage_settings, workspace_view
from workspaces.models import Membership

from . import selectors, services

PAGE_PER_KIND = 50
PANEL_PER_KIND = 5


def _membership(request: HttpRequest) -> Membership:
    return request.membership  # type: ignore[attr-defined]


@workspace_view
def search_page(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    query = request.GET.get("q", "").strip()[:200]
    panel = bool(getattr(request, "htmx", False)) and request.GET.get("panel") == "1"
    results = selectors.search(
        membership=membership, query=query, per_kind=PANEL_PER_KIND if panel else PAGE_PER_KIND
    )
    context = {
        "results": results,
        "query": query,
        "index_state": services.search_index_state(),
        "pending_reindex": services.search_pending_request(workspace_id=membership.workspace_id),
        "can_reindex": can_manage_settings(membership),
        "nav": "search",
    }
    if panel:
        return render(request, "search/results.html#panel", context)
    return render(request, "search/results.html", context)


@require_POST
@workspace_view
def reindex_now(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    if not can_manage_settings(membership):
        raise PermissionDenied("Only an Admin can ask for a reindex.")
    if services.search_pending_request(workspace_id=membership.workspace_id):
        messages.info(request, "A reindex of this workspace is already queued.")
    else:
        services.search_reindex_request(workspace_id=membership.workspace_id, user_id=request.user.pk)
        messages.success(
            request,
            "Reindex queued: every customer, contact and agreement of this workspace is indexed again.",
        )
    query = request.POST.get("q", "")[:200]
    url = reverse("search:page")
    return redirect(f"{url}?q={query}" if query else url)
