import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.changes import Actor
from customers.models import HealthProfile
from customers.services import customer_set_pulse
from healthscore import services
from healthscore.models import HealthScore, HealthWeights, PulseEntry, UsageDaily
from healthscore.scoring import overall_from_ledger
from integrations.models import Connection
from interactions.models import Direction, InteractionKind
from tests.factories import AgreementFactory, CustomerFactory, InteractionFactory, phase

AS_OF = dt.datetime(2025, 3, 9, 22, 0, tzinfo=dt.UTC)  # a Sunday night


def _usage(customer, events, day=None):
    UsageDaily.objects.create(
        workspace=customer.workspace,
        customer=customer,
        day=day or AS_OF.date() - dt.timedelta(days=8),
        events=events,
        users=2,
    )


def _pulse(customer, value, days_ago):
    PulseEntry.objects.create(
        workspace=customer.workspace,
        customer=customer,
        pulse=value,
        set_at=AS_OF - dt.timedelta(days=days_ago),
    )


def _calls(customer, count, days_ago=5):
    for _ in range(count):
        InteractionFactory(
            customer=customer,
            kind=InteractionKind.CALL,
            direction=Direction.OUTGOING,
            occurred_at=AS_OF - dt.timedelta(days=days_ago),
        )


def _score(customer):
    return HealthScore.objects.get(customer=customer, week=services.week_of(AS_OF))


@pytest.fixture
def scored(workspace):
    """Twelve customers with every input, growing with their index."""
    customers = []
    for i in range(12):
        customer = CustomerFactory(workspace=workspace, name=f"C{i:02d}")
        _usage(customer, 10 * (i + 1))
        _calls(customer, i % 4 + 1)
        _pulse(customer, i % 5 + 1, days_ago=10)
        AgreementFactory(
            customer=customer, start_date=AS_OF.date() - dt.timedelta(days=200), amount=Decimal(1000 + i)
        )
        customers.append(customer)
    return customers


def test_the_ledger_contributions_add_up_to_the_stored_score(workspace, scored):
    services.health_compute(workspace_id=workspace.pk, as_of=AS_OF)
    for customer in scored:
        row = _score(customer)
        counted = [f for f in row.ledger["factors"].values() if f["status"] == "counted"]
        assert len(counted) == 4
        assert sum(Decimal(f["contribution"]) for f in counted) == row.overall
        assert Decimal(row.ledger["overall"]) == row.overall
        assert overall_from_ledger(row.ledger) == row.overall
        customer.refresh_from_db()
        assert customer.health_score == int(row.overall.quantize(Decimal(1), rounding="ROUND_HALF_UP"))


def test_recomputing_a_stored_week_reproduces_it(workspace, scored):
    services.health_compute(workspace_id=workspace.pk, as_of=AS_OF)
    first = {row.customer_id: (row.overall, row.ledger) for row in HealthScore.objects.all()}
    # Data arriving after the week (a later pulse, a later interaction) does not change that week.
    _pulse(scored[0], 5, days_ago=-3)
    _calls(scored[1], 5, days_ago=-2)
    as_of = dt.datetime.fromisoformat(first[scored[0].pk][1]["as_of"])
    services.health_compute(workspace_id=workspace.pk, as_of=as_of)
    again = {row.customer_id: (row.overall, row.ledger) for row in HealthScore.objects.all()}
    assert again == first
    assert HealthScore.objects.count() == len(scored)


def test_a_missing_pulse_shares_its_weight_among_the_others(workspace, scored):
    stale = scored[5]
    PulseEntry.objects.filter(customer=stale).update(set_at=AS_OF - dt.timedelta(days=120))
    HealthWeights.objects.create(workspace=workspace, usage=40, interactions=20, pulse=20, agreement=20)
    services.health_compute(workspace_id=workspace.pk, as_of=AS_OF)
    ledger = _score(stale).ledger
    pulse = ledger["factors"]["pulse"]
    assert pulse["status"] == "missing"
    assert "120 days old" in pulse["reason"]
    assert pulse["contribution"] == "0"
    assert ledger["shared"] == [
        {"factor": "pulse", "weight": 20, "to": {"usage": "10.0", "interactions": "5.0", "agreement": "5.0"}}
    ]
    assert ledger["factors"]["usage"]["effective_weight"] == "50.0"
    assert _score(stale).pulse is None
    assert sum(Decimal(f["contribution"]) for f in ledger["factors"].values()) == _score(stale).overall


def test_customers_without_usage_or_agreement_have_those_factors_missing(workspace, scored):
    bare = CustomerFactory(workspace=workspace, name="Bare")
    _calls(bare, 2)
    services.health_compute(workspace_id=workspace.pk, as_of=AS_OF)
    factors = _score(bare).ledger["factors"]
    assert factors["usage"]["reason"] == "no usage event received for this customer yet"
    assert factors["agreement"]["reason"] == "no agreement started yet"
    assert factors["pulse"]["reason"] == "no CSM Pulse given"
    assert factors["interactions"]["status"] == "counted"
    assert factors["interactions"]["effective_weight"] == "100.0"


