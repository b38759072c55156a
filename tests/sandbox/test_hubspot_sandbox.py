"""The fake HubSpot answers like the real one: OAuth, search with its operators and its 10,000 cap, batch
reads, v4 associations, properties, limits and error bodies; and the real connector works against it over HTTP."""

from __future__ import annotations

import datetime as dt
import gc
import json
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from customers.models import Contact
from integrations.base import ReadRequest
from integrations.crms.hubspot import HubSpot
from integrations.http import CrmHttp
from integrations.models import ObjectType, SyncRun
from integrations.sync import sync_connection
from sandbox.common import issue_pair
from sandbox.demo import connect_demo_hubspot
from sandbox.hubspot import schema, store, views
from sandbox.hubspot.seed import seed
from sandbox.models import SandboxAccount, SandboxAssociation, SandboxCall, SandboxRecord, SandboxToken
from tests.factories import WorkspaceFactory
from tests.integrations.contract import read_all
from tests.sandbox_settings import point_crms_at_sandbox

API = "/sandbox/hubspot"
APP = "/sandbox/hubspot-app"
REDIRECT = "http://testserver/integrations/hubspot/callback"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
PORTAL = schema.DEFAULT_ACCOUNT


@pytest.fixture
def sandbox(settings):
    settings.SANDBOX_ENABLED = True
    settings.SANDBOX_BASE_URL = "http://testserver"
    settings.CRM_SETTINGS = {
        **settings.CRM_SETTINGS,
        "hubspot": {
            **settings.CRM_SETTINGS["hubspot"],
            "client_id": "hs-client",
            "client_secret": "hs-secret",
        },
    }
    return settings


@pytest.fixture
def token(sandbox, db) -> str:
    access, _ = issue_pair(
        crm="hubspot", account_id=schema.DEFAULT_ACCOUNT, user_email=schema.DEFAULT_USER, ttl_seconds=1800
    )
    return access.value


def company(external_id: str, minutes: int, **properties: Any) -> SandboxRecord:
    modified = T0 + dt.timedelta(minutes=minutes)
    values = {
        "name": f"Company {external_id}",
        "domain": f"c{external_id}.test",
        "lifecyclestage": "customer",
    }
    return store.new_record(PORTAL, "companies", external_id, values | properties, created=T0, modified=modified)


@pytest.fixture
def companies(token) -> list[SandboxRecord]:
    rows = [
        company("1000000001", 1),
        company("1000000002", 2, lifecyclestage="evangelist", numberofemployees="40"),
        company("1000000003", 3, lifecyclestage="lead", domain=""),
        company("1000000004", 4, name="ACME Labs", numberofemployees="800", customer_tier="gold"),
        company("1000000005", 5, lifecyclestage="opportunity", numberofemployees="12"),
    ]
    return SandboxRecord.objects.bulk_create(rows)


def call(client, method: str, path: str, token: str | None = None, body: Any = None, **extra: Any):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    data = json.dumps(body) if body is not None else None
    return client.generic(
        method, f"{API}{path}", data or "", content_type="application/json", **headers, **extra
    )


def search(client, token: str, **body: Any) -> Any:
    response = call(client, "POST", "/crm/v3/objects/companies/search", token, body)
    assert response.status_code == 200, response.content
    return response.json()


def ids(answer: dict[str, Any]) -> list[str]:
    return [r["id"] for r in answer["results"]]


def ms(moment: dt.datetime) -> str:
    return str(int(moment.timestamp()) * 1000)


# -- the switch ---------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_every_url_is_a_404_while_the_sandbox_is_off(client, settings) -> None:
    settings.SANDBOX_ENABLED = False
    assert client.get(f"{APP}/oauth/authorize?client_id=x").status_code == 404
    assert client.post(f"{API}/oauth/v1/token", {"grant_type": "refresh_token"}).status_code == 404
    assert call(client, "POST", "/crm/v3/objects/companies/search", "t", {}).status_code == 404


# -- OAuth --------------------------------------------------------------------------------------------------
def authorize_url(**params: str) -> str:
    query = {"client_id": "hs-client", "redirect_uri": REDIRECT, "scope": "oauth crm.objects.companies.read"}
    return f"{APP}/oauth/authorize?" + "&".join(f"{k}={v}" for k, v in (query | params).items())


