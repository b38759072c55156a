from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from reports.figures import Row, classify, quarters, series, snapshot_points

POINTS = snapshot_points(dt.date(2025, 5, 15))


def test_the_points_are_fifteen_month_ends_then_today():
    assert POINTS[0] == dt.date(2024, 2, 29)
    assert POINTS[-2] == dt.date(2025, 4, 30)
    assert POINTS[-1] == dt.date(2025, 5, 15)
    assert len(POINTS) == 16


def test_a_customer_coming_back_is_a_reactivation_not_new():
    assert classify(0, 100, dt.date(2024, 1, 1), dt.date(2025, 1, 31)) == "reactivation"
    assert classify(0, 100, dt.date(2025, 2, 1), dt.date(2025, 1, 31)) == "new"
    assert classify(100, 0, None, dt.date(2025, 1, 31)) == "churn"
    assert classify(100, 100, None, dt.date(2025, 1, 31)) is None


mrr_lists = st.lists(
    st.integers(min_value=0, max_value=10_000_000), min_size=len(POINTS), max_size=len(POINTS)
)
rows = st.lists(
    st.builds(
        Row,
        mrr_cents=mrr_lists,
        first_start=st.one_of(st.none(), st.dates(dt.date(2020, 1, 1), dt.date(2026, 1, 1))),
    ),
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(rows)
def test_movements_always_sum_to_the_change_of_mrr(customers):
    result = series(POINTS, customers)
    for i, movement in enumerate(result.movements, start=1):
        assert movement.total == result.mrr[i] - result.mrr[i - 1]
        assert movement.new >= 0 and movement.expansion >= 0 and movement.reactivation >= 0
        assert movement.contraction <= 0 and movement.churn <= 0


@settings(max_examples=100, deadline=None)
@given(rows)
def test_gross_retention_never_exceeds_net_retention_nor_100(customers):
    for quarter in quarters(POINTS, customers):
        if quarter.grr is not None:
            assert quarter.grr <= 100
            assert quarter.nrr is not None and quarter.grr <= quarter.nrr
