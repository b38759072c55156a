"""The fake Pipedrive answers like the real one: OAuth with HTTP Basic client auth and `api_domain`, v2
cursor and v1 start/limit envelopes, won-deal filters, relationships, custom fields with hash keys, the
daily token budget and burst limit with Pipedrive's 429; and the real connector works against it."""

from __future__ import annotations

import base64
import datetime as dt
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from integrations.base import ConnectorError, ReadRequest, Record
from integrations.crms.pipedrive import Pipedrive
from integrations.http import CrmHttp
from integrations.models import ObjectType
from sandbox.common import issue_pair
from sandbox.models import SandboxAccount, SandboxRecord, SandboxToken
from sandbox.pipedrive import store
from sandbox.pipedrive.seed import MRR, seed
from tests.integrations.contract import read_all

API = "/sandbox/pipedrive/api"
OAUTH = "/sandbox/pipedrive-oauth/oauth"
REDIRECT = "http://testserver/integrations/pipedrive/callback"


@pytest.fixture
def sandbox(settings, db):
    settings.SANDBOX_ENABLED = True
    settings.SANDBOX_BASE_URL = "http://testserver"
    settings.CRM_SETTINGS = {
        **settings.CRM_SETTINGS,
        "pipedrive": {
            **settings.CRM_SETTINGS["pipedrive"],
            "client_id": "pd-client",
            "client_secret": "pd-secret",
        },
    }
    return settings


@pytest.fixture
def token(sandbox) -> str:
    access, _ = issue_pair(crm="pipedrive", account_id=store.DEFAULT_ACCOUNT, user_email=store.DEFAULT_USER,
                           ttl_seconds=3600)  # fmt: skip
    return access.value


@pytest.fixture
def seeded(token) -> str:
    seed(companies=60, random_seed=7)
    return token


def get(client, path: str, token: str, **params: Any):
    return client.get(f"{API}{path}", params, HTTP_AUTHORIZATION=f"Bearer {token}")


def basic(client_id: str = "pd-client", secret: str = "pd-secret") -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


# -- OAuth ------------------------------------------------------------------------------------------------------
def consent(client) -> str:
    query = {"client_id": "pd-client", "redirect_uri": REDIRECT, "state": "s1", "response_type": "code"}
    page = client.get(f"{OAUTH}/authorize", query)
    assert page.status_code == 200 and b"Allow" in page.content
    allowed = client.post(f"{OAUTH}/authorize?client_id=pd-client&redirect_uri={REDIRECT}&state=s1",
                          {"decision": "allow"})  # fmt: skip
    assert allowed.status_code == 302
    location = parse_qs(urlsplit(allowed["Location"]).query)
    assert location["state"] == ["s1"]
    return location["code"][0]


def test_the_token_endpoint_wants_basic_client_auth_and_names_the_api_domain(client, sandbox) -> None:
    code = consent(client)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    in_body = client.post(f"{OAUTH}/token", {**form, "client_id": "pd-client", "client_secret": "pd-secret"})
    assert in_body.status_code == 401 and in_body.json()["error"] == "invalid_client"
    wrong = client.post(f"{OAUTH}/token", form, HTTP_AUTHORIZATION=basic(secret="nope"))
    assert wrong.status_code == 401
    answer = client.post(f"{OAUTH}/token", form, HTTP_AUTHORIZATION=basic())
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["api_domain"] == "http://testserver/sandbox/pipedrive"
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599
    assert client.post(f"{OAUTH}/token", form, HTTP_AUTHORIZATION=basic()).json()["error"] == "invalid_grant"

    refresh = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    assert client.post(f"{OAUTH}/token", refresh).status_code == 401
    again = client.post(f"{OAUTH}/token", refresh, HTTP_AUTHORIZATION=basic()).json()
    assert again["access_token"] != body["access_token"] and again["refresh_token"] == body["refresh_token"]
    me = get(client, "/v1/users/me", again["access_token"]).json()["data"]
    assert str(me["company_id"]) == store.DEFAULT_ACCOUNT and me["email"] == store.DEFAULT_USER