@pytest.mark.django_db
def test_the_consent_page_names_the_portal_and_refuses_strangers(client, sandbox) -> None:
    page = client.get(authorize_url(state="s1"))
    assert page.status_code == 200
    assert b"Allow Skalin to access a Sandbox portal?" in page.content
    assert b"<form method='post'>" in page.content
    assert b"value='12345678' checked> Demo SaaS" in page.content
    assert client.get(authorize_url(client_id="someone-else")).status_code == 400
    assert client.get(authorize_url(redirect_uri="https://evil.example/cb")).status_code == 400


@pytest.mark.django_db
def test_a_code_buys_tokens_which_refresh(client, sandbox) -> None:
    allowed = client.post(authorize_url(state="s1"), {"decision": "allow"})
    assert allowed.status_code == 302
    target = urlsplit(allowed["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == REDIRECT
    query = parse_qs(target.query)
    assert query["state"] == ["s1"]
    exchange = {"grant_type": "authorization_code", "client_id": "hs-client", "client_secret": "hs-secret",
                "redirect_uri": REDIRECT, "code": query["code"][0]}  # fmt: skip
    tokens = client.post(f"{API}/oauth/v1/token", exchange)
    assert tokens.status_code == 200
    body = tokens.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 1800
    info = client.get(f"{API}/oauth/v1/access-tokens/{body['access_token']}").json()
    assert info["hub_id"] == 12345678 and info["user"] == schema.DEFAULT_USER and info["expires_in"] > 1700

    again = client.post(f"{API}/oauth/v1/token", exchange)  # a code works once
    assert again.status_code == 400 and again.json()["status"] == "BAD_AUTH_CODE"
    assert again.json()["error"] == "invalid_grant"

    refresh = {"grant_type": "refresh_token", "client_id": "hs-client", "client_secret": "hs-secret",
               "refresh_token": body["refresh_token"]}  # fmt: skip
    refreshed = client.post(f"{API}/oauth/v1/token", refresh).json()
    assert refreshed["access_token"] != body["access_token"]
    assert refreshed["refresh_token"] == body["refresh_token"]
    assert call(client, "GET", "/crm/v3/pipelines/deals", refreshed["access_token"]).status_code == 200

    bad = client.post(f"{API}/oauth/v1/token", refresh | {"refresh_token": "rt-unknown"})
    assert bad.status_code == 400
    assert bad.json()["status"] == "BAD_REFRESH_TOKEN" and bad.json()["error"] == "invalid_grant"
    assert (
        client.post(f"{API}/oauth/v1/token", refresh | {"client_secret": "no"}).json()["error"]
        == "invalid_client"
    )


@pytest.mark.django_db
def test_a_code_is_bound_to_its_redirect_uri_and_cancel_says_access_denied(client, sandbox) -> None:
    code = parse_qs(urlsplit(client.post(authorize_url(), {"decision": "allow"})["Location"]).query)["code"][
        0
    ]
    exchange = {"grant_type": "authorization_code", "client_id": "hs-client", "client_secret": "hs-secret",
                "redirect_uri": "http://testserver/elsewhere", "code": code}  # fmt: skip
    assert client.post(f"{API}/oauth/v1/token", exchange).json()["error"] == "invalid_grant"
    denied = client.post(authorize_url(state="s2"), {"decision": "deny"})
    assert parse_qs(urlsplit(denied["Location"]).query) == {"error": ["access_denied"], "state": ["s2"]}


@pytest.mark.django_db
def test_a_call_without_a_valid_token_gets_hubspots_401(client, token) -> None:
    missing = call(client, "GET", "/crm/v3/objects/companies")
    assert missing.status_code == 401
    assert missing.json()["category"] == "INVALID_AUTHENTICATION"
    assert missing.json()["message"].startswith("Authentication credentials not found")
    SandboxToken.objects.filter(value=token).update(
        expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=3)
    )
    expired = call(client, "GET", "/crm/v3/objects/companies", token)
    assert expired.status_code == 401 and expired.json()["category"] == "EXPIRED_AUTHENTICATION"


# -- search -------------------------------------------------------------------------------------------------
def test_search_filters_by_lifecycle_stage_and_modification_time(client, token, companies) -> None:
    answer = search(
        client, token, limit=200, after="0",
        filterGroups=[{"filters": [
            {"propertyName": "lifecyclestage", "operator": "IN", "values": ["customer", "evangelist"]},
            {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": ms(T0 + dt.timedelta(minutes=2))},
        ]}],
        sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
        properties=["name", "lifecyclestage"],
    )  # fmt: skip
    assert answer["total"] == 2 and ids(answer) == ["1000000002", "1000000004"]
    first = answer["results"][0]
    assert set(first["properties"]) == {
        "name",
        "lifecyclestage",
        "createdate",
        "hs_lastmodifieddate",
        "hs_object_id",
    }
    assert first["properties"]["hs_lastmodifieddate"] == "2026-01-01T00:02:00.000Z"
    assert first["updatedAt"] == "2026-01-01T00:02:00.000Z" and first["archived"] is False


def test_search_sorts_and_pages_with_after(client, token, companies) -> None:
    sorts = [{"propertyName": "hs_lastmodifieddate", "direction": "DESCENDING"}]
    first = search(client, token, limit=2, sorts=sorts)
    assert ids(first) == ["1000000005", "1000000004"] and first["paging"] == {"next": {"after": "2"}}
    last = search(client, token, limit=2, after="4", sorts=sorts)
    assert ids(last) == ["1000000001"] and "paging" not in last
    by_size = search(client, token, sorts=[{"propertyName": "numberofemployees", "direction": "ASCENDING"}])
    assert ids(by_size)[:3] == ["1000000005", "1000000002", "1000000004"]  # numbers as numbers, unset last


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ([{"propertyName": "lifecyclestage", "operator": "NEQ", "value": "customer"}], ["2", "3", "5"]),
        (
            [{"propertyName": "lifecyclestage", "operator": "NOT_IN", "values": ["customer", "lead"]}],
            ["2", "5"],
        ),
        ([{"propertyName": "numberofemployees", "operator": "GT", "value": "40"}], ["4"]),
        ([{"propertyName": "numberofemployees", "operator": "LTE", "value": "40"}], ["2", "5"]),
        ([{"propertyName": "numberofemployees", "operator": "LT", "value": "13"}], ["5"]),
        ([{"propertyName": "numberofemployees", "operator": "GTE", "value": "800"}], ["4"]),
        ([{"propertyName": "domain", "operator": "NOT_HAS_PROPERTY"}], ["3"]),
        ([{"propertyName": "customer_tier", "operator": "HAS_PROPERTY"}], ["4"]),
        ([{"propertyName": "name", "operator": "EQ", "value": "acme labs"}], ["4"]),  # case-insensitive
        ([{"propertyName": "name", "operator": "CONTAINS_TOKEN", "value": "acme*"}], ["4"]),
        ([{"propertyName": "hs_object_id", "operator": "GT", "value": "1000000003"}], ["4", "5"]),
        ([{"propertyName": "createdate", "operator": "LT", "value": ms(T0)}], []),
    ],
)
def test_search_operators(
    client, token, companies, filters: list[dict[str, Any]], expected: list[str]
) -> None:
    answer = search(client, token, filterGroups=[{"filters": filters}])
    assert [i[-1] for i in ids(answer)] == expected


