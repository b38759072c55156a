"""Report figures against a small workspace computed by hand (see the table in each test)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from agreements.models import AgreementStatus
from customers.models import Customer, HealthProfile, Tag
from healthscore.models import HealthScore
from healthscore.selectors import dropping_scores
from reports.models import ReportSnapshot
from reports.services import Filters, report_build, report_snapshot_compute
from tests.factories import AgreementFactory, CustomerFactory, phase

NOW = dt.datetime(2025, 5, 15, 9, 0, tzinfo=dt.UTC)


def mrr(customer, amount, start, end, **extra):
    return AgreementFactory(
        customer=customer,
        amount=Decimal(amount),
        amount_period="mrr",
        start_date=start,
        end_date=end,
        **extra,
    )


@pytest.fixture
def book(workspace, csm_membership, other_csm_membership, other_workspace):
    """Month ends (index): 0 = 29 Feb 2024 ... 4 = 30 Jun ... 7 = 30 Sep ... 10 = 31 Dec ... 13 = 31 Mar 2025,
    14 = 30 Apr 2025, 15 = today (15 May 2025).

    A: 100 all along, +50 from 1 Feb 2025.      B (churned stage): 200 from 15 Jun 2024 to 15 Mar 2025.
    C: 300 until 1 Sep 2024, 150 from 1 Apr 2025. F: 80 from 1 Jun 2024 to 1 Jun 2025 (renews in 17 days).
    D: only a cancelled and a paused agreement.  Another workspace: 5,000 that never counts."""
    csm, other = csm_membership.user, other_csm_membership.user
    a = CustomerFactory(
        workspace=workspace, name="A", owner=csm, health_score=4, csm_pulse_at=NOW - dt.timedelta(days=10)
    )
    b = CustomerFactory(workspace=workspace, name="B", phase=phase(workspace, "churn"))
    c = CustomerFactory(workspace=workspace, name="C", owner=other, health_score=3)
    d = CustomerFactory(workspace=workspace, name="D")
    f = CustomerFactory(
        workspace=workspace, name="F", owner=csm, health_score=2, csm_pulse_at=NOW - dt.timedelta(days=100)
    )
    mrr(a, "100", dt.date(2024, 1, 1), dt.date(2026, 1, 1))
    mrr(a, "50", dt.date(2025, 2, 1), dt.date(2026, 2, 1))
    mrr(b, "200", dt.date(2024, 6, 15), dt.date(2025, 3, 15), status=AgreementStatus.FINISHED)
    mrr(c, "300", dt.date(2024, 1, 1), dt.date(2024, 9, 1), status=AgreementStatus.FINISHED)
    mrr(c, "150", dt.date(2025, 4, 1), dt.date(2026, 4, 1))
    mrr(d, "999", dt.date(2024, 1, 1), dt.date(2026, 1, 1), status=AgreementStatus.CANCELLED)
    mrr(d, "777", dt.date(2024, 1, 1), dt.date(2026, 1, 1), status=AgreementStatus.PAUSED)
    mrr(f, "80", dt.date(2024, 6, 1), dt.date(2025, 6, 1))
    mrr(
        CustomerFactory(workspace=other_workspace, name="Z"), "5000", dt.date(2024, 1, 1), dt.date(2026, 1, 1)
    )
    tag = Tag.objects.create(workspace=workspace, name="Key account")
    a.tags.add(tag)
    return {"a": a, "f": f, "tag": tag, "csm": csm, "other": other}


def compute(workspace, filters=None):
    snapshot = report_snapshot_compute(workspace_id=workspace.pk, now=NOW)
    return report_build(snapshot=snapshot, filters=filters or Filters())


def test_mrr_month_by_month(book, workspace):
    report = compute(workspace)
    assert [total // 100 for total in report.series.mrr] == [
        400,
        400,
        400,
        400,
        680,
        680,
        680,
        380,
        380,
        380,
        380,
        380,
        430,
        230,
        380,
        380,
    ]
    assert report.mrr_now == 38000 and report.arr_now == 456000
    assert report.paying_now == 3  # A, C, F
    assert report.customers == 4  # all but the churned B


def test_movements_per_month(book, workspace):
    moves = compute(workspace).series.movements
    # movements[i - 1] goes from point i - 1 to point i.
    assert (moves[3].new, moves[3].total) == (28000, 28000)  # June 2024: B and F are new
    assert (moves[6].churn, moves[6].total) == (-30000, -30000)  # September 2024: C leaves
    assert (moves[11].expansion, moves[11].total) == (5000, 5000)  # February 2025: A's add-on
    assert (moves[12].churn, moves[12].total) == (-20000, -20000)  # March 2025: B ends
    assert (moves[13].reactivation, moves[13].new) == (15000, 0)  # April 2025: C comes back
    quiet = [i for i in range(15) if i not in (3, 6, 11, 12, 13)]
    assert all(moves[i].total == 0 for i in quiet)


def test_nrr_and_grr_per_quarter(book, workspace):
    quarters = {q.label: q for q in compute(workspace).quarters}
    assert list(quarters) == ["Q2 2024", "Q3 2024", "Q4 2024", "Q1 2025"]
    assert (quarters["Q2 2024"].nrr, quarters["Q2 2024"].grr) == (Decimal("100.0"), Decimal("100.0"))
    # Q3: cohort A 100 + B 200 + C 300 + F 80 = 680 -> 100 + 200 + 0 + 80 = 380.
    assert (quarters["Q3 2024"].nrr, quarters["Q3 2024"].grr) == (Decimal("55.9"), Decimal("55.9"))
    # Q1 2025: cohort A 100 + B 200 + F 80 = 380 -> A 150 + B 0 + F 80 = 230; retained 100 + 0 + 80 = 180.
    assert (quarters["Q1 2025"].nrr, quarters["Q1 2025"].grr) == (Decimal("60.5"), Decimal("47.4"))


def test_renewals_risk_and_pulse(book, workspace):
    report = compute(workspace)
    assert [(w.days, w.agreements, w.mrr) for w in report.renewals] == [
        (30, 1, 8000),
        (60, 1, 8000),
        (90, 1, 8000),
    ]
    assert [row.name for row in report.at_risk] == ["F", "C"]
    pulse = {line.owner_id: (line.owned, line.fresh, line.share) for line in report.pulse}
    assert pulse[book["csm"].pk] == (2, 1, Decimal("50.0"))
    assert pulse[book["other"].pk] == (1, 0, Decimal("0.0"))


def test_filters_by_owner_and_tag(book, workspace):
    assert compute(workspace, Filters(owner=str(book["csm"].pk))).mrr_now == 15000 + 8000
    assert compute(workspace, Filters(tag_id=book["tag"].pk)).mrr_now == 15000
    assert compute(workspace, Filters(owner="none")).customers == 1  # D (B has no owner but churned)
    report = compute(workspace, Filters(owner=str(book["csm"].pk)))
    for i, movement in enumerate(report.series.movements, start=1):
        assert movement.total == report.series.mrr[i] - report.series.mrr[i - 1]


def test_filters_by_phase_and_profile(book, workspace):
    churned = compute(workspace, Filters(phase_id=phase(workspace, "churn").pk))
    # B alone: 200 from 15 Jun 2024 to 15 Mar 2025; it is not counted among the (live) customers.
    assert [total // 100 for total in churned.series.mrr][3:6] == [0, 200, 200]
    assert (churned.mrr_now, churned.customers) == (0, 0)
    profile = HealthProfile.objects.create(workspace=workspace, name="Enterprise")
    Customer.objects.filter(name="C").update(health_profile=profile)
    profiled = compute(workspace, Filters(profile_id=profile.pk))
    assert (profiled.mrr_now, profiled.customers, [row.name for row in profiled.at_risk]) == (15000, 1, ["C"])


def test_a_second_computation_the_same_day_replaces_the_first(book, workspace):
    compute(workspace)
    compute(workspace)
    assert ReportSnapshot.objects.filter(workspace=workspace).count() == 1


# ---- views ---------------------------------------------------------------------------------------------


def test_the_page_shows_figures_with_their_formulas(book, workspace, client_for, csm_membership):
    compute(workspace)
    html = client_for(csm_membership).get(reverse("reports:index")).content.decode()
    assert "380.00" in html and "4,560.00" in html
    assert "MRR(d) = Σ mrr of agreements" in html
    assert "NRR = " in html and "GRR = " in html
    assert "<svg" in html and "Dropping: 0" in html and "No health scores have been computed yet" in html
    assert "Recompute now" not in html  # CSMs only read


def test_the_page_before_any_snapshot(client_for, manager_membership):
    html = client_for(manager_membership).get(reverse("reports:index")).content.decode()
    assert "No report has been computed" in html and "Recompute now" in html


def test_a_manager_recomputes_and_a_csm_cannot(
    book, workspace, client_for, manager_membership, csm_membership
):
    assert client_for(csm_membership).post(reverse("reports:refresh")).status_code == 403
    assert client_for(manager_membership).post(reverse("reports:refresh")).status_code == 302
    assert ReportSnapshot.objects.filter(workspace=workspace).exists()


def test_csv_exports_follow_the_filters(book, workspace, client_for, csm_membership):
    compute(workspace)
    client = client_for(csm_membership)
    response = client.get(reverse("reports:index"), {"export": "months", "owner": book["csm"].pk})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["date", "mrr_EUR", "arr_EUR"]
    assert rows[-1][1] == "230.00"
    for kind in ("quarters", "renewals", "at_risk", "pulse"):
        assert client.get(reverse("reports:index"), {"export": kind}).status_code == 200
    assert client.get(reverse("reports:index"), {"export": "passwords"}).status_code == 404


def test_a_bad_filter_is_reported_and_dropped(
    book, workspace, client_for, csm_membership, stranger_membership
):
    compute(workspace)
    html = (
        client_for(csm_membership)
        .get(reverse("reports:index"), {"tag": "9999", "owner": "abc"})
        .content.decode()
    )
    assert "This filter was not applied" in html
    assert "380.00" in html


def test_another_workspace_sees_only_its_own_report(book, workspace, client_for, stranger_membership):
    compute(workspace)
    html = client_for(stranger_membership).get(reverse("reports:index")).content.decode()
    assert "No report has been computed" in html


# ---- dropping ------------------------------------------------------------------------------------------

LATEST_WEEK = dt.date(2025, 5, 12)
WEEK_BEFORE = dt.date(2025, 5, 5)


def score(customer, week, overall, previous):
    """A weekly score as the health computation writes it: dropping when it fell below the week before's."""
    overall = Decimal(overall) if overall is not None else None
    previous = Decimal(previous) if previous is not None else None
    return HealthScore.objects.create(
        workspace_id=customer.workspace_id,
        customer=customer,
        week=week,
        overall=overall,
        previous_overall=previous,
        dropping=overall is not None and previous is not None and overall < previous,
        computed_at=NOW,
    )


