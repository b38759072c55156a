import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from agreements.models import AgreementStatus, AmountPeriod, Interval
from agreements.services import (
    add_interval,
    agreement_create,
    agreement_delete,
    agreement_end,
    agreement_renewal,
    agreement_status_for,
    agreement_update,
    agreements_refresh_all,
    customer_active_mrr,
    customer_refresh_revenue,
    mrr_from_amount,
)
from customers.changes import Actor
from customers.models import ChangeLog
from tests.factories import AgreementFactory, CustomerFactory

TODAY = dt.date(2024, 6, 15)
ACTOR = Actor.system("tests")


def create(customer, **fields):
    values = {
        "amount": Decimal("1000"),
        "amount_period": AmountPeriod.MRR,
        "start_date": TODAY - dt.timedelta(days=10),
        "end_date": TODAY + dt.timedelta(days=100),
    }
    values.update(fields)
    return agreement_create(customer=customer, actor=ACTOR, today=TODAY, **values)


# --- MRR -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "period", "mrr"),
    [
        ("1200", AmountPeriod.ARR, "100.00"),
        ("1000", AmountPeriod.ARR, "83.33"),
        ("1", AmountPeriod.ARR, "0.08"),
        ("0.06", AmountPeriod.ARR, "0.01"),  # 0.005 rounds half up
        ("99.99", AmountPeriod.MRR, "99.99"),
        ("0", AmountPeriod.ARR, "0.00"),
    ],
)
def test_an_annual_amount_is_stored_as_its_monthly_share_rounded_half_up_to_the_cent(amount, period, mrr):
    result = mrr_from_amount(Decimal(amount), period)
    assert isinstance(result, Decimal)
    assert result == Decimal(mrr)
    assert result.as_tuple().exponent == -2


def test_an_agreement_created_from_an_arr_keeps_the_amount_as_entered_and_stores_the_mrr(customer):
    agreement = create(customer, amount=Decimal("10000"), amount_period=AmountPeriod.ARR)
    agreement.refresh_from_db()
    assert agreement.amount == Decimal("10000.00")
    assert agreement.mrr == Decimal("833.33")


def test_the_one_time_fee_is_never_counted_in_mrr(customer):
    create(customer, amount=Decimal("100"), one_time_fee=Decimal("5000"))
    customer.refresh_from_db()
    assert customer.active_mrr == Decimal("100.00")


# --- End, renewal, notice ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "value", "unit", "end"),
    [
        (dt.date(2024, 1, 31), 1, Interval.MONTH, dt.date(2024, 2, 29)),
        (dt.date(2023, 1, 31), 1, Interval.MONTH, dt.date(2023, 2, 28)),
        (dt.date(2024, 3, 31), 1, Interval.MONTH, dt.date(2024, 4, 30)),
        (dt.date(2024, 2, 29), 1, Interval.YEAR, dt.date(2025, 2, 28)),
        (dt.date(2024, 11, 15), 3, Interval.MONTH, dt.date(2025, 2, 15)),
        (dt.date(2024, 1, 1), 2, Interval.WEEK, dt.date(2024, 1, 15)),
        (dt.date(2024, 12, 31), 1, Interval.DAY, dt.date(2025, 1, 1)),
    ],
)
def test_the_end_follows_from_a_duration_with_month_ends_clamped(start, value, unit, end):
    assert agreement_end(start_date=start, end_date=None, duration_value=value, duration_unit=unit) == end


def test_an_end_date_wins_over_a_duration_and_nothing_gives_no_end():
    start = dt.date(2024, 1, 1)
    assert agreement_end(
        start_date=start, end_date=dt.date(2024, 3, 1), duration_value=1, duration_unit=Interval.YEAR
    ) == dt.date(2024, 3, 1)
    assert agreement_end(start_date=start, end_date=None, duration_value=None, duration_unit="") is None
    assert agreement_end(start_date=start, end_date=None, duration_value=3, duration_unit="") is None


def test_an_unknown_interval_is_refused():
    with pytest.raises(ValueError, match="Unknown interval"):
        add_interval(dt.date(2024, 1, 1), 1, "fortnight")