def test_filter_groups_are_ored_and_filters_anded(client, token, companies) -> None:
    groups = [
        {"filters": [{"propertyName": "lifecyclestage", "operator": "EQ", "value": "lead"}]},
        {"filters": [
            {"propertyName": "lifecyclestage", "operator": "IN", "values": ["customer"]},
            {"propertyName": "numberofemployees", "operator": "HAS_PROPERTY"},
        ]},
    ]  # fmt: skip
    assert ids(search(client, token, filterGroups=groups)) == ["1000000003", "1000000004"]


def test_search_refuses_more_than_200_a_page_and_paging_past_10000(client, token, companies) -> None:
    too_big = call(client, "POST", "/crm/v3/objects/companies/search", token, {"limit": 201})
    assert too_big.status_code == 400 and too_big.json()["category"] == "VALIDATION_ERROR"
    past_cap = call(
        client, "POST", "/crm/v3/objects/companies/search", token, {"limit": 200, "after": "9900"}
    )
    assert past_cap.status_code == 400
    assert {"status", "message", "correlationId", "category"} <= set(past_cap.json())


def test_the_cap_is_announced_but_not_passable(client, token, companies, monkeypatch) -> None:
    monkeypatch.setattr(store, "SEARCH_CAP", 4)
    at_cap = search(client, token, limit=2, after="2")
    assert at_cap["total"] == 5 and at_cap["paging"] == {"next": {"after": "4"}}
    refused = call(client, "POST", "/crm/v3/objects/companies/search", token, {"limit": 2, "after": "4"})
    assert refused.status_code == 400 and refused.json()["category"] == "VALIDATION_ERROR"