@pytest.fixture
def scores(book, workspace, other_workspace):
    """Latest week (12 May 2025): A 7.0 -> 6.5 and F 4.5 -> 2.0 fell; C stayed at 3.0; B fell 5.0 -> 1.0 but
    is churned; D fell the week before only and has no score for the latest week; E has its first score
    (nothing to compare with). Another workspace's customer fell too and never shows."""
    customers = {customer.name: customer for customer in Customer.objects.filter(workspace=workspace)}
    score(customers["A"], LATEST_WEEK, "6.5", "7.0")
    score(customers["F"], LATEST_WEEK, "2.0", "4.5")
    score(customers["C"], LATEST_WEEK, "3.0", "3.0")
    score(customers["B"], LATEST_WEEK, "1.0", "5.0")
    score(customers["D"], WEEK_BEFORE, "4.0", "6.0")
    score(CustomerFactory(workspace=workspace, name="E"), LATEST_WEEK, "5.0", None)
    score(CustomerFactory(workspace=other_workspace, name="Y"), LATEST_WEEK, "1.0", "9.0")
    return customers


def test_dropping_customers_are_those_whose_latest_weekly_score_fell(scores, workspace):
    report = compute(workspace)
    assert report.snapshot.health_week == LATEST_WEEK
    assert [(row.name, row.dropped_from, row.dropped_to) for row in report.dropping] == [
        ("F", Decimal("4.5"), Decimal("2.0")),  # the largest fall first
        ("A", Decimal("7.0"), Decimal("6.5")),
    ]