def test_a_refused_consent_goes_back_with_an_error(client, sandbox) -> None:
    refused = client.post(f"{OAUTH}/authorize?client_id=pd-client&redirect_uri={REDIRECT}&state=s1",
                          {"decision": "deny"})  # fmt: skip
    assert "error=user_denied" in refused["Location"]
    assert (
        client.get(f"{OAUTH}/authorize", {"client_id": "other", "redirect_uri": REDIRECT}).status_code == 400
    )


def test_a_missing_or_unknown_token_gets_pipedrives_401(client, sandbox) -> None:
    answer = get(client, "/v2/organizations", "nope")
    assert answer.status_code == 401
    assert answer.json() == {"success": False, "error": "unauthorized access", "errorCode": 401,
                             "error_info": answer.json()["error_info"]}  # fmt: skip


# -- envelopes and paging -----------------------------------------------------------------------------------------
def test_v2_lists_page_by_cursor_until_next_cursor_is_null(client, seeded) -> None:
    ids, cursor = [], None
    for _ in range(100):
        params: dict[str, Any] = {"limit": 7, "sort_by": "update_time"}
        if cursor:
            params["cursor"] = cursor
        body = get(client, "/v2/organizations", seeded, **params).json()
        assert body["success"] is True
        ids += [o["id"] for o in body["data"]]
        cursor = body["additional_data"]["next_cursor"]
        if cursor is None:
            break
    assert sorted(ids) == list(range(1, 61))
    assert get(client, "/v2/organizations", seeded, limit=501).status_code == 400
    assert get(client, "/v2/organizations", seeded, cursor="garbage!").status_code == 400


def test_v1_lists_page_by_start_and_limit(client, seeded) -> None:
    first = get(client, "/v1/notes", seeded, start=0, limit=3).json()
    paging = first["additional_data"]["pagination"]
    assert paging == {"start": 0, "limit": 3, "more_items_in_collection": True, "next_start": 3}
    total = store.records("notes").count()
    last = get(client, "/v1/notes", seeded, start=total - 1, limit=3).json()
    assert (
        len(last["data"]) == 1 and last["additional_data"]["pagination"]["more_items_in_collection"] is False
    )
    note = first["data"][0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", note["update_time"])  # v1 times


def test_won_deals_and_won_deal_counts_agree(client, seeded) -> None:
    won = get(client, "/v2/deals", seeded, status="won", limit=500).json()["data"]
    assert won and all(d["status"] == "won" for d in won)
    with_won = {d["org_id"] for d in won}
    orgs = get(client, "/v2/organizations", seeded, limit=500, include_fields="won_deals_count").json()[
        "data"
    ]
    assert {o["id"] for o in orgs if o["won_deals_count"] > 0} == with_won
    assert len(with_won) < len(orgs)  # some organizations are not customers
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=30)).isoformat().replace("+00:00", "Z")
    recent = get(client, "/v2/deals", seeded, status="won", updated_since=since, limit=500).json()["data"]
    assert all(d["update_time"] >= since[:19] for d in recent) and len(recent) < len(won)
    assert get(client, "/v2/deals", seeded, status="maybe").status_code == 400


def test_relationships_include_a_three_level_chain(client, seeded) -> None:
    middle = get(client, "/v1/organizationRelationships", seeded, org_id=2).json()["data"]
    kinds = {
        (r["rel_owner_org_id"]["value"], r["rel_linked_org_id"]["value"], r["calculated_type"])
        for r in middle
    }
    assert kinds == {(1, 2, "parent"), (2, 3, "daughter")}
    assert get(client, "/v1/organizationRelationships", seeded).status_code == 400