def test_a_tacitly_renewed_agreement_renews_at_the_end_minus_the_notice():
    end = dt.date(2025, 3, 31)
    renews = agreement_renewal(
        ends_on=end, tacit_renewal=True, notice_value=1, notice_unit=Interval.MONTH, notice_date=None
    )
    assert renews == dt.date(2025, 2, 28)


def test_a_notice_date_is_the_renewal_date_of_a_tacitly_renewed_agreement():
    renews = agreement_renewal(
        ends_on=dt.date(2025, 3, 31),
        tacit_renewal=True,
        notice_value=None,
        notice_unit="",
        notice_date=dt.date(2025, 1, 15),
    )
    assert renews == dt.date(2025, 1, 15)


def test_without_tacit_renewal_the_renewal_date_is_the_end():
    end = dt.date(2025, 3, 31)
    assert (
        agreement_renewal(
            ends_on=end, tacit_renewal=False, notice_value=3, notice_unit=Interval.MONTH, notice_date=None
        )
        == end
    )
    assert (
        agreement_renewal(
            ends_on=end, tacit_renewal=True, notice_value=None, notice_unit="", notice_date=None
        )
        == end
    )


def test_a_created_agreement_stores_its_end_and_renewal(customer):
    agreement = create(
        customer,
        start_date=dt.date(2024, 1, 31),
        end_date=None,
        duration_value=1,
        duration_unit=Interval.YEAR,
        tacit_renewal=True,
        notice_value=2,
        notice_unit=Interval.MONTH,
    )
    agreement.refresh_from_db()
    assert agreement.ends_on == dt.date(2025, 1, 31)
    assert agreement.renews_on == dt.date(2024, 11, 30)


def test_a_notice_date_after_the_end_is_refused_on_the_notice_date(customer):
    with pytest.raises(ValidationError) as error:
        create(customer, tacit_renewal=True, notice_date=TODAY + dt.timedelta(days=200))
    assert "notice_date" in error.value.message_dict


def test_an_end_before_the_start_is_refused_on_the_end_date(customer):
    with pytest.raises(ValidationError) as error:
        create(customer, start_date=TODAY, end_date=TODAY)
    assert "end_date" in error.value.message_dict


def test_negative_amounts_are_refused_on_their_own_fields(customer):
    with pytest.raises(ValidationError) as error:
        create(customer, amount=Decimal("-1"), one_time_fee=Decimal("-5"))
    assert set(error.value.message_dict) == {"amount", "one_time_fee"}


def test_an_agreement_without_end_or_duration_is_refused_and_names_what_is_missing(customer):
    with pytest.raises(ValidationError, match="end date or duration"):
        create(customer, end_date=None, duration_value=3, duration_unit="")


# --- Statuses ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "status"),
    [
        (TODAY + dt.timedelta(days=1), TODAY + dt.timedelta(days=30), AgreementStatus.VALIDATED),
        (TODAY, TODAY + dt.timedelta(days=30), AgreementStatus.ACTIVE),
        (TODAY - dt.timedelta(days=30), TODAY + dt.timedelta(days=1), AgreementStatus.ACTIVE),
        (TODAY - dt.timedelta(days=30), TODAY, AgreementStatus.FINISHED),
    ],
)
def test_the_status_follows_the_dates(start, end, status):
    assert (
        agreement_status_for(today=TODAY, start_date=start, ends_on=end, current=AgreementStatus.ACTIVE)
        == status
    )


@pytest.mark.parametrize(
    "manual", [AgreementStatus.PENDING, AgreementStatus.PAUSED, AgreementStatus.CANCELLED]
)
def test_a_status_set_by_hand_is_kept_whatever_the_dates(manual):
    status = agreement_status_for(
        today=TODAY,
        start_date=TODAY - dt.timedelta(days=5),
        ends_on=TODAY + dt.timedelta(days=5),
        current=manual,
    )
    assert status == manual


