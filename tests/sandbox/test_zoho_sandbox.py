"""The fake Zoho CRM answers like Zoho: accounts server with data-centre callback, refresh-token limit,
Get Records with page_token past 2,000 and If-Modified-Since, COQL, deleted records, fields, tags; and the
real connector works against it over real HTTP."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.utils import timezone

from integrations.base import ReadRequest
from integrations.crms.zoho import Zoho
from integrations.http import CrmHttp
from integrations.models import ObjectType
from sandbox.common import issue_pair
from sandbox.models import SandboxRecord, SandboxToken
from sandbox.zoho.accounts import REFRESH_TOKENS_PER_USER
from sandbox.zoho.seed import seed
from sandbox.zoho.store import CRM, DEFAULT_ORG, DEFAULT_USER_EMAIL, create, records, touch
from tests.integrations.contract import read_all

API = "/sandbox/zoho/crm/v8"
ACCOUNTS = "/sandbox/zoho-accounts/oauth/v2"
REDIRECT = "https://skalin.test/integrations/zoho/callback"


@pytest.fixture
def sandbox(settings):
    settings.SANDBOX_ENABLED = True
    settings.SANDBOX_BASE_URL = "http://testserver"
    settings.CRM_SETTINGS = {
        **settings.CRM_SETTINGS,
        "zoho": {
            "accounts_url": "http://testserver/sandbox/zoho-accounts",
            "client_id": "zc",
            "client_secret": "zs",
        },
    }
    return settings


@pytest.fixture
def org(sandbox, db):
    seed(companies=30, random_seed=4)
    return DEFAULT_ORG


@pytest.fixture
def token(org):
    access, _ = issue_pair(crm=CRM, account_id=org, user_email=DEFAULT_USER_EMAIL, ttl_seconds=3600)
    return access.value


def get(client, token: str, path: str, params: dict[str, Any] | None = None, **headers: str):
    return client.get(f"{API}/{path}", params or {}, HTTP_AUTHORIZATION=f"Zoho-oauthtoken {token}", **headers)


def send(client, method: str, token: str, path: str, body: Any):
    return getattr(client, method)(
        f"{API}/{path}", body, content_type="application/json", HTTP_AUTHORIZATION=f"Zoho-oauthtoken {token}"
    )


def accounts(**where: Any) -> list[dict[str, Any]]:
    rows = [r.properties for r in records(DEFAULT_ORG, "Accounts")]
    return [r for r in rows if all(r.get(k) == v for k, v in where.items())]


# -- accounts server ----------------------------------------------------------------------------------------
def consent(client, **extra: str):
    query = {"response_type": "code", "client_id": "zc", "redirect_uri": REDIRECT, "state": "s1",
             "scope": "ZohoCRM.modules.ALL", **extra}  # fmt: skip
    page = client.get(f"{ACCOUNTS}/auth", query)
    assert page.status_code == 200 and b"Allow" in page.content
    allowed = client.post(
        f"{ACCOUNTS}/auth?" + "&".join(f"{k}={v}" for k, v in query.items()), {"decision": "allow"}
    )
    assert allowed.status_code == 302
    return parse_qs(urlsplit(allowed["Location"]).query)


def exchange(client, code: str) -> dict[str, Any]:
    form = {"grant_type": "authorization_code", "client_id": "zc", "client_secret": "zs", "redirect_uri": REDIRECT,
            "code": code}  # fmt: skip
    return client.post(f"{ACCOUNTS}/token", form).json()


def test_consent_redirects_with_code_location_and_accounts_server(client, org):
    back = consent(client, access_type="offline")
    assert back["state"] == ["s1"] and back["location"] == ["us"]
    assert back["accounts-server"] == ["http://testserver/sandbox/zoho-accounts"]
    tokens = exchange(client, back["code"][0])
    assert tokens["api_domain"] == "http://testserver/sandbox/zoho"
    assert tokens["expires_in"] == 3600 and tokens["refresh_token"]
    # A code is good once; Zoho says so with HTTP 200 and an error body.
    again = client.post(f"{ACCOUNTS}/token", {"grant_type": "authorization_code", "client_id": "zc",
                                              "client_secret": "zs", "redirect_uri": REDIRECT, "code": back["code"][0]})  # fmt: skip
    assert again.status_code == 200 and again.json() == {"error": "invalid_code"}


def test_a_refresh_token_only_comes_with_offline_access_and_a_first_or_forced_consent(client, org):
    assert "refresh_token" not in exchange(client, consent(client)["code"][0])
    assert "refresh_token" in exchange(client, consent(client, access_type="offline")["code"][0])
    # The user has one: a new consent without prompt=consent does not mint another.
    assert "refresh_token" not in exchange(client, consent(client, access_type="offline")["code"][0])
    assert "refresh_token" in exchange(
        client, consent(client, access_type="offline", prompt="consent")["code"][0]
    )


def test_the_21st_refresh_token_of_a_user_deletes_the_oldest(client, org):
    minted = [
        exchange(client, consent(client, access_type="offline", prompt="consent")["code"][0])["refresh_token"]
        for _ in range(REFRESH_TOKENS_PER_USER + 1)
    ]
    form = {"grant_type": "refresh_token", "client_id": "zc", "client_secret": "zs"}
    assert client.post(f"{ACCOUNTS}/token", {**form, "refresh_token": minted[0]}).json() == {
        "error": "invalid_code"
    }
    fresh = client.post(f"{ACCOUNTS}/token", {**form, "refresh_token": minted[1]}).json()
    assert fresh["access_token"] and "refresh_token" not in fresh
    live = SandboxToken.objects.filter(crm=CRM, kind="refresh", user_email=DEFAULT_USER_EMAIL, revoked=False)
    assert live.count() == REFRESH_TOKENS_PER_USER


# -- records ------------------------------------------------------------------------------------------------
def test_calls_need_the_zoho_oauthtoken_header(client, token):
    assert (
        client.get(
            f"{API}/Accounts", {"fields": "Account_Name"}, HTTP_AUTHORIZATION=f"Bearer {token}"
        ).status_code
        == 401
    )
    answer = get(client, "expired-or-unknown", "Accounts", {"fields": "Account_Name"})
    assert answer.status_code == 401 and answer.json()["code"] == "INVALID_TOKEN"


def test_get_records_wants_fields_and_pages_with_zoho_info(client, token):
    assert get(client, token, "Accounts").json()["code"] == "REQUIRED_PARAM_MISSING"
    assert get(client, token, "Accounts", {"fields": "Nope"}).json()["details"] == {"api_name": "Nope"}
    body = get(client, token, "Accounts", {"fields": "Account_Name,Account_Type", "per_page": 10}).json()
    assert len(body["data"]) == 10
    assert set(body["data"][0]) == {"id", "Account_Name", "Account_Type"}
    info = body["info"]
    assert info["more_records"] and info["next_page_token"] and info["page"] == 1 and info["per_page"] == 10


def test_page_stops_at_2000_records_and_page_token_goes_on(client, token):
    now = timezone.now()
    SandboxRecord.objects.bulk_create(
        SandboxRecord(crm=CRM, object_type="Accounts", external_id=str(5_000_000_000_000_000_000 + n),
                      properties={"id": str(5_000_000_000_000_000_000 + n), "Account_Name": f"Bulk {n}",
                                  "_org": DEFAULT_ORG}, created_at=now, updated_at=now)
        for n in range(2100)
    )  # fmt: skip
    refused = get(client, token, "Accounts", {"fields": "Account_Name", "page": 11, "per_page": 200})
    assert refused.status_code == 400
    assert refused.json()["code"] == "DISCRETE_PAGINATION_LIMIT_EXCEEDED"
    assert refused.json()["details"] == {"limit": 2000}
    seen, params = set(), {"fields": "Account_Name", "per_page": 200}
    while True:
        body = get(client, token, "Accounts", params).json()
        seen.update(row["id"] for row in body["data"])
        if not body["info"]["more_records"]:
            break
        params = {"fields": "Account_Name", "per_page": 200, "page_token": body["info"]["next_page_token"]}
    assert len(seen) == len(accounts()) > 2100


def test_if_modified_since_answers_304_then_only_the_changes(client, token):
    later = (timezone.now() + dt.timedelta(minutes=5)).isoformat()
    assert (
        get(client, token, "Accounts", {"fields": "Account_Name"}, HTTP_IF_MODIFIED_SINCE=later).status_code
        == 304
    )
    since = timezone.now().replace(microsecond=0).isoformat()
    record = records(DEFAULT_ORG, "Accounts").first()
    touch(record, {"Account_Name": "Changed"})
    body = get(client, token, "Accounts", {"fields": "Account_Name"}, HTTP_IF_MODIFIED_SINCE=since).json()
    assert [row["Account_Name"] for row in body["data"]] == ["Changed"]


def test_coql_selects_filters_and_walks_by_id(client, token):
    query = "select id, Account_Type from Accounts where Account_Type in ('Customer', 'Partner') order by id asc limit 5"
    body = send(client, "post", token, "coql", {"select_query": query}).json()
    expected = sorted(r["id"] for r in accounts() if r.get("Account_Type") in ("Customer", "Partner"))
    assert [row["id"] for row in body["data"]] == expected[:5]
    assert body["info"]["more_records"] is True
    after = body["data"][-1]["id"]
    query = f"select id from Accounts where Account_Type in ('Customer', 'Partner') and id > '{after}' order by id asc limit 2000"
    rest = send(client, "post", token, "coql", {"select_query": query}).json()
    assert [row["id"] for row in rest["data"]] == expected[5:]
    assert (
        send(client, "post", token, "coql", {"select_query": "select id from Accounts"}).json()["code"]
        == "SYNTAX_ERROR"
    )
    too_far = "select id from Accounts where id is not null limit 2000 offset 99000"
    assert send(client, "post", token, "coql", {"select_query": too_far}).json()["code"] == "LIMIT_EXCEEDED"


def test_a_deleted_account_goes_to_the_deleted_records(client, token):
    record_id = accounts()[0]["id"]
    assert send(client, "delete", token, f"Accounts/{record_id}", None).json()["data"][0]["code"] == "SUCCESS"
    assert get(client, token, f"Accounts/{record_id}").status_code == 204
    body = get(client, token, "Accounts/deleted", {"type": "all"}).json()
    assert [row["id"] for row in body["data"]] == [record_id]
    assert body["data"][0]["type"] == "recycle" and body["data"][0]["deleted_time"]


def test_updates_answer_per_record_and_check_types(client, token):
    record_id = accounts()[0]["id"]
    ok = send(client, "put", token, f"Accounts/{record_id}", {"data": [{"Account_Name": "Nouveau nom ✓"}]})
    assert ok.status_code == 200 and ok.json()["data"][0]["details"]["id"] == record_id
    bad = send(client, "put", token, f"Accounts/{record_id}", {"data": [{"Unknown_Field": 1}]})
    assert bad.status_code == 400 and bad.json()["data"][0]["code"] == "INVALID_DATA"
    missing = send(client, "post", token, "Notes", {"data": [{"Note_Title": "no content"}]})
    assert missing.json()["data"][0]["code"] == "MANDATORY_NOT_FOUND"


def test_fields_created_through_the_api_are_listed_and_never_duplicated(client, token):
    body = {"fields": [{"field_label": "Skalin CSM Pulse", "data_type": "integer"}]}
    created = send(client, "post", token, "settings/fields?module=Accounts", body)
    assert created.status_code == 201
    name = created.json()["fields"][0]["details"]["api_name"]
    assert name == "Skalin_CSM_Pulse"
    again = send(client, "post", token, "settings/fields?module=Accounts", body)
    assert again.status_code == 400 and again.json()["code"] == "DUPLICATE_DATA"
    listed = get(client, token, "settings/fields", {"module": "Accounts"}).json()["fields"]
    assert [f["data_type"] for f in listed if f["api_name"] == name] == ["integer"]
    record_id = accounts()[0]["id"]
    refused = send(client, "put", token, f"Accounts/{record_id}", {"data": [{name: "high"}]})
    assert refused.json()["data"][0]["details"]["expected_data_type"] == "integer"


def test_tags_are_added_and_removed_through_actions(client, token):
    record_id = accounts()[0]["id"]
    send(client, "post", token, f"Accounts/{record_id}/actions/add_tags", {"tags": [{"name": "Skalin"}]})
    tags = get(client, token, f"Accounts/{record_id}", {"fields": "Tag"}).json()["data"][0]["Tag"]
    assert "Skalin" in [t["name"] for t in tags]
    send(client, "post", token, f"Accounts/{record_id}/actions/remove_tags", {"tags": [{"name": "Skalin"}]})
    tags = get(client, token, f"Accounts/{record_id}", {"fields": "Tag"}).json()["data"][0]["Tag"]
    assert "Skalin" not in [t["name"] for t in tags]


def test_the_seed_is_messy_as_promised(org):
    rows = accounts()
    assert {r["Account_Type"] for r in rows} >= {"Customer", "Prospect", "Partner"}
    assert any(isinstance(r.get("Segments"), list) and len(r["Segments"]) > 1 for r in rows)
    assert any(not r.get("Website") for r in rows)
    assert any(not r["Account_Name"].isascii() for r in rows)
    by_id = {r["id"]: r for r in rows}
    depths = []
    for row in rows:
        depth, current = 0, row
        while current.get("Parent_Account"):
            depth, current = depth + 1, by_id[current["Parent_Account"]["id"]]
        depths.append(depth)
    assert max(depths) >= 2
    contacts = [r.properties for r in records(org, "Contacts")]
    assert any(not c.get("Email") for c in contacts)
    deals = [r.properties for r in records(org, "Deals")]
    assert any(d["Stage"] == "Closed Won" and d.get("Contract_Ref") for d in deals)
    assert (
        records(org, "Notes").exists() and records(org, "Calls").exists() and records(org, "Events").exists()
    )


def test_the_seed_is_repeatable_and_idempotent(sandbox, db):
    seed(companies=12, random_seed=9)
    first = sorted(r["Account_Name"] for r in accounts())
    seed(companies=12, random_seed=9)
    assert sorted(r["Account_Name"] for r in accounts()) == first


# -- the connector over real HTTP -------------------------------------------------------------------------
def test_the_connector_reads_the_selection_and_pushes_the_pulse_over_http(
    live_server, sandbox, transactional_db
):
    sandbox.SANDBOX_BASE_URL = live_server.url
    seed(companies=40, random_seed=6)
    access, _ = issue_pair(crm=CRM, account_id=DEFAULT_ORG, user_email=DEFAULT_USER_EMAIL, ttl_seconds=3600)

    class Tokens:
        def access_token(self) -> str:
            return access.value

        def refresh(self) -> str:
            return access.value

    connector = Zoho(CrmHttp(base_url=f"{live_server.url}/sandbox/zoho", tokens=Tokens()))
    assert connector.identity().account_id == DEFAULT_ORG
    assert ("Customer", "Customer") in connector.list_choices("account_types")
    options = {
        "selection": {"account_types": ["Customer"], "filter_field": "Segments", "filter_values": ["EMEA"]}
    }
    ids, _ = read_all(connector, ReadRequest(ObjectType.CUSTOMERS, None, None, options))
    expected = {
        r["id"]
        for r in accounts()
        if r.get("Account_Type") == "Customer" and "EMEA" in (r.get("Segments") or [])
    }
    assert set(ids) == expected
    enumerated, _ = read_all(connector, ReadRequest(ObjectType.CUSTOMERS, None, None, options, ids_only=True))
    assert set(enumerated) == expected

    names = connector.ensure_output_fields()
    assert (
        connector.ensure_output_fields()
        == names
        == {"health_score": "Skalin_Healthscore", "csm_pulse": "Skalin_CSM_Pulse"}
    )
    target = sorted(expected)[0] if expected else accounts()[0]["id"]
    connector.write(ObjectType.CUSTOMERS, target, {names["csm_pulse"]: 4, "Tag": "Skalin;VIP"})
    assert connector.read_back(ObjectType.CUSTOMERS, target, [names["csm_pulse"], "Tag"]) == {
        names["csm_pulse"]: 4,
        "Tag": "Skalin;VIP",
    }
    note = connector.write(ObjectType.INTERACTIONS, None, {"kind": "note", "subject": "From Skalin", "body": "Hi"},
                           {"customers": [target]})  # fmt: skip
    assert SandboxRecord.objects.get(crm=CRM, external_id=note).properties["Parent_Id"]["id"] == target
    create(DEFAULT_ORG, "Contacts", {"Last_Name": "Late", "Account_Name": {"name": "x", "id": target}})
    contacts, _ = read_all(connector, ReadRequest(ObjectType.CONTACTS, None, None, {}, scope_ids=[target]))
    assert contacts and all(c in {r.external_id for r in records(DEFAULT_ORG, "Contacts")} for c in contacts)
    assert requests.get(f"{live_server.url}/sandbox/zoho/crm/v8/org", timeout=5).status_code == 401
    # Closed while the live server still shares the test's database connection with its threads.
    connector.http.session.close()
