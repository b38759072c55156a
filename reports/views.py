"""The reports page (filled in below)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from workspaces.access import workspace_view


@workspace_view
def report_index(request: HttpRequest) -> HttpResponse:
    return render(request, "reports/index.html", {"nav": "reports"})