def test_a_status_handed_back_to_the_dates_is_derived_again(customer):
    agreement = create(customer, status=AgreementStatus.PAUSED)
    assert agreement.status == AgreementStatus.PAUSED
    agreement_update(agreement=agreement, actor=ACTOR, today=TODAY, status=AgreementStatus.ACTIVE)
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.ACTIVE
    future = create(customer, start_date=TODAY + dt.timedelta(days=3), status=AgreementStatus.ACTIVE)
    assert future.status == AgreementStatus.VALIDATED


# --- Active MRR and the customer's denormalised figures ----------------------------------------------


def test_active_mrr_counts_only_agreements_running_today_and_not_set_aside(customer):
    AgreementFactory.create(
        customer=customer,
        amount=Decimal("100"),
        amount_period=AmountPeriod.MRR,
        start_date=TODAY,
        end_date=TODAY + dt.timedelta(days=1),
    )
    # Not counted: starts tomorrow, ended today, paused, cancelled, pending.
    AgreementFactory.create(
        customer=customer,
        amount=Decimal("1"),
        amount_period=AmountPeriod.MRR,
        start_date=TODAY + dt.timedelta(days=1),
        status=AgreementStatus.VALIDATED,
    )
    AgreementFactory.create(
        customer=customer,
        amount=Decimal("2"),
        amount_period=AmountPeriod.MRR,
        start_date=TODAY - dt.timedelta(days=10),
        end_date=TODAY,
    )
    for status in (AgreementStatus.PAUSED, AgreementStatus.CANCELLED, AgreementStatus.PENDING):
        AgreementFactory.create(
            customer=customer,
            amount=Decimal("4"),
            amount_period=AmountPeriod.MRR,
            start_date=TODAY - dt.timedelta(days=1),
            status=status,
        )
    assert customer_active_mrr(customer=customer, today=TODAY) == Decimal("100.00")


def test_refreshing_revenue_updates_the_customers_active_mrr_and_next_renewal(customer):
    AgreementFactory.create(
        customer=customer,
        amount=Decimal("2400"),
        amount_period=AmountPeriod.ARR,
        start_date=TODAY - dt.timedelta(days=100),
        end_date=TODAY + dt.timedelta(days=200),
    )
    AgreementFactory.create(
        customer=customer,
        amount=Decimal("50"),
        amount_period=AmountPeriod.MRR,
        start_date=TODAY - dt.timedelta(days=10),
        end_date=TODAY + dt.timedelta(days=60),
        tacit_renewal=True,
        notice_value=1,
        notice_unit=Interval.MONTH,
    )
    customer_refresh_revenue(customer=customer, today=TODAY)
    customer.refresh_from_db()
    assert customer.active_mrr == Decimal("250.00")
    assert customer.next_renewal_on == add_interval(TODAY + dt.timedelta(days=60), 1, Interval.MONTH, sign=-1)


def test_a_customer_whose_contracts_all_ended_shows_the_last_renewal_date(customer):
    AgreementFactory.create(
        customer=customer, start_date=TODAY - dt.timedelta(days=400), end_date=TODAY - dt.timedelta(days=35)
    )
    customer_refresh_revenue(customer=customer, today=TODAY)
    customer.refresh_from_db()
    assert customer.active_mrr == Decimal("0")
    assert customer.next_renewal_on == TODAY - dt.timedelta(days=35)


def test_creating_updating_and_deleting_an_agreement_keep_the_customer_figures_current(customer):
    agreement = create(customer, amount=Decimal("300"))
    customer.refresh_from_db()
    assert customer.active_mrr == Decimal("300.00")
    assert customer.next_renewal_on == TODAY + dt.timedelta(days=100)

    agreement_update(
        agreement=agreement, actor=ACTOR, today=TODAY, amount=Decimal("3600"), amount_period=AmountPeriod.ARR
    )
    customer.refresh_from_db()
    assert customer.active_mrr == Decimal("300.00")

    agreement_update(agreement=agreement, actor=ACTOR, today=TODAY, status=AgreementStatus.PAUSED)
    customer.refresh_from_db()
    assert customer.active_mrr == Decimal("0")

    agreement_delete(agreement=agreement, actor=ACTOR)
    customer.refresh_from_db()
    assert customer.active_mrr == Decimal("0")
    assert customer.next_renewal_on is None