# -- records ------------------------------------------------------------------------------------------------
def test_a_patch_changes_the_record_and_its_modification_time(client, token, companies) -> None:
    changed = call(
        client,
        "PATCH",
        "/crm/v3/objects/companies/1000000001",
        token,
        {"properties": {"name": "Renamed", "numberofemployees": 7}},
    )
    assert changed.status_code == 200
    body = changed.json()
    assert body["id"] == "1000000001" and body["properties"]["name"] == "Renamed"
    assert body["properties"]["numberofemployees"] == "7"  # HubSpot keeps strings
    record = SandboxRecord.objects.get(external_id="1000000001")
    assert record.updated_at > T0 + dt.timedelta(minutes=1)
    assert (
        record.properties["hs_lastmodifieddate"]
        == store.iso(record.updated_at)
        == body["properties"]["hs_lastmodifieddate"]
    )
    latest = search(
        client, token, sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "DESCENDING"}], limit=1
    )
    assert ids(latest) == ["1000000001"]
    got = call(client, "GET", "/crm/v3/objects/companies/1000000001?properties=name", token).json()
    assert got["properties"]["name"] == "Renamed"


def test_a_patch_of_an_unknown_or_read_only_property_is_refused(client, token, companies) -> None:
    unknown = call(
        client, "PATCH", "/crm/v3/objects/companies/1000000001", token, {"properties": {"nope": "1"}}
    )
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["code"] == "PROPERTY_DOESNT_EXIST"
    read_only = call(
        client, "PATCH", "/crm/v3/objects/companies/1000000001", token, {"properties": {"hs_object_id": "9"}}
    )
    assert read_only.status_code == 400 and read_only.json()["errors"][0]["code"] == "READ_ONLY_VALUE"
    missing = call(client, "PATCH", "/crm/v3/objects/companies/42", token, {"properties": {"name": "x"}})
    assert missing.status_code == 404 and missing.json()["category"] == "OBJECT_NOT_FOUND"


def test_the_list_pages_and_shows_archived_records_apart(client, token, companies) -> None:
    first = call(client, "GET", "/crm/v3/objects/companies?limit=3&properties=name", token).json()
    assert ids(first) == ["1000000001", "1000000002", "1000000003"]
    after = first["paging"]["next"]["after"]
    rest = call(client, "GET", f"/crm/v3/objects/companies?limit=3&after={after}", token).json()
    assert ids(rest) == ["1000000004", "1000000005"] and "paging" not in rest
    assert call(client, "DELETE", "/crm/v3/objects/companies/1000000005", token).status_code == 204
    archived = call(client, "GET", "/crm/v3/objects/companies?archived=true", token).json()
    assert ids(archived) == ["1000000005"] and archived["results"][0]["archived"] is True
    assert "1000000005" not in ids(search(client, token))


def test_a_batch_read_reports_missing_ids_with_207(client, token, companies) -> None:
    inputs = [{"id": "1000000002"}, {"id": "999"}]
    answer = call(
        client,
        "POST",
        "/crm/v3/objects/companies/batch/read",
        token,
        {"inputs": inputs, "properties": ["name"]},
    )
    assert answer.status_code == 207
    assert ids(answer.json()) == ["1000000002"]
    assert answer.json()["errors"][0]["context"] == {"ids": ["999"]}
    too_many = call(
        client,
        "POST",
        "/crm/v3/objects/companies/batch/read",
        token,
        {"inputs": [{"id": str(n)} for n in range(101)]},
    )
    assert too_many.status_code == 400