def test_custom_fields_get_hash_keys_and_writes_are_validated(client, seeded) -> None:
    created = client.post(f"{API}/v1/organizationFields", {"name": "Skalin CSM Pulse", "field_type": "double"},
                          content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {seeded}")  # fmt: skip
    assert created.status_code == 201
    key = created.json()["data"]["key"]
    assert re.fullmatch(r"[0-9a-f]{40}", key)

    def patch(body: dict[str, Any]):
        return client.patch(f"{API}/v2/organizations/1", body, content_type="application/json",
                            HTTP_AUTHORIZATION=f"Bearer {seeded}")  # fmt: skip

    assert patch({"custom_fields": {key: 4}}).json()["data"]["custom_fields"][key] == 4
    assert get(client, "/v1/organizations/1", seeded).json()["data"][key] == 4  # v1: at the top level
    assert patch({"custom_fields": {"f" * 40: 1}}).status_code == 400
    assert patch({"custom_fields": {key: "four"}}).status_code == 400
    bad = patch({"colour": "red"})
    assert bad.status_code == 400 and bad.json()["success"] is False


def test_the_plan_caps_custom_fields_with_a_403(client, seeded) -> None:
    for n in range(40):
        answer = client.post(f"{API}/v1/dealFields", {"name": f"Field {n}", "field_type": "varchar"},
                             content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {seeded}")  # fmt: skip
        if answer.status_code != 201:
            break
    assert answer.status_code == 403 and answer.json()["code"] == "feature_capping_custom_fields_limit"


# -- the token budget ---------------------------------------------------------------------------------------------
def test_a_spent_daily_budget_answers_429_until_midnight(client, seeded) -> None:
    SandboxAccount.objects.filter(crm="pipedrive").update(daily_limit=25, calls_today=0)
    first = get(client, "/v2/organizations", seeded)
    assert first.status_code == 200 and first["x-daily-requests-left"] == "15"  # a v2 list costs 10 tokens
    assert get(client, "/v2/organizations", seeded).status_code == 200
    spent = get(client, "/v2/organizations", seeded)
    assert spent.status_code == 429
    assert spent.json()["success"] is False and spent.json()["error"] == "Request over limit"
    assert spent["x-daily-requests-left"] == "0" and spent["x-ratelimit-remaining"] == "0"
    assert 0 < int(spent["x-ratelimit-reset"]) <= 86_400
    # 5 tokens are left: a single v2 GET (1 token) still passes where a list (10) did not.
    assert get(client, "/v2/organizations/1", seeded).status_code == 200


def test_the_burst_limit_answers_429_with_a_short_reset(client, seeded) -> None:
    SandboxAccount.objects.filter(crm="pipedrive").update(rate_limit=1, rate_window_seconds=2)
    assert get(client, "/v2/persons", seeded).status_code == 200
    burst = get(client, "/v2/persons", seeded)
    assert burst.status_code == 429 and burst["Retry-After"] == "2" and burst["x-ratelimit-reset"] == "2"


# -- the seed -------------------------------------------------------------------------------------------------------
def test_the_seed_is_messy_and_repeatable(sandbox) -> None:
    summary = seed(companies=80, random_seed=4)
    assert "organizations with a won deal" in summary
    persons = list(store.records("persons"))
    assert any(not p.properties["emails"] for p in persons)
    assert any(p.properties["org_id"] is None for p in persons)
    deals = store.records("deals")
    assert {d.properties["pipeline_id"] for d in deals.filter(properties__status="won")} == {1, 2}
    assert any((d.properties["custom_fields"] or {}).get(MRR) for d in deals)
    assert {a.properties["type"] for a in store.records("activities")} >= {"call", "meeting", "email"}
    assert any(not o.properties["name"].isascii() for o in store.records("organizations"))
    first = sorted(store.records("organizations").values_list("properties__name", flat=True))
    seed(companies=80, random_seed=4)
    assert sorted(store.records("organizations").values_list("properties__name", flat=True)) == first


# -- the real connector over real HTTP ----------------------------------------------------------------------------
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
    seed(companies=700, random_seed=11)
    access, _ = issue_pair(crm="pipedrive", account_id=store.DEFAULT_ACCOUNT, user_email=store.DEFAULT_USER,
                           ttl_seconds=3600)  # fmt: skip
    http = CrmHttp(
        base_url=f"{live_server.url}/sandbox/pipedrive", tokens=SandboxTokens(access.value), max_inline_wait=0
    )
    try:
        check_the_connector(Pipedrive(http))
    finally:
        http.session.close()


def check_the_connector(pipedrive: Pipedrive) -> None:
    assert pipedrive.identity().account_id == store.DEFAULT_ACCOUNT
    options = {"parent_child": True}
    request = ReadRequest(ObjectType.CUSTOMERS, since=None, cursor=None, options=options)
    records: list[Record] = []
    pages, cursor = 0, None
    while True:
        page = pipedrive.read_page(ReadRequest(**{**request.__dict__, "cursor": cursor}))
        pages, records, cursor = pages + 1, records + page.records, page.next_cursor
        if cursor is None:
            break
    expected = {str(d.properties["org_id"]) for d in store.records("deals").filter(properties__status="won")}
    assert {r.external_id for r in records} == expected and len(records) == len(expected) and pages >= 2
    parents = {r.external_id: r.links.get("parent", [""])[0] for r in records}
    assert parents["2"] == "1" and parents["3"] == "2" and parents["1"] == ""
    enumerated: list[str] = []
    cursor = None
    while True:
        page = pipedrive.read_page(ReadRequest(ObjectType.CUSTOMERS, None, cursor, {}, ids_only=True))
        enumerated, cursor = enumerated + [r.external_id for r in page.records], page.next_cursor
        if cursor is None:
            break
    assert sorted(enumerated) == sorted(expected)
    again, _ = read_all(pipedrive, ReadRequest(ObjectType.CUSTOMERS, None, None, {}))
    assert len(again) == len(expected)  # a second walk on the same connector returns everything again

    keys = pipedrive.ensure_output_fields()
    assert Pipedrive(pipedrive.http).ensure_output_fields() == keys  # found again, not duplicated
    target = sorted(expected)[0]
    assert pipedrive.write(ObjectType.CUSTOMERS, target, {keys["csm_pulse"]: 4, "name": "Renamed"}) == target
    assert pipedrive.read_back(ObjectType.CUSTOMERS, target, [keys["csm_pulse"], "name"]) == {
        keys["csm_pulse"]: 4, "name": "Renamed"}  # fmt: skip

    scope = sorted(expected)
    persons, _ = read_all(pipedrive, ReadRequest(ObjectType.CONTACTS, None, None, {}, scope_ids=scope))
    wanted = {p.external_id for p in store.records("persons") if str(p.properties["org_id"]) in expected}
    assert set(persons) == wanted
    few, _ = read_all(pipedrive, ReadRequest(ObjectType.CONTACTS, None, None, {}, scope_ids=scope[:3]))
    assert set(few) == {
        p for p in wanted if str(store.get_record("persons", p).properties["org_id"]) in scope[:3]
    }

    deals = pipedrive.read_page(
        ReadRequest(ObjectType.AGREEMENTS, None, None, {"pipelines": ["2"]}, scope_ids=scope)
    )
    assert deals.records and all(
        r.fields["status"] == "won" and r.fields["pipeline_id"] == 2 for r in deals.records
    )
    assert any(r.fields.get(MRR) for r in deals.records)

    kinds = {"kinds": ["note", "call", "meeting", "email"]}
    interactions, _ = read_all(
        pipedrive, ReadRequest(ObjectType.INTERACTIONS, None, None, kinds, scope_ids=scope)
    )
    assert any(i.startswith("note-") for i in interactions) and any(
        i.startswith("activity-") for i in interactions
    )
    created = pipedrive.write(ObjectType.INTERACTIONS, None, {"kind": "call", "subject": "QBR", "body": "ok",
                              "occurred_at": "2026-01-05T10:00:00+00:00"}, {"customers": [target], "contacts": []})  # fmt: skip
    assert created.startswith("activity-")
    assert store.get_record("activities", created.removeprefix("activity-")).properties["org_id"] == int(
        target
    )

    SandboxAccount.objects.filter(crm="pipedrive").update(daily_limit=1, calls_today=1)
    with pytest.raises(ConnectorError) as spent:
        pipedrive.read_page(request)
    assert spent.value.rate_limited and spent.value.retry_after and spent.value.retry_after > 60
    assert SandboxToken.objects.filter(crm="pipedrive", value=pipedrive.http.tokens.access_token()).exists()  # type: ignore[union-attr]
    assert SandboxRecord.objects.filter(crm="pipedrive", object_type="organizationFields").count() >= 2