def test_the_daily_refresh_moves_statuses_and_mrr_as_days_pass(customer):
    agreement = create(
        customer,
        amount=Decimal("80"),
        start_date=TODAY + dt.timedelta(days=1),
        end_date=TODAY + dt.timedelta(days=3),
    )
    paused = create(
        customer, amount=Decimal("7"), start_date=TODAY - dt.timedelta(days=1), status=AgreementStatus.PAUSED
    )
    assert agreement.status == AgreementStatus.VALIDATED

    assert agreements_refresh_all(today=TODAY + dt.timedelta(days=1)) == 1
    agreement.refresh_from_db()
    customer.refresh_from_db()
    assert agreement.status == AgreementStatus.ACTIVE
    assert customer.active_mrr == Decimal("80.00")

    assert agreements_refresh_all(today=TODAY + dt.timedelta(days=2)) == 0

    assert agreements_refresh_all(today=TODAY + dt.timedelta(days=3)) == 1
    agreement.refresh_from_db()
    paused.refresh_from_db()
    customer.refresh_from_db()
    assert agreement.status == AgreementStatus.FINISHED
    assert paused.status == AgreementStatus.PAUSED
    assert customer.active_mrr == Decimal("0")


def test_the_daily_refresh_leaves_other_customers_figures_to_their_own_agreements(workspace):
    with_contract, without = (
        CustomerFactory.create(workspace=workspace),
        CustomerFactory.create(workspace=workspace),
    )
    AgreementFactory.create(
        customer=with_contract,
        amount=Decimal("120"),
        amount_period=AmountPeriod.ARR,
        start_date=TODAY - dt.timedelta(days=1),
    )
    agreements_refresh_all(today=TODAY)
    with_contract.refresh_from_db()
    without.refresh_from_db()
    assert with_contract.active_mrr == Decimal("10.00")
    assert without.active_mrr == Decimal("0")


# --- Change history ---------------------------------------------------------------------------------


def test_adding_changing_and_removing_an_agreement_is_logged_with_its_author(customer, csm_membership):
    actor = Actor.for_user(csm_membership.user)
    agreement = agreement_create(
        customer=customer,
        actor=actor,
        today=TODAY,
        plan_name="Pro",
        amount=Decimal("100"),
        start_date=TODAY,
        end_date=TODAY + dt.timedelta(days=30),
    )
    agreement_update(agreement=agreement, actor=actor, today=TODAY, amount=Decimal("150"))
    agreement_delete(agreement=agreement, actor=actor)

    entries = list(ChangeLog.objects.filter(customer=customer, object_type="agreement").order_by("id"))
    assert [(e.field, e.old_value, e.new_value) for e in entries] == [
        ("agreement added", "", "Pro 100.00 MRR"),
        ("agreement amount", "100", "150"),
        ("agreement removed", "Pro 150.00 MRR", ""),
    ]
    assert {e.actor_user_id for e in entries} == {csm_membership.user_id}


def test_a_status_left_to_the_dates_is_not_logged_as_a_change(customer):
    agreement = create(customer, start_date=TODAY + dt.timedelta(days=5))
    assert agreement.status == AgreementStatus.VALIDATED
    agreement_update(agreement=agreement, actor=ACTOR, today=TODAY, status=AgreementStatus.ACTIVE)
    assert not ChangeLog.objects.filter(customer=customer, field="agreement status").exists()


# --- Properties ----------------------------------------------------------------------------------------

dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2500, 12, 31))
units = st.sampled_from(list(Interval.values))
values = st.integers(min_value=1, max_value=120)


@settings(deadline=None, max_examples=200)
@given(start=dates, value=values, unit=units)
def test_a_positive_duration_always_ends_after_the_start(start, value, unit):
    end = agreement_end(start_date=start, end_date=None, duration_value=value, duration_unit=unit)
    assert end is not None and end > start