def test_v4_associations_read_in_batch_and_one_by_one(client, token, companies, monkeypatch) -> None:
    SandboxRecord.objects.bulk_create(
        store.new_record(PORTAL, "contacts", str(2000000001 + n), {"email": f"p{n}@c.test"}, created=T0, modified=T0) for n in range(3)
    )  # fmt: skip
    SandboxAssociation.objects.bulk_create(
        row
        for n in range(3)
        for row in store.association_pair(PORTAL, "contacts", str(2000000001 + n), "1000000001", 279)
    )
    answer = call(client, "POST", "/crm/v4/associations/companies/contacts/batch/read", token,
                  {"inputs": [{"id": "1000000001"}, {"id": "1000000002"}]})  # fmt: skip
    assert answer.status_code == 207
    result = answer.json()["results"][0]
    assert result["from"] == {"id": "1000000001"}
    assert result["to"][0] == {
        "toObjectId": 2000000001,
        "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 280, "label": None}],
    }
    assert answer.json()["errors"][0]["subCategory"] == "crm.associations.NO_ASSOCIATIONS_FOUND"
    monkeypatch.setattr(views, "ASSOCIATIONS_PAGE", 2)
    page = call(client, "GET", "/crm/v4/objects/companies/1000000001/associations/contacts", token).json()
    assert [t["toObjectId"] for t in page["results"]] == [2000000001, 2000000002]
    more = call(
        client,
        "GET",
        f"/crm/v4/objects/company/1000000001/associations/contact?after={page['paging']['next']['after']}",
        token,
    ).json()
    assert [t["toObjectId"] for t in more["results"]] == [2000000003] and "paging" not in more


def test_changed_contacts_and_engagements_are_searched_and_lead_to_their_companies(
    client, token, companies
) -> None:
    """What an incremental read of dependents asks: a search on the object's own stamp (contacts:
    lastmodifieddate), a crowded millisecond walked by id, then the associations from the record's side."""
    crowded, later = T0 + dt.timedelta(minutes=1), T0 + dt.timedelta(minutes=5)
    SandboxRecord.objects.bulk_create(
        [*(store.new_record(PORTAL, "contacts", str(2000000001 + n), {"email": f"p{n}@c.test"}, created=T0,
                            modified=crowded) for n in range(3)),
         store.new_record(PORTAL, "contacts", "2000000009", {"email": "late@c.test"}, created=T0, modified=later),
         store.new_record(PORTAL, "emails", "5000000001", {"hs_email_subject": "Hi"}, created=T0, modified=later)]
    )  # fmt: skip
    SandboxAssociation.objects.bulk_create(
        [*store.association_pair(PORTAL, "contacts", "2000000002", "1000000001", 279),
         *store.association_pair(PORTAL, "emails", "5000000001", "1000000002", 186)]
    )  # fmt: skip
    stamp = {"propertyName": "lastmodifieddate", "operator": "GTE", "value": ms(crowded)}
    sort = [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]
    body = {"filterGroups": [{"filters": [stamp]}], "sorts": sort, "limit": 200, "after": "0"}
    found = call(client, "POST", "/crm/v3/objects/contacts/search", token, body).json()
    assert ids(found)[-1] == "2000000009" and found["total"] == 4
    assert found["results"][-1]["properties"]["lastmodifieddate"] == "2026-01-01T00:05:00.000Z"
    tie = [{"propertyName": "lastmodifieddate", "operator": "EQ", "value": ms(crowded)},
           {"propertyName": "hs_object_id", "operator": "GT", "value": "2000000001"}]  # fmt: skip
    body = {
        "filterGroups": [{"filters": tie}],
        "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
    }
    assert ids(call(client, "POST", "/crm/v3/objects/contacts/search", token, body).json()) == [
        "2000000002", "2000000003"
    ]  # fmt: skip
    emails = {
        "filterGroups": [
            {"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GT", "value": ms(crowded)}]}
        ]
    }
    assert ids(call(client, "POST", "/crm/v3/objects/emails/search", token, emails).json()) == ["5000000001"]
    linked = call(client, "POST", "/crm/v4/associations/contacts/companies/batch/read", token,
                  {"inputs": [{"id": "2000000002"}, {"id": "2000000003"}]})  # fmt: skip
    assert linked.status_code == 207  # 2000000003 has no company
    assert linked.json()["results"] == [{"from": {"id": "2000000002"}, "to": [{
        "toObjectId": 1000000001,
        "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 279, "label": None}],
    }]}]  # fmt: skip
    email = call(client, "POST", "/crm/v4/associations/emails/companies/batch/read", token,
                 {"inputs": [{"id": "5000000001"}]}).json()  # fmt: skip
    assert [t["toObjectId"] for t in email["results"][0]["to"]] == [1000000002]


