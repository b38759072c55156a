import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from agreements.models import Agreement, AgreementStatus, AmountPeriod, Interval
from customers.models import ChangeLog
from tests.factories import AgreementFactory


def valid_data(**overrides):
    today = timezone.localdate()
    data = {
        "plan_name": "Pro plan",
        "amount": "12000",
        "amount_period": AmountPeriod.ARR,
        "one_time_fee": "",
        "start_date": (today - dt.timedelta(days=10)).isoformat(),
        "end_mode": "date",
        "end_date": (today + dt.timedelta(days=355)).isoformat(),
        "duration_value": "",
        "duration_unit": "",
        "notice_mode": "none",
        "notice_value": "",
        "notice_unit": "",
        "notice_date": "",
        "tacit_renewal": "no",
        "status": "dates",
    }
    data.update(overrides)
    return data


@pytest.fixture
def owner_client(client_for, csm_membership):
    return client_for(csm_membership)


@pytest.fixture
def agreement(customer):
    return AgreementFactory.create(customer=customer, plan_name="Starter", amount=Decimal("2400"))


def create_url(customer):
    return reverse("agreements:create", kwargs={"customer_pk": customer.pk})


# --- Create ----------------------------------------------------------------------------------------


def test_the_new_agreement_page_shows_the_form(owner_client, customer):
    response = owner_client.get(create_url(customer))
    assert response.status_code == 200
    content = response.content.decode()
    assert "New agreement" in content
    assert "MRR (per month)" in content and "ARR (per year)" in content
    assert "Follow the dates" in content


def test_a_valid_agreement_is_created_and_the_customer_page_follows(owner_client, customer, csm_membership):
    response = owner_client.post(create_url(customer), valid_data(one_time_fee="500"))
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:detail", kwargs={"pk": customer.pk})
    agreement = Agreement.objects.get(customer=customer)
    assert agreement.plan_name == "Pro plan"
    assert agreement.amount == Decimal("12000")
    assert agreement.mrr == Decimal("1000.00")
    assert agreement.one_time_fee == Decimal("500")
    assert agreement.status == AgreementStatus.ACTIVE
    assert agreement.source == "ui"
    customer.refresh_from_db()
    assert customer.active_mrr == Decimal("1000.00")
    entry = ChangeLog.objects.get(customer=customer, field="agreement added")
    assert entry.actor_user == csm_membership.user


def test_an_agreement_can_end_after_a_duration_with_notice_and_tacit_renewal(owner_client, customer):
    data = valid_data(
        start_date="2030-01-31",
        end_mode="duration",
        end_date="",
        duration_value="1",
        duration_unit=Interval.MONTH,
        notice_mode="duration",
        notice_value="2",
        notice_unit=Interval.WEEK,
        tacit_renewal="yes",
    )
    assert owner_client.post(create_url(customer), data).status_code == 302
    agreement = Agreement.objects.get(customer=customer)
    assert agreement.end_date is None
    assert agreement.ends_on == dt.date(2030, 2, 28)
    assert agreement.renews_on == dt.date(2030, 2, 14)
    assert agreement.status == AgreementStatus.VALIDATED


def test_the_unchosen_end_option_is_ignored(owner_client, customer):
    data = valid_data(duration_value="3", duration_unit=Interval.YEAR)
    assert owner_client.post(create_url(customer), data).status_code == 302
    agreement = Agreement.objects.get(customer=customer)
    assert agreement.duration_value is None and agreement.duration_unit == ""


def test_a_status_set_by_hand_is_kept(owner_client, customer):
    assert (
        owner_client.post(create_url(customer), valid_data(status=AgreementStatus.PAUSED)).status_code == 302
    )
    assert Agreement.objects.get(customer=customer).status == AgreementStatus.PAUSED
    customer.refresh_from_db()
    assert customer.active_mrr == Decimal("0")


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"amount": ""}, "amount", "Enter the amount."),
        ({"amount": "-5"}, "amount", "The amount cannot be negative."),
        ({"amount": "lots"}, "amount", "Enter a number"),
        ({"one_time_fee": "-1"}, "one_time_fee", "The one-time fee cannot be negative."),
        ({"start_date": ""}, "start_date", "Enter the start date."),
        ({"end_date": "2000-01-01"}, "end_date", "The end date must be after the start date."),
        ({"end_date": ""}, "end_date", "Enter the end date, or choose a duration instead."),
        (
            {"end_mode": "duration", "end_date": "", "duration_value": "12"},
            "duration_unit",
            "Choose day(s), week(s), month(s) or year(s) for the duration.",
        ),
        (
            {"end_mode": "duration", "end_date": "", "duration_unit": Interval.MONTH},
            "duration_value",
            "Enter how long the agreement runs.",
        ),
        (
            {"end_mode": "duration", "duration_value": "0", "duration_unit": Interval.MONTH},
            "duration_value",
            "Enter a whole number of at least 1.",
        ),
        ({"end_mode": ""}, "end_mode", "Choose an end date or a duration."),
        (
            {"notice_mode": "date", "notice_date": "2999-01-01"},
            "notice_date",
            "The notice date must be on or before the end of the agreement.",
        ),
        ({"notice_mode": "date"}, "notice_date", "Enter the notice date, or choose None."),
        (
            {"notice_mode": "duration", "notice_value": "3"},
            "notice_unit",
            "Choose day(s), week(s), month(s) or year(s) for the notice.",
        ),
        (
            {"notice_mode": "duration", "notice_value": "5", "notice_unit": Interval.YEAR},
            "notice_value",
            "The notice period is longer than the agreement itself.",
        ),
    ],
)
def test_a_bad_input_is_shown_on_its_field_and_nothing_typed_is_lost(
    owner_client, customer, overrides, field, message
):
    response = owner_client.post(create_url(customer), valid_data(plan_name="Enterprise 2030", **overrides))
    assert response.status_code == 200
    form = response.context["form"]
    assert any(message in error for error in form.errors[field]), form.errors
    content = response.content.decode()
    assert message.replace("'", "&#x27;") in content
    assert 'value="Enterprise 2030"' in content
    assert not Agreement.objects.exists()


