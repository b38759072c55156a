import datetime as dt
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.changes import Actor
from customers.services import contact_create, customer_create
from healthscore import services
from healthscore.models import UsageDaily, UsageEvent
from tests.factories import ContactFactory, CustomerFactory

URL = "/health/events/"


@pytest.fixture
def token(workspace, admin_membership):
    _credential, token = services.usage_credential_create(
        workspace_id=workspace.pk, name="Web app", user=admin_membership.user
    )
    return token


def _post(client, token, payload, *, raw=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    body = raw if raw is not None else json.dumps(payload)
    return client.post(URL, data=body, content_type="application/json", **headers)


def _event(**fields):
    event = {"event_id": "e1", "name": "login", "time": (timezone.now() - dt.timedelta(hours=1)).isoformat()}
    event.update(fields)
    return {k: v for k, v in event.items() if v is not None}


def test_the_url_is_routed():
    assert reverse("healthscore:events") == URL


def test_a_batch_of_known_identities_is_stored_and_attached(client, token, workspace):
    contact = ContactFactory(customer=CustomerFactory(workspace=workspace), email="ann@client.com")
    by_ref = CustomerFactory(workspace=workspace, ref_id="CUST-42")
    response = _post(
        client,
        token,
        {
            "events": [
                _event(email="Ann@Client.com"),
                _event(event_id="e2", customer_id="CUST-42", time=int(timezone.now().timestamp())),
            ]
        },
    )
    assert response.status_code == 202, response.json()
    assert response.json()["accepted"] == 2
    assert response.json()["pending"] == 0
    first, second = UsageEvent.objects.order_by("event_id")
    assert (first.customer_id, first.contact_id, first.email) == (
        contact.customer_id,
        contact.pk,
        "ann@client.com",
    )
    assert second.customer_id == by_ref.pk


def test_a_duplicate_event_id_is_stored_once_and_reported(client, token, workspace):
    CustomerFactory(workspace=workspace, ref_id="C1")
    assert _post(client, token, _event(customer_id="C1")).status_code == 202
    response = _post(client, token, [_event(customer_id="C1"), _event(event_id="e9", customer_id="C1")])
    assert response.status_code == 202
    assert (response.json()["accepted"], response.json()["duplicates"]) == (1, 1)
    assert UsageEvent.objects.count() == 2


def test_the_same_event_id_twice_in_one_batch_is_refused(client, token):
    response = _post(client, token, [_event(customer_id="C1"), _event(customer_id="C1")])
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": 1, "field": "event_id", "message": "'e1' is also the id of event 0 in this batch."}
    ]
    assert not UsageEvent.objects.exists()


def test_bad_json_is_a_clear_400(client, token):
    response = _post(client, token, None, raw="{not json")
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]


@pytest.mark.parametrize(
    ("event", "field", "words"),
    [
        (_event(customer_id="C1", event_id=None), "event_id", "'event_id' is required"),
        (_event(customer_id="C1", name=None), "name", "'name' is required"),
        (_event(), "email", "'email' (a contact's email) or 'customer_id'"),
        (_event(customer_id="C1", time=None), "time", "'time' is required"),
        (_event(customer_id="C1", time="yesterday"), "time", "not a date and time"),
        (_event(customer_id="C1", time="2025-01-06T09:30:00"), "time", "has no timezone"),
        (
            _event(customer_id="C1", time=(timezone.now() + dt.timedelta(days=3)).isoformat()),
            "time",
            "in the future",
        ),
        (_event(customer_id="C1", time="2001-01-01T00:00:00Z"), "time", "more than 365 days ago"),
        (_event(email="not-an-email"), "email", "is not an email address"),
        (_event(customer_id={"id": 1}), "customer_id", "must be a string"),
        (_event(customer_id="C1", name="x" * 201), "name", "longer than 200"),
    ],
)
def test_each_bad_field_is_named_and_nothing_of_the_batch_is_stored(client, token, event, field, words):
    response = _post(client, token, {"events": [_event(event_id="ok", customer_id="C1"), event]})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [(1, field)]
    assert words in errors[0]["message"]
    assert "nothing was stored" in response.json()["error"]
    assert not UsageEvent.objects.exists()


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"events": "x"}, "must be a list"),
        ({"events": []}, "is empty"),
        ([1], "must be a JSON object"),
        ("text", "must be a list"),
    ],
)
def test_a_malformed_envelope_is_a_400(client, token, payload, words):
    response = _post(client, token, payload)
    assert response.status_code == 400
    assert words in response.json()["errors"][0]["message"]


