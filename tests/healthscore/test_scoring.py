from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from healthscore.scoring import combine, overall_from_ledger, place_among, rounded_score


def test_a_customer_better_than_all_its_peers_gets_5_and_worse_than_all_gets_1():
    values = sorted([1, 2, 3, 4, 5])
    assert place_among(5, values).sub_score == Decimal("5.0")
    assert place_among(1, values).sub_score == Decimal("1.0")
    assert place_among(3, values).sub_score == Decimal("3.0")


def test_ties_count_half():
    place = place_among(7, [7, 7, 7])
    assert (place.size, place.below, place.equal) == (2, 0, 2)
    assert place.sub_score == Decimal("3.0")


def test_a_missing_factor_shares_its_weight_in_proportion():
    combined = combine(
        {"usage": Decimal("5"), "interactions": Decimal("1"), "pulse": None, "agreement": Decimal("3")},
        {"usage": 40, "interactions": 20, "pulse": 20, "agreement": 20},
    )
    assert combined.effective == {
        "usage": Decimal("50.0"),
        "interactions": Decimal("25.0"),
        "agreement": Decimal("25.0"),
    }
    assert combined.shared == [
        {"factor": "pulse", "weight": 20, "to": {"usage": "10.0", "interactions": "5.0", "agreement": "5.0"}}
    ]
    # 0.5 x 10 + 0.25 x 1 + 0.25 x 5.5
    assert combined.overall == Decimal("6.6")


def test_nothing_to_score_gives_no_score():
    combined = combine(
        {"usage": None, "interactions": None, "pulse": None, "agreement": None},
        {"usage": 100, "interactions": 0, "pulse": 0, "agreement": 0},
    )
    assert combined.overall is None
    assert rounded_score(combined.overall) is None


def test_a_zero_weight_factor_does_not_count_and_is_not_shared():
    combined = combine(
        {"usage": Decimal("2"), "interactions": Decimal("4"), "pulse": Decimal("5"), "agreement": None},
        {"usage": 50, "interactions": 50, "pulse": 0, "agreement": 0},
    )
    assert set(combined.contributions) == {"usage", "interactions"}
    assert combined.shared == []


sub_score = st.one_of(st.none(), st.integers(10, 50).map(lambda n: Decimal(n) / 10))


@given(
    st.fixed_dictionaries({f: sub_score for f in ("usage", "interactions", "pulse", "agreement")}),
    st.lists(st.integers(0, 100), min_size=4, max_size=4).filter(lambda w: sum(w) > 0),
)
def test_contributions_always_add_up_to_the_score(subs, weight_list):
    weights = dict(zip(("usage", "interactions", "pulse", "agreement"), weight_list, strict=True))
    combined = combine(subs, weights)
    if combined.overall is None:
        return
    assert sum(combined.contributions.values()) == combined.overall
    assert Decimal(1) <= combined.overall <= Decimal(10)
    assert 1 <= rounded_score(combined.overall) <= 10
    ledger = {
        "factors": {
            f: {"sub_score": str(subs[f]) if subs[f] is not None else None, "weight": weights[f]}
            for f in subs
        }
    }
    assert overall_from_ledger(ledger) == combined.overall
