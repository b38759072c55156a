"""The fake Sellsy answers like the real one: OAuth with PKCE and a JSON token body, the v2 envelopes with
seek and numeric offsets, search filters, custom fields, quotas and error bodies; and the real connector
works against it over HTTP."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from integrations.base import ReadRequest
from integrations.crms.sellsy import Sellsy
from integrations.http import CrmHttp
from integrations.models import ObjectType
from sandbox.common import issue_pair
from sandbox.models import SandboxAccount, SandboxAssociation, SandboxRecord, SandboxToken
from sandbox.sellsy import store
from sandbox.sellsy.seed import CF_MRR, OWN_DOMAIN, seed
from tests.integrations.contract import read_all

API = "/sandbox/sellsy/v2"
LOGIN = "/sandbox/sellsy-login"
REDIRECT = "http://testserver/integrations/sellsy/callback"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
VERIFIER = "v" * 64


@pytest.fixture
def sandbox(settings, db):
    settings.SANDBOX_ENABLED = True
    settings.SANDBOX_BASE_URL = "http://testserver"
    settings.CRM_SETTINGS = {
        **settings.CRM_SETTINGS,
        "sellsy": {**settings.CRM_SETTINGS["sellsy"], "client_id": "sl-client", "client_secret": "sl-secret"},
    }
    return settings


@pytest.fixture
def token(sandbox, db) -> str:
    access, _ = issue_pair(crm="sellsy", account_id=store.DEFAULT_ACCOUNT, user_email=store.DEFAULT_USER,
                           ttl_seconds=3600)  # fmt: skip
    return access.value


def company(external_id: int, minutes: int, **props: Any) -> SandboxRecord:
    values = {"type": "client", "name": f"Company {external_id}", "website": f"c{external_id}.test",
              "is_archived": False} | props  # fmt: skip
    modified = T0 + dt.timedelta(minutes=minutes)
    return store.new_record("companies", external_id, values, created=T0, modified=modified)


@pytest.fixture
def companies(token) -> list[SandboxRecord]:
    return SandboxRecord.objects.bulk_create([
        company(11, 1), company(12, 2, type="prospect"), company(13, 3), company(14, 4, is_archived=True),
        company(15, 5, type="supplier"), company(16, 6), company(17, 6),
    ])  # fmt: skip


def call(client, method: str, path: str, token: str | None = None, body: Any = None, **query: Any):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    url = f"{API}{path}" + (f"?{urlencode(query, doseq=True)}" if query else "")
    data = json.dumps(body) if body is not None else ""
    return client.generic(method, url, data, content_type="application/json", **headers)


def challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def authorize_query(**extra: str) -> dict[str, str]:
    return {"response_type": "code", "client_id": "sl-client", "redirect_uri": REDIRECT, "state": "s1",
            "code_challenge": challenge(VERIFIER), "code_challenge_method": "S256", **extra}  # fmt: skip


def test_every_url_is_a_404_while_the_sandbox_is_off(client, settings) -> None:
    settings.SANDBOX_ENABLED = False
    assert client.get(f"{LOGIN}/oauth2/authorization").status_code == 404
    assert client.post(f"{API}/companies/search").status_code == 404


def test_consent_then_a_json_token_request_with_pkce_then_a_rotating_refresh(client, sandbox) -> None:
    url = f"{LOGIN}/oauth2/authorization?{urlencode(authorize_query())}"
    page = client.get(url)
    assert page.status_code == 200 and b"Allow" in page.content
    allowed = client.post(url, {"decision": "allow"})
    assert allowed.status_code == 302
    back = parse_qs(urlsplit(allowed["Location"]).query)
    assert back["state"] == ["s1"]
    code = back["code"][0]
    exchange = {
        "grant_type": "authorization_code",
        "client_id": "sl-client",
        "redirect_uri": REDIRECT,
        "code": code,
    }

    # A form body (requests-oauthlib's default) is refused; so is a wrong verifier.
    form = client.post(f"{LOGIN}/oauth2/access-tokens", {**exchange, "code_verifier": VERIFIER})
    assert form.status_code == 400 and form.json()["error"] == "invalid_request"
    wrong = client.post(f"{LOGIN}/oauth2/access-tokens", {**exchange, "code_verifier": "x" * 64},
                        content_type="application/json")  # fmt: skip
    assert wrong.json()["error"] == "invalid_grant"

    tokens = client.post(f"{LOGIN}/oauth2/access-tokens", {**exchange, "code_verifier": VERIFIER},
                         content_type="application/json").json()  # fmt: skip
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    assert call(client, "GET", "/me", tokens["access_token"]).json()["corporation_id"] == int(
        store.DEFAULT_ACCOUNT
    )
    again = client.post(f"{LOGIN}/oauth2/access-tokens", {**exchange, "code_verifier": VERIFIER},
                        content_type="application/json")  # fmt: skip
    assert again.json()["error"] == "invalid_grant"  # a code is good once

    refresh = {"grant_type": "refresh_token", "client_id": "sl-client", "client_secret": "sl-secret",
               "refresh_token": tokens["refresh_token"]}  # fmt: skip
    renewed = client.post(f"{LOGIN}/oauth2/access-tokens", refresh, content_type="application/json").json()
    assert renewed["refresh_token"] != tokens["refresh_token"]
    reused = client.post(f"{LOGIN}/oauth2/access-tokens", refresh, content_type="application/json")
    assert reused.json()["error"] == "invalid_grant"  # the old refresh token was rotated away


def test_pkce_is_required_and_refusing_says_access_denied(client, sandbox) -> None:
    query = authorize_query()
    del query["code_challenge"]
    missing = client.get(f"{LOGIN}/oauth2/authorization?{urlencode(query)}")
    assert "error=invalid_request" in missing["Location"]
    url = f"{LOGIN}/oauth2/authorization?{urlencode(authorize_query())}"
    denied = client.post(url, {"decision": "deny"})
    assert "error=access_denied" in denied["Location"]
    assert (
        client.get(f"{LOGIN}/oauth2/authorization?{urlencode(authorize_query(client_id='x'))}").status_code
        == 400
    )


def test_a_call_without_a_valid_token_gets_sellsys_401(client, sandbox, db) -> None:
    answer = call(client, "POST", "/companies/search", "nope", {"filters": {}})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == 401


def test_search_filters_by_type_archive_and_update_time_in_seek_pages(client, token, companies) -> None:
    body = {
        "filters": {"type": "client", "is_archived": False, "updated_at": {"start": "2026-01-01T00:02:00Z"}}
    }
    first = call(client, "POST", "/companies/search", token, body, limit=2, order="updated_at")
    assert first.status_code == 200
    payload = first.json()
    assert [c["id"] for c in payload["data"]] == [13, 16]
    assert payload["pagination"]["count"] == 2 and payload["pagination"]["total"] == 3
    assert isinstance(payload["pagination"]["offset"], str)
    second = call(client, "POST", "/companies/search", token, body, limit=2, order="updated_at",
                  offset=payload["pagination"]["offset"]).json()  # fmt: skip
    assert [c["id"] for c in second["data"]] == [17]
    assert second["data"][0]["updated_at"].startswith("2026-01-01T00:06:00")
    numeric = call(client, "POST", "/companies/search", token, body, limit=2, offset=2).json()
    assert [c["id"] for c in numeric["data"]] == [17] and numeric["pagination"]["offset"] == 2
    several = call(
        client, "POST", "/companies/search", token, {"filters": {"type": ["prospect", "supplier"]}}
    )
    assert sorted(c["id"] for c in several.json()["data"]) == [12, 15]


def test_search_refuses_what_sellsy_refuses(client, token, companies) -> None:
    too_many = call(client, "POST", "/companies/search", token, {"filters": {}}, limit=101)
    assert too_many.status_code == 400 and "limit" in too_many.json()["error"]["details"]
    unknown = call(client, "POST", "/companies/search", token, {"filters": {"stage": "x"}})
    assert unknown.status_code == 400
    bad_type = call(client, "POST", "/companies/search", token, {"filters": {"type": "customer"}})
    assert bad_type.status_code == 400
    assert call(client, "POST", "/companies/search", token, {}, offset="%%%").status_code == 400


def test_the_quota_answers_429_with_sellsys_headers(client, token, companies) -> None:
    SandboxAccount.objects.update_or_create(
        crm="sellsy", account_id=store.DEFAULT_ACCOUNT, defaults={"rate_limit": 2, "rate_window_seconds": 60}
    )
    answers = [call(client, "GET", "/companies", token) for _ in range(3)]
    assert [a.status_code for a in answers[:2]] == [200, 200]
    assert answers[2].status_code == 429
    assert answers[2]["X-Quota-Remaining-By-Minute"] == "0"
    assert answers[2].json()["error"]["code"] == 429
    assert "X-Quota-Remaining-By-Day" in answers[0]


def test_custom_fields_are_created_once_and_values_checked(client, token, companies) -> None:
    spec = {"type": "numeric", "name": "Skalin CSM Pulse", "code": "skalin-csm-pulse",
            "related_objects": ["client", "prospect"], "parameters": {"min": 1, "max": 5}}  # fmt: skip
    created = call(client, "POST", "/custom-fields", token, spec)
    assert created.status_code == 201
    cf = created.json()["id"]
    assert call(client, "POST", "/custom-fields", token, spec).status_code == 409
    assert call(client, "POST", "/custom-fields", token, {"name": "x"}).status_code == 400
    found = call(client, "POST", "/custom-fields/search", token, {"filters": {"related_object": "client"}})
    assert [f["id"] for f in found.json()["data"]] == [cf]

    assert (
        call(client, "PUT", "/companies/11/custom-fields", token, [{"id": cf, "value": "9"}]).status_code
        == 400
    )
    assert (
        call(client, "PUT", "/companies/11/custom-fields", token, [{"id": cf, "value": "4"}]).status_code
        == 200
    )
    values = call(client, "GET", "/companies/11/custom-fields", token).json()["data"]
    assert [(v["id"], v["value"]) for v in values] == [(cf, "4")]
    embedded = call(client, "GET", "/companies/11", token, **{"embed[]": [f"cf.{cf}"]}).json()
    assert embedded["_embed"]["custom_fields"][0]["value"] == "4"
    assert embedded["updated_at"] > "2026-01-01T00:01:00"  # a value written moves the stamp


def test_the_custom_field_quota_answers_402(client, token, monkeypatch) -> None:
    from sandbox.sellsy import views

    monkeypatch.setattr(views, "CUSTOM_FIELD_QUOTA", 0)
    spec = {"type": "numeric", "name": "X", "related_objects": ["client"]}
    assert call(client, "POST", "/custom-fields", token, spec).status_code == 402


def test_the_seed_is_messy_and_repeatable(sandbox, db) -> None:
    summary = seed(companies=120, random_seed=4)
    assert "120 companies" in summary
    types = {r.properties["type"] for r in store.records("companies")}
    assert types == {"client", "prospect", "supplier"}
    emails = [r.properties["email"] for r in store.records("contacts")]
    assert any(e.endswith(f"@{OWN_DOMAIN}") for e in emails) and "" in emails
    won = store.records("opportunities").filter(properties__status="won")
    assert {r.properties["pipeline"]["id"] for r in won} == {1, 2}
    assert any(str(CF_MRR) in (r.properties.get("_cf") or {}) for r in won)
    assert SandboxAssociation.objects.filter(crm="sellsy").exists()
    first = sorted(store.records("companies").values_list("properties__name", flat=True))
    seed(companies=120, random_seed=4)
    assert sorted(store.records("companies").values_list("properties__name", flat=True)) == first
    assert not SandboxToken.objects.filter(crm="sellsy", kind="code").exists()


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
    seed(companies=260, random_seed=11)
    access, _ = issue_pair(crm="sellsy", account_id=store.DEFAULT_ACCOUNT, user_email=store.DEFAULT_USER,
                           ttl_seconds=3600)  # fmt: skip
    http = CrmHttp(base_url=f"{live_server.url}/sandbox/sellsy", tokens=SandboxTokens(access.value))
    try:
        check_the_connector(Sellsy(http))
    finally:
        http.session.close()


def check_the_connector(sellsy: Sellsy) -> None:
    assert sellsy.identity().account_id == store.DEFAULT_ACCOUNT
    read, pages = read_all(sellsy, ReadRequest(ObjectType.CUSTOMERS, since=None, cursor=None, options={}))
    expected = store.records("companies").filter(properties__type="client", properties__is_archived=False)
    assert sorted(read) == sorted(expected.values_list("external_id", flat=True)) and pages >= 2

    names = sellsy.ensure_output_fields()
    assert sellsy.ensure_output_fields() == names  # found, not duplicated
    target = read[0]
    assert sellsy.write(ObjectType.CUSTOMERS, target, {names["csm_pulse"]: 4}) == target
    assert sellsy.read_back(ObjectType.CUSTOMERS, target, [names["csm_pulse"]]) == {names["csm_pulse"]: "4"}

    own = {"exclude_own_domain": True, "own_domains": [OWN_DOMAIN]}
    contacts, _ = read_all(sellsy, ReadRequest(ObjectType.CONTACTS, None, None, own, scope_ids=read))
    everyone, _ = read_all(sellsy, ReadRequest(ObjectType.CONTACTS, None, None, {}, scope_ids=read))
    on_own = {r.external_id for r in store.records("contacts") if r.properties["email"].endswith(OWN_DOMAIN)}
    assert on_own & set(everyone) and not on_own & set(contacts)

    options = {"pipelines": ["2"], "won_only": True}
    deals = sellsy.read_page(ReadRequest(ObjectType.AGREEMENTS, None, None, options, fields=[f"cf.{CF_MRR}"],
                                         scope_ids=read))  # fmt: skip
    assert deals.records
    assert all(r.fields["status"] == "won" and r.fields["pipeline"]["id"] == 2 for r in deals.records)
    assert any(r.fields.get(f"cf.{CF_MRR}") for r in deals.records)

    kinds = {"kinds": ["note", "call", "meeting", "email"]}
    request = ReadRequest(ObjectType.INTERACTIONS, None, None, kinds, scope_ids=read)
    seen, cursor = [], None
    while True:
        page = sellsy.read_page(ReadRequest(**{**request.__dict__, "cursor": cursor}))
        seen.extend(page.records)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert {r.kind for r in seen} == {"note", "call", "meeting", "email"}
    assert all(r.fields["occurred_at"] and set(r.links["customers"]) <= set(read) for r in seen)