def test_a_bad_amount_keeps_what_was_typed(owner_client, customer):
    response = owner_client.post(create_url(customer), valid_data(amount="-5", duration_value="7"))
    content = response.content.decode()
    assert 'value="-5"' in content
    assert 'value="7"' in content


# --- Edit and delete -----------------------------------------------------------------------------------


def test_the_edit_page_shows_the_amount_as_entered_and_the_current_status(owner_client, agreement):
    response = owner_client.get(reverse("agreements:edit", kwargs={"pk": agreement.pk}))
    assert response.status_code == 200
    form = response.context["form"]
    assert form["amount"].value() == Decimal("2400")
    assert form["amount_period"].value() == AmountPeriod.ARR
    assert form["end_mode"].value() == "date"
    assert form["status"].value() == "dates"
    content = response.content.decode()
    assert 'value="2400' in content
    assert "200.00" in content  # the MRR


def test_an_agreement_is_edited_and_the_customer_figures_follow(owner_client, agreement, customer):
    url = reverse("agreements:edit", kwargs={"pk": agreement.pk})
    data = valid_data(
        plan_name="Starter+",
        amount="300",
        amount_period=AmountPeriod.MRR,
        start_date=agreement.start_date.isoformat(),
        end_date=agreement.ends_on.isoformat(),
    )
    response = owner_client.post(url, data)
    assert response.status_code == 302
    agreement.refresh_from_db()
    assert (agreement.plan_name, agreement.mrr) == ("Starter+", Decimal("300.00"))
    customer.refresh_from_db()
    assert customer.active_mrr == Decimal("300.00")


def test_a_paused_agreement_handed_back_to_the_dates_becomes_active(owner_client, customer):
    paused = AgreementFactory.create(customer=customer, status=AgreementStatus.PAUSED)
    url = reverse("agreements:edit", kwargs={"pk": paused.pk})
    assert owner_client.get(url).context["form"]["status"].value() == AgreementStatus.PAUSED
    data = valid_data(start_date=paused.start_date.isoformat(), end_date=paused.ends_on.isoformat())
    assert owner_client.post(url, data).status_code == 302
    paused.refresh_from_db()
    assert paused.status == AgreementStatus.ACTIVE


def test_an_invalid_edit_changes_nothing_and_keeps_the_typed_values(owner_client, agreement):
    url = reverse("agreements:edit", kwargs={"pk": agreement.pk})
    response = owner_client.post(url, valid_data(plan_name="Renamed", amount=""))
    assert response.status_code == 200
    assert 'value="Renamed"' in response.content.decode()
    agreement.refresh_from_db()
    assert agreement.plan_name == "Starter"


def test_an_agreement_is_deleted_by_post_only(owner_client, agreement, customer):
    url = reverse("agreements:delete", kwargs={"pk": agreement.pk})
    assert owner_client.get(url).status_code == 405
    response = owner_client.post(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:detail", kwargs={"pk": customer.pk})
    assert not Agreement.objects.filter(pk=agreement.pk).exists()


# --- Access ------------------------------------------------------------------------------------------------

ACCESS = [
    ("csm_membership", True, None),
    ("manager_membership", True, None),
    ("admin_membership", True, None),
    ("other_csm_membership", False, 403),
    ("stranger_membership", False, 404),
]


@pytest.mark.parametrize(("who", "allowed", "refused_with"), ACCESS)
def test_who_may_add_an_agreement(request, client_for, customer, who, allowed, refused_with):
    client = client_for(request.getfixturevalue(who))
    assert client.get(create_url(customer)).status_code == (200 if allowed else refused_with)
    response = client.post(create_url(customer), valid_data())
    assert response.status_code == (302 if allowed else refused_with)
    assert Agreement.objects.filter(customer=customer).exists() is allowed


@pytest.mark.parametrize(("who", "allowed", "refused_with"), ACCESS)
def test_who_may_edit_an_agreement(request, client_for, agreement, who, allowed, refused_with):
    client = client_for(request.getfixturevalue(who))
    url = reverse("agreements:edit", kwargs={"pk": agreement.pk})
    assert client.get(url).status_code == (200 if allowed else refused_with)
    data = valid_data(plan_name="Changed", start_date=agreement.start_date.isoformat())
    assert client.post(url, data).status_code == (302 if allowed else refused_with)
    agreement.refresh_from_db()
    assert (agreement.plan_name == "Changed") is allowed


@pytest.mark.parametrize(("who", "allowed", "refused_with"), ACCESS)
def test_who_may_delete_an_agreement(request, client_for, agreement, who, allowed, refused_with):
    client = client_for(request.getfixturevalue(who))
    response = client.post(reverse("agreements:delete", kwargs={"pk": agreement.pk}))
    assert response.status_code == (302 if allowed else refused_with)
    assert Agreement.objects.filter(pk=agreement.pk).exists() is not allowed


def test_an_anonymous_visitor_is_sent_to_log_in(client, customer):
    response = client.get(create_url(customer))
    assert response.status_code == 302
    assert "login" in response["Location"]