def test_peers_are_the_profile_when_it_has_ten_others_else_the_workspace(workspace, scored):
    big = HealthProfile.objects.create(workspace=workspace, name="Enterprise")
    small = HealthProfile.objects.create(workspace=workspace, name="SMB")
    for customer in scored[:11]:
        customer.health_profile = big
        customer.save()
    scored[11].health_profile = small
    scored[11].save()
    services.health_compute(workspace_id=workspace.pk, as_of=AS_OF)
    in_big = _score(scored[0]).ledger["factors"]["usage"]["peers"]
    assert (in_big["scope"], in_big["size"]) == ("profile", 10)
    in_small = _score(scored[11]).ledger["factors"]["usage"]["peers"]
    assert (in_small["scope"], in_small["size"], in_small["profile_too_small"]) == ("workspace", 11, True)
    # The biggest user of the workspace is not compared with the profile's own 10 peers.
    assert _score(scored[11]).usage == Decimal("5.0")


def test_a_profile_uses_its_own_weights_and_falls_back_to_the_default(workspace, scored):
    profile = HealthProfile.objects.create(workspace=workspace, name="Usage first")
    services.weights_set(
        workspace_id=workspace.pk,
        profile=profile,
        values={"usage": 100, "interactions": 0, "pulse": 0, "agreement": 0},
    )
    scored[0].health_profile = profile
    scored[0].save()
    services.health_compute(workspace_id=workspace.pk, as_of=AS_OF)
    ledger = _score(scored[0]).ledger
    assert ledger["weights_source"] == "profile 'Usage first'"
    assert ledger["factors"]["pulse"]["status"] == "unweighted"
    assert _score(scored[0]).overall == Decimal(ledger["factors"]["usage"]["contribution"])
    assert _score(scored[1]).ledger["weights_source"].startswith("the built-in default")


def test_dropping_compares_with_last_week_and_only_changed_scores_are_pushed(workspace, scored):
    services.health_compute(workspace_id=workspace.pk, as_of=AS_OF - dt.timedelta(days=7))
    # The best user stops using the product.
    UsageDaily.objects.filter(customer=scored[11]).update(day=AS_OF.date() - dt.timedelta(days=60))
    with mock.patch("healthscore.services._push_changed_on_commit") as push:
        result = services.health_compute(workspace_id=workspace.pk, as_of=AS_OF)
    row = _score(scored[11])
    assert row.previous_overall is not None and row.overall < row.previous_overall
    assert row.dropping
    assert scored[11].pk in result.changed
    pushed = push.call_args.args[1]
    assert set(pushed) == set(result.changed)
    assert not _score(scored[0]).dropping


def test_the_push_is_enqueued_on_commit_only_with_an_active_connection(
    workspace, scored, django_capture_on_commit_callbacks
):
    with (
        mock.patch("integrations.tasks.push_customer_scores.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.health_compute(workspace_id=workspace.pk, as_of=AS_OF)
    delay.assert_not_called()

    Connection.objects.create(workspace=workspace, crm="hubspot", status=Connection.Status.ACTIVE)
    HealthScore.objects.all().delete()
    for customer in scored:
        customer.health_score = None
        customer.save()
    with mock.patch("integrations.tasks.push_customer_scores.delay") as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            services.health_compute(workspace_id=workspace.pk, as_of=AS_OF)
        delay.assert_not_called()  # not before the commit
        for callback in callbacks:
            callback()
    assert sorted(call.args[0] for call in delay.call_args_list) == sorted(c.pk for c in scored)
    # Same inputs again: no score changes, nothing pushed.
    with (
        mock.patch("integrations.tasks.push_customer_scores.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.health_compute(workspace_id=workspace.pk, as_of=AS_OF)
    delay.assert_not_called()


def test_churned_customers_are_not_scored(workspace, scored):
    churned = CustomerFactory(workspace=workspace, phase=phase(workspace, "churn"))
    services.health_compute(workspace_id=workspace.pk, as_of=AS_OF)
    assert not HealthScore.objects.filter(customer=churned).exists()


def test_a_pulse_set_through_the_customer_service_is_kept_in_the_history(customer, csm_membership):
    customer_set_pulse(
        customer=customer, actor=Actor.for_user(csm_membership.user), pulse=2, note="Budget cut"
    )
    customer_set_pulse(customer=customer, actor=Actor.for_user(csm_membership.user), pulse=4, note="Better")
    entries = list(PulseEntry.objects.filter(customer=customer))
    assert [(e.pulse, e.note) for e in entries] == [(4, "Better"), (2, "Budget cut")]
    assert entries[0].set_by == csm_membership.user


def test_the_computation_reads_a_fixed_number_of_queries_whatever_the_customers(workspace):
    def build(count, offset):
        for i in range(count):
            customer = CustomerFactory(workspace=workspace, name=f"Q{offset + i}")
            _usage(customer, i)
            _calls(customer, 1)
            _pulse(customer, 3, days_ago=3)
            AgreementFactory(customer=customer)

    build(6, 0)
    with CaptureQueriesContext(connection) as few:
        services.health_compute(workspace_id=workspace.pk, as_of=AS_OF)
    build(30, 100)
    with CaptureQueriesContext(connection) as many:
        services.health_compute(workspace_id=workspace.pk, as_of=AS_OF + dt.timedelta(days=7))
    assert len(many) <= len(few) + 2  # at most a score value more to update
    assert len(many) < 25


def test_week_of_is_the_monday(db):
    assert services.week_of(AS_OF) == dt.date(2025, 3, 3)
    assert services.week_of(timezone.now()).weekday() == 0