def test_an_engagement_is_created_with_its_associations(client, token, companies) -> None:
    body = {
        "properties": {"hs_timestamp": "2026-01-09T10:00:00Z", "hs_note_body": "QBR went well"},
        "associations": [{"to": {"id": "1000000004"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 190}]}],
    }  # fmt: skip
    created = call(client, "POST", "/crm/v3/objects/notes", token, body)
    assert created.status_code == 201
    note_id = created.json()["id"]
    assert created.json()["properties"]["hs_note_body"] == "QBR went well"
    links = call(
        client,
        "POST",
        "/crm/v4/associations/companies/notes/batch/read",
        token,
        {"inputs": [{"id": "1000000004"}]},
    )
    assert links.json()["results"][0]["to"][0]["toObjectId"] == int(note_id)
    assert links.json()["results"][0]["to"][0]["associationTypes"][0]["typeId"] == 189
    wrong = body | {
        "associations": [
            {
                "to": {"id": "1000000004"},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 280}],
            }
        ]
    }
    assert call(client, "POST", "/crm/v3/objects/notes", token, wrong).status_code == 400
    no_time = {"properties": {"hs_note_body": "x"}}
    assert call(client, "POST", "/crm/v3/objects/notes", token, no_time).status_code == 400


def test_properties_are_listed_created_once_and_conflict_after(client, token) -> None:
    listed = call(client, "GET", "/crm/v3/properties/companies", token).json()["results"]
    assert {"name", "domain", "lifecyclestage", "hs_lastmodifieddate"} <= {p["name"] for p in listed}
    body = {"name": "skalin_healthscore", "label": "Skalin Healthscore", "type": "number", "fieldType": "number",
            "groupName": "companyinformation"}  # fmt: skip
    created = call(client, "POST", "/crm/v3/properties/companies", token, body)
    assert created.status_code == 201 and created.json()["hubspotDefined"] is False
    again = call(client, "POST", "/crm/v3/properties/companies", token, body)
    assert again.status_code == 409 and again.json()["category"] == "OBJECT_ALREADY_EXISTS"
    stage = call(client, "GET", "/crm/v3/properties/companies/lifecyclestage", token).json()
    assert {"value": "customer", "label": "Customer"}.items() <= stage["options"][5].items()
    assert call(client, "GET", "/crm/v3/properties/companies/nope", token).status_code == 404


def test_deal_pipelines_mark_their_won_stages(client, token) -> None:
    pipelines = call(client, "GET", "/crm/v3/pipelines/deals", token).json()["results"]
    won = [
        s["id"]
        for p in pipelines
        for s in p["stages"]
        if s["metadata"] == {"isClosed": "true", "probability": "1.0"}
    ]
    assert won == ["closedwon", "1031002"]