def test_too_many_events_are_refused(client, token):
    response = _post(client, token, [_event(event_id=str(i), customer_id="C") for i in range(1001)])
    assert response.status_code == 400
    assert "At most 1000" in response.json()["errors"][0]["message"]


def test_a_missing_unknown_or_revoked_credential_is_401(client, token, workspace):
    assert _post(client, None, _event(customer_id="C1")).status_code == 401
    unknown = _post(client, "sku_nope", _event(customer_id="C1"))
    assert unknown.status_code == 401
    assert "Unknown or revoked" in unknown.json()["error"]
    credential = services.usage_credential_for_token(token)
    services.usage_credential_revoke(credential=credential)
    assert _post(client, token, _event(customer_id="C1")).status_code == 401
    assert not UsageEvent.objects.exists()


def test_get_is_405_and_no_csrf_token_is_needed(client, token):
    from django.test import Client

    assert client.get(URL).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    assert _post(strict, token, _event(customer_id="C1")).status_code == 202


def test_events_stay_in_their_workspace(client, token, other_workspace):
    CustomerFactory(workspace=other_workspace, ref_id="C1")
    response = _post(client, token, _event(customer_id="C1"))
    assert response.json()["pending"] == 1
    assert UsageEvent.objects.get().customer_id is None


def test_pending_events_are_attached_when_the_contact_appears_and_aggregated(
    client, token, workspace, admin_membership
):
    now = timezone.now()
    day = (now - dt.timedelta(hours=1)).astimezone(dt.UTC).date()
    response = _post(
        client,
        token,
        [
            _event(event_id="a", email="new@client.com"),
            _event(event_id="b", email="new@client.com"),
            _event(event_id="c", customer_id="LATER"),
        ],
    )
    assert response.json()["pending"] == 3
    result = services.usage_events_aggregate()
    assert (result.attached, result.aggregated) == (0, 0)

    actor = Actor.for_user(admin_membership.user)
    customer = CustomerFactory(workspace=workspace)
    contact = contact_create(
        customer=customer, actor=actor, first_name="New", secondary_emails=["new@client.com"]
    )
    later = customer_create(workspace=workspace, actor=actor, name="Later Inc", ref_id="LATER")
    result = services.usage_events_aggregate()
    assert result.attached == 3
    assert UsageEvent.objects.filter(contact=contact).count() == 2
    assert UsageDaily.objects.get(customer=customer).events == 2
    assert UsageDaily.objects.get(customer=customer).users == 1
    assert UsageDaily.objects.get(customer=later).day == day
    # A second pass changes nothing; a new event recounts its day.
    services.usage_events_aggregate()
    assert UsageDaily.objects.get(customer=customer).events == 2
    _post(client, token, _event(event_id="d", email="new@client.com"))
    services.usage_events_aggregate()
    assert UsageDaily.objects.get(customer=customer).events == 3


def test_pending_events_are_dropped_after_90_days(workspace, token):
    credential = services.usage_credential_for_token(token)
    UsageEvent.objects.create(
        workspace=workspace,
        event_id="old",
        name="x",
        occurred_at=timezone.now(),
        email="x@y.z",
        credential=credential,
        received_at=timezone.now() - dt.timedelta(days=91),
    )
    assert services.usage_events_aggregate().purged_pending == 1
    assert not UsageEvent.objects.exists()