@settings(deadline=None, max_examples=200)
@given(start=dates, months=st.integers(min_value=0, max_value=600))
def test_adding_then_subtracting_months_lands_within_the_clamping_bounds(start, months):
    there = add_interval(start, months, Interval.MONTH)
    back = add_interval(there, months, Interval.MONTH, sign=-1)
    assert there.day <= start.day
    # Only a clamp on the way out (e.g. Jan 31 -> Feb 28) can move the day, and only earlier, by < 4 days.
    assert back.year == start.year and back.month == start.month
    assert start.day - 3 <= back.day <= start.day


@settings(deadline=None, max_examples=200)
@given(start=dates, value=values, unit=units)
def test_a_whole_year_is_twelve_months_and_a_week_is_seven_days(start, value, unit):
    assert add_interval(start, value, Interval.YEAR) == add_interval(start, value * 12, Interval.MONTH)
    assert add_interval(start, value, Interval.WEEK) == add_interval(start, value * 7, Interval.DAY)


@settings(deadline=None, max_examples=200)
@given(
    end=dates,
    tacit=st.booleans(),
    notice_value=st.one_of(st.none(), values),
    notice_unit=st.sampled_from(["", *Interval.values]),
    notice_days_before=st.one_of(st.none(), st.integers(min_value=0, max_value=400)),
)
def test_the_renewal_never_comes_after_the_end(end, tacit, notice_value, notice_unit, notice_days_before):
    notice_date = end - dt.timedelta(days=notice_days_before) if notice_days_before is not None else None
    renews = agreement_renewal(
        ends_on=end,
        tacit_renewal=tacit,
        notice_value=notice_value,
        notice_unit=notice_unit,
        notice_date=notice_date,
    )
    assert renews <= end
    if not tacit:
        assert renews == end


def test_refreshing_many_customers_at_once_gives_each_what_refreshing_it_alone_gives(workspace):
    from agreements.services import customer_next_renewal, customers_refresh_revenue

    running, ended, cancelled_only, empty = (CustomerFactory(workspace=workspace) for _ in range(4))
    AgreementFactory.create(customer=running, amount=Decimal("2400"), amount_period=AmountPeriod.ARR,
                            start_date=TODAY - dt.timedelta(days=100), end_date=TODAY + dt.timedelta(days=200))  # fmt: skip
    AgreementFactory.create(customer=running, amount=Decimal("50"), amount_period=AmountPeriod.MRR,
                            start_date=TODAY - dt.timedelta(days=10), end_date=TODAY + dt.timedelta(days=60),
                            tacit_renewal=True, notice_value=1, notice_unit=Interval.MONTH)  # fmt: skip
    AgreementFactory.create(customer=running, amount=Decimal("9"), amount_period=AmountPeriod.MRR,
                            start_date=TODAY - dt.timedelta(days=10), status=AgreementStatus.PAUSED)  # fmt: skip
    AgreementFactory.create(customer=ended, start_date=TODAY - dt.timedelta(days=400),
                            end_date=TODAY - dt.timedelta(days=35))  # fmt: skip
    AgreementFactory.create(customer=ended, start_date=TODAY - dt.timedelta(days=800),
                            end_date=TODAY - dt.timedelta(days=435))  # fmt: skip
    AgreementFactory.create(customer=cancelled_only, start_date=TODAY - dt.timedelta(days=10),
                            status=AgreementStatus.CANCELLED)  # fmt: skip
    customers = [running, ended, cancelled_only, empty]
    for customer in customers:
        customer.active_mrr, customer.next_renewal_on = Decimal("123"), TODAY  # stale figures

    customers_refresh_revenue(customers=customers, today=TODAY)
    for customer in customers:
        expected = (customer_active_mrr(customer=customer, today=TODAY),
                    customer_next_renewal(customer=customer, today=TODAY))  # fmt: skip
        assert (customer.active_mrr, customer.next_renewal_on) == expected
        customer.refresh_from_db()
        assert (customer.active_mrr, customer.next_renewal_on) == expected
    assert running.active_mrr == Decimal("250.00")
    assert ended.next_renewal_on == TODAY - dt.timedelta(days=35)
    assert cancelled_only.next_renewal_on is None and empty.active_mrr == Decimal("0")
