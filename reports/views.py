"""The reports page: figures of the latest daily snapshot, filtered, with SVG charts and CSV exports."""

from __future__ import annotations

import csv
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from workspaces.access import workspace_view
from workspaces.models import Membership

from . import charts, services
from .forms import EXPORTS, ReportFilterForm


def _membership(request: HttpRequest) -> Membership:
    return request.membership  # type: ignore[attr-defined]


@workspace_view
def report_index(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    form = ReportFilterForm(request.GET, membership=membership)
    snapshot = services.report_latest_snapshot(workspace_id=membership.workspace_id)
    context: dict[str, Any] = {"nav": "reports", "form": form, "snapshot": snapshot}
    if snapshot is None:
        return render(request, "reports/index.html", context)
    report = services.report_build(snapshot=snapshot, filters=form.filters())
    export = request.GET.get("export")
    if export:
        if export not in EXPORTS:
            raise Http404(f"Unknown export {export!r}; one of: {', '.join(EXPORTS)}.")
        return _csv(report, export)
    months = report.months()
    context.update(
        report=report,
        months=months,
        mrr_chart=charts.mrr_bars(months, snapshot.currency),
        movement_chart=charts.movement_bars(months, snapshot.currency),
        query=request.GET.urlencode(),
    )
    return render(request, "reports/index.html", context)


@require_POST
@workspace_view
def report_refresh(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    if not membership.is_manager_or_admin:
        raise PermissionDenied("Only a Manager or an Admin can recompute the reports.")
    services.report_snapshot_compute(workspace_id=membership.workspace_id)
    messages.success(request, "Reports recomputed from the current data.")
    return redirect("reports:index")


def _text(value: str) -> str:
    """A name a spreadsheet would run as a formula is written as text."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _money(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


def _csv(report: services.Report, export: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="report-{report.snapshot.day}-{export}.csv"'
    writer = csv.writer(response)
    currency = report.snapshot.currency
    if export == "months":
        writer.writerow(
            [
                "date",
                f"mrr_{currency}",
                f"arr_{currency}",
                "paying_customers",
                "new",
                "expansion",
                "contraction",
                "churn",
                "reactivation",
                "change",
            ]
        )
        for line in report.months():
            movement = line["movement"]
            moves = (
                [
                    _money(getattr(movement, kind))
                    for kind in ("new", "expansion", "contraction", "churn", "reactivation")
                ]
                if movement
                else [""] * 5
            )
            writer.writerow(
                [
                    line["date"].isoformat(),
                    _money(line["mrr"]),
                    _money(line["arr"]),
                    line["paying"],
                    *moves,
                    _money(line["change"]) if line["change"] is not None else "",
                ]
            )
    elif export == "quarters":
        writer.writerow(
            [
                "quarter",
                "start",
                "end",
                "cohort_customers",
                f"start_mrr_{currency}",
                f"end_mrr_of_cohort_{currency}",
                f"retained_{currency}",
                "nrr_percent",
                "grr_percent",
            ]
        )
        for quarter in report.quarters:
            writer.writerow(
                [
                    quarter.label,
                    quarter.start,
                    quarter.end,
                    quarter.cohort,
                    _money(quarter.start_mrr),
                    _money(quarter.end_mrr_of_cohort),
                    _money(quarter.retained),
                    quarter.nrr or "",
                    quarter.grr or "",
                ]
            )
    elif export == "renewals":
        writer.writerow(["within_days", "agreements", "customers", f"mrr_{currency}"])
        for window in report.renewals:
            writer.writerow([window.days, window.agreements, window.customers, _money(window.mrr)])
    elif export == "at_risk":
        writer.writerow(["customer_id", "name", "health_score", f"mrr_{currency}"])
        for row in report.at_risk:
            writer.writerow([row.customer_id, _text(row.name), row.health_score, _money(row.mrr_cents[-1])])
    elif export == "dropping":
        writer.writerow(
            ["customer_id", "name", "health_week", "score_week_before", "score", f"mrr_{currency}"]
        )
        for row in report.dropping:
            writer.writerow(
                [
                    row.customer_id,
                    _text(row.name),
                    report.snapshot.health_week,
                    row.dropped_from,
                    row.dropped_to,
                    _money(row.mrr_cents[-1]),
                ]
            )
    else:
        writer.writerow(["csm", "owned_customers", "pulse_in_last_90_days", "share_percent"])
        for pulse in report.pulse:
            writer.writerow(
                [_text(pulse.owner), pulse.owned, pulse.fresh, pulse.share if pulse.share is not None else ""]
            )
    return response