def test_the_report_and_the_customer_list_agree_on_who_is_dropping(scores, workspace, manager_membership):
    listed = {health.customer.name for health in dropping_scores(manager_membership)}
    assert {row.name for row in compute(workspace).dropping} == listed == {"A", "F"}


def test_dropping_follows_the_filters(scores, workspace, book):
    assert [row.name for row in compute(workspace, Filters(owner=str(book["other"].pk))).dropping] == []
    assert [row.name for row in compute(workspace, Filters(tag_id=book["tag"].pk)).dropping] == ["A"]


def test_without_weekly_scores_nothing_is_dropping(book, workspace):
    report = compute(workspace)
    assert report.snapshot.health_week is None and report.dropping == []


def test_the_page_and_the_csv_show_the_dropping_customers(scores, workspace, client_for, csm_membership):
    compute(workspace)
    client = client_for(csm_membership)
    html = client.get(reverse("reports:index")).content.decode()
    assert "Dropping: 2" in html and "lower than the week before" in html and "12 May 2025" in html
    assert html.index("4.5 → 2.0") < html.index("7.0 → 6.5")
    response = client.get(reverse("reports:index"), {"export": "dropping"})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["customer_id", "name", "health_week", "score_week_before", "score", "mrr_EUR"]
    assert [row[1:] for row in rows[1:]] == [
        ["F", "2025-05-12", "4.5", "2.0", "80.00"],
        ["A", "2025-05-12", "7.0", "6.5", "150.00"],
    ]