# -- limits -------------------------------------------------------------------------------------------------
def test_calls_over_the_accounts_rate_limit_get_a_429(client, token) -> None:
    SandboxAccount.objects.create(
        crm="hubspot", account_id=schema.DEFAULT_ACCOUNT, rate_limit=2, rate_window_seconds=10
    )
    first = call(client, "GET", "/crm/v3/pipelines/deals", token)
    assert (
        first["X-HubSpot-RateLimit-Max"] == "2"
        and first["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    )
    searched = call(client, "POST", "/crm/v3/objects/companies/search", token, {})
    assert "X-HubSpot-RateLimit-Max" not in searched  # search answers carry no rate headers
    limited = call(client, "GET", "/crm/v3/pipelines/deals", token)
    assert limited.status_code == 429
    assert (
        limited.json()["policyName"] == "TEN_SECONDLY_ROLLING" and limited.json()["errorType"] == "RATE_LIMIT"
    )
    assert 1 <= int(limited["Retry-After"]) <= 10


def test_the_daily_limit_answers_with_the_daily_policy(client, token) -> None:
    SandboxAccount.objects.create(crm="hubspot", account_id=schema.DEFAULT_ACCOUNT, daily_limit=1)
    assert call(client, "GET", "/crm/v3/pipelines/deals", token).status_code == 200
    limited = call(client, "GET", "/crm/v3/pipelines/deals", token)
    assert limited.status_code == 429 and limited.json()["policyName"] == "DAILY"


# -- seed ---------------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_seed_is_repeatable_messy_and_replaces_the_portal() -> None:
    summary = seed(companies=40, random_seed=5)
    assert summary.startswith("portal 12345678: 40 companies")
    first = dict(
        SandboxRecord.objects.filter(object_type="companies").values_list("external_id", "properties")
    )
    seed(companies=40, random_seed=5)
    assert (
        dict(SandboxRecord.objects.filter(object_type="companies").values_list("external_id", "properties"))
        == first
    )
    assert SandboxAccount.objects.get(crm="hubspot").user_email == "admin@sandbox-hubspot.test"
    # Top <- child <- grandchild, with the association and the property agreeing.
    assert first["1000000003"]["hs_parent_company_id"] == "1000000002"
    assert first["1000000002"]["hs_parent_company_id"] == "1000000001"
    assert SandboxAssociation.objects.filter(from_id="1000000003", to_id="1000000002", type_id=14).exists()
    assert first["1000000008"]["name"] == "<b>Bold</b> Ventures & Co"
    assert any(not p["name"].isascii() for p in first.values())
    deals = [r.properties for r in SandboxRecord.objects.filter(object_type="deals")]
    assert any(d.get("contract_end_date") for d in deals) and any(
        d["hs_is_closed_won"] == "false" for d in deals
    )
    emails = {r.properties["hs_email_direction"] for r in SandboxRecord.objects.filter(object_type="emails")}
    assert {"INCOMING_EMAIL", "EMAIL"} <= emails
    notes = SandboxRecord.objects.filter(object_type="notes")
    assert max(len(n.properties["hs_note_body"]) for n in notes) > 60_000
    seed(companies=3, random_seed=5)
    assert SandboxRecord.objects.filter(object_type="companies").count() == 3


# -- the real connector over real HTTP ------------------------------------------------------------------------
class SandboxTokens:
    def __init__(self, value: str) -> None:
        self.value = value

    def access_token(self) -> str:
        return self.value

    def refresh(self) -> str:
        raise AssertionError("a fresh sandbox token needs no refresh")


def test_the_connector_reads_and_writes_the_sandbox_over_http(
    live_server, transactional_db, settings
) -> None:
    settings.SANDBOX_ENABLED = True
    settings.SANDBOX_BASE_URL = live_server.url
    seed(companies=30, random_seed=11)
    access, _ = issue_pair(
        crm="hubspot", account_id=schema.DEFAULT_ACCOUNT, user_email=schema.DEFAULT_USER, ttl_seconds=1800
    )
    http = CrmHttp(base_url=f"{live_server.url}/sandbox/hubspot", tokens=SandboxTokens(access.value))
    try:
        check_the_connector(HubSpot(http))
    finally:
        http.session.close()  # the live server's request threads must end before it stops


def check_the_connector(hubspot: HubSpot) -> None:
    assert hubspot.identity().account_id == schema.DEFAULT_ACCOUNT
    selection = {"lifecycle_stages": ["customer", "evangelist"], "filter_property": "", "filter_values": []}
    request = ReadRequest(ObjectType.CUSTOMERS, since=None, cursor=None, options={"selection": selection})
    read, _ = read_all(hubspot, request)
    expected = store.records(PORTAL, "companies").filter(properties__lifecyclestage__in=["customer", "evangelist"])
    assert sorted(read) == sorted(expected.values_list("external_id", flat=True)) and read

    names = hubspot.ensure_output_fields()
    assert hubspot.ensure_output_fields() == names  # found, not duplicated
    target = read[0]
    assert hubspot.write(ObjectType.CUSTOMERS, target, {names["health_score"]: 7}) == target
    assert hubspot.read_back(ObjectType.CUSTOMERS, target, [names["health_score"]]) == {
        "skalin_healthscore": "7"
    }

    contacts = hubspot.read_page(
        ReadRequest(ObjectType.CONTACTS, since=None, cursor=None, options={}, scope_ids=read)
    )
    assert contacts.records and all(set(r.links["customers"]) <= set(read) for r in contacts.records)
    check_the_dependent_reads(hubspot, scope=read[::2])


def check_the_dependent_reads(hubspot: HubSpot, scope: list[str]) -> None:
    """Full reads find every record linked to the synced companies; incremental ones (search on the
    modification time, then the associations) exactly those of them changed since the cursor."""
    for object_type, names, options in (
        (ObjectType.CONTACTS, ["contacts"], {}),
        (ObjectType.AGREEMENTS, ["deals"], {"won_only": False}),
        (ObjectType.INTERACTIONS, ["emails", "meetings", "calls", "notes"], {}),
    ):
        linked = SandboxAssociation.objects.filter(
            crm="hubspot", from_type="companies", from_id__in=scope, to_type__in=names
        ).values_list("to_id", flat=True)
        rows = SandboxRecord.objects.filter(
            crm="hubspot", object_type__in=names, archived=False, external_id__in=linked
        )
        stamps = sorted(row.updated_at for row in rows)
        since = stamps[len(stamps) // 2]
        base = ReadRequest(object_type, since=None, cursor=None, options=options, scope_ids=scope)
        full, _ = read_all(hubspot, base)
        assert sorted(full) == sorted(row.external_id for row in rows)
        changed, _ = read_all(hubspot, ReadRequest(**{**base.__dict__, "since": since}))
        assert sorted(changed) == sorted(row.external_id for row in rows if row.updated_at >= since)
        assert 0 < len(changed) < len(full), object_type


def test_an_incremental_sync_brings_the_changed_contacts_of_synced_customers_only(
    live_server, transactional_db, settings
):
    point_crms_at_sandbox(settings, live_server.url)
    connection, _ = connect_demo_hubspot(workspace=WorkspaceFactory(), companies=30)
    first = sync_connection(connection_id=connection.pk)
    assert first.status == SyncRun.Status.SUCCEEDED, first.errors
    synced = set(
        connection.refs.filter(object_type="customers", in_selection=True).values_list(
            "external_id", flat=True
        )
    )
    companies_of: dict[str, set[str]] = {}
    for contact, company in SandboxAssociation.objects.filter(
        crm="hubspot", from_type="contacts", to_type="companies"
    ).values_list("from_id", "to_id"):
        companies_of.setdefault(contact, set()).add(company)
    inside = next(c for c, linked in sorted(companies_of.items()) if linked & synced)
    outside = next(c for c, linked in sorted(companies_of.items()) if not linked & synced)
    store.update_properties(store.get_record(PORTAL, "contacts", inside), {"jobtitle": "Chief Happiness Officer"})
    store.update_properties(store.get_record(PORTAL, "contacts", outside), {"jobtitle": "Not one of ours"})

    settings.SANDBOX_RECORD_CALLS = True
    second = sync_connection(connection_id=connection.pk)
    assert second.status == SyncRun.Status.SUCCEEDED, second.errors
    assert second.by_object["contacts"].get("updated") == 1
    # Found by a search on the modification time, whose results' companies are read: two calls, where
    # reading every synced company's contacts again would take more.
    contact_calls = [
        path.removeprefix(API)
        for path in SandboxCall.objects.order_by("id").values_list("path", flat=True)
        if "/objects/contacts" in path or "/associations/contacts" in path or "/companies/contacts" in path
    ]
    assert contact_calls == [
        "/crm/v3/objects/contacts/search",
        "/crm/v4/associations/contacts/companies/batch/read",
    ]
    ref = connection.refs.get(object_type="contacts", external_id=inside)
    assert Contact.objects.get(pk=ref.local_id).title == "Chief Happiness Officer"
    assert not connection.refs.filter(object_type="contacts", external_id=outside).exists()
    # The runs' HTTP sessions keep their sockets open: closed now, the live server's request threads end
    # before this test's database goes (as the other tests close their session).
    gc.collect()
    for thread in threading.enumerate():
        if thread.name.endswith("(process_request_thread)"):
            thread.join(timeout=5)


def test_owners_are_listed_and_read_one_by_one(client, token):
    from sandbox.hubspot.seed import OWNERS, seed

    seed(companies=20, random_seed=3)
    listed = call(client, "GET", "/crm/v3/owners/?limit=2", token)
    assert listed.status_code == 200
    body = listed.json()
    assert [owner["email"] for owner in body["results"]] == [OWNERS[0][1], OWNERS[1][1]]
    assert body["paging"]["next"]["after"] == "2"
    one = call(client, "GET", f"/crm/v3/owners/{OWNERS[2][0]}", token)
    assert one.json()["email"] == OWNERS[2][1]
    assert call(client, "GET", "/crm/v3/owners/999", token).status_code == 404
    owned = [
        r
        for r in SandboxRecord.objects.filter(crm="hubspot", object_type="companies")
        if r.properties.get("hubspot_owner_id")
    ]
    assert owned
