"""The fake Salesforce answers like a real org: OAuth with PKCE, SOQL with queryMore, list views, writes,
limits and error arrays; and the real connector works against it over real HTTP."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from integrations.base import ReadRequest
from integrations.crms.salesforce import Salesforce
from integrations.http import CrmHttp
from integrations.models import ObjectType
from sandbox.common import issue_pair
from sandbox.models import SandboxAccount, SandboxRecord, SandboxToken
from sandbox.salesforce.oauth import pkce_challenge
from sandbox.salesforce.schema import DEFAULT_ORG, DEFAULT_USER_EMAIL, make_id
from sandbox.salesforce.seed import seed
from sandbox.salesforce.store import records
from tests.integrations.contract import read_all

API = "/sandbox/salesforce/services/data/v60.0"
LOGIN = "/sandbox/salesforce-login/services/oauth2"
REDIRECT = "https://skalin.test/integrations/salesforce/callback"
VERIFIER = "a-long-random-verifier-of-at-least-43-characters-0123456789"


@pytest.fixture
def sandbox(settings):
    settings.SANDBOX_ENABLED = True
    settings.SANDBOX_BASE_URL = "http://testserver"
    settings.CRM_SETTINGS = {
        **settings.CRM_SETTINGS,
        "salesforce": {
            **settings.CRM_SETTINGS["salesforce"],
            "client_id": "sf-client",
            "client_secret": "sf-secret",
            "api_version": "v60.0",
        },
    }
    return settings


@pytest.fixture
def org(sandbox, db):
    seed(companies=30, random_seed=3)
    return DEFAULT_ORG


@pytest.fixture
def token(org):
    access, _ = issue_pair(crm="salesforce", account_id=org, user_email=DEFAULT_USER_EMAIL, ttl_seconds=3600)
    return access.value


def get(client, token: str, path: str, params: dict[str, Any] | None = None, **headers: str):
    return client.get(f"{API}/{path}", params or {}, HTTP_AUTHORIZATION=f"Bearer {token}", **headers)


def soql(client, token: str, query: str, **headers: str):
    return get(client, token, "query", {"q": query}, **headers)


def accounts(**where: Any) -> list[dict[str, Any]]:
    rows = [r.properties for r in records(DEFAULT_ORG, "Account")]
    return [r for r in rows if all(r.get(k) == v for k, v in where.items())]


# -- switch and OAuth ------------------------------------------------------------------------------------
def test_every_url_is_a_404_when_the_sandbox_is_disabled(client, settings, db):
    settings.SANDBOX_ENABLED = False
    assert client.get(f"{LOGIN}/authorize").status_code == 404
    assert client.post(f"{LOGIN}/token").status_code == 404
    assert client.get(f"{API}/query", {"q": "SELECT Id FROM Account"}).status_code == 404


def authorize(client, **extra: str):
    params = {
        "response_type": "code",
        "client_id": "sf-client",
        "redirect_uri": REDIRECT,
        "scope": "api refresh_token",
        "state": "st4te",
        "code_challenge": pkce_challenge(VERIFIER),
        **extra,
    }
    page = client.get(f"{LOGIN}/authorize", params)
    assert page.status_code == 200
    assert b"Allow" in page.content
    answer = client.post(f"{LOGIN}/authorize", {**params, "decision": "allow", "org": DEFAULT_ORG})
    assert answer.status_code == 302
    location = urlsplit(answer["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["st4te"]
    return query["code"][0]


def exchange(client, code: str, verifier: str = VERIFIER, **extra: str):
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": "sf-client",
        "client_secret": "sf-secret",
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
        **extra,
    }
    return client.post(f"{LOGIN}/token", form)


def test_the_web_server_flow_with_pkce_issues_salesforce_shaped_tokens(client, org):
    response = exchange(client, authorize(client))
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {
        "access_token",
        "refresh_token",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
        "signature",
    }
    assert "expires_in" not in body  # Salesforce does not say how long a session lives
    assert body["instance_url"] == "http://testserver/sandbox/salesforce"
    assert body["id"].endswith(f"/id/{DEFAULT_ORG}/{make_id('User', DEFAULT_ORG, 1)}")
    userinfo = client.get(
        "/sandbox/salesforce/services/oauth2/userinfo", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}"
    ).json()
    assert userinfo["organization_id"] == DEFAULT_ORG
    assert userinfo["email"] == DEFAULT_USER_EMAIL


def test_a_wrong_pkce_verifier_is_refused_and_a_code_works_once(client, org):
    code = authorize(client)
    refused = exchange(client, code, verifier="not-the-verifier-that-was-hashed-for-this-code-000")
    assert refused.status_code == 400
    assert refused.json() == {"error": "invalid_grant", "error_description": "invalid code verifier"}
    assert exchange(client, code).status_code == 200
    again = exchange(client, code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_the_authorize_page_checks_the_client_and_the_redirect_uri(client, org):
    bad_client = client.get(
        f"{LOGIN}/authorize", {"response_type": "code", "client_id": "someone-else", "redirect_uri": REDIRECT}
    )
    assert bad_client.status_code == 400
    assert b"invalid_client_id" in bad_client.content
    bad_redirect = client.get(
        f"{LOGIN}/authorize",
        {"response_type": "code", "client_id": "sf-client", "redirect_uri": "javascript:x"},
    )
    assert bad_redirect.status_code == 400
    code = authorize(client)
    mismatch = exchange(client, code, redirect_uri="https://elsewhere.test/cb")
    assert mismatch.json()["error"] == "redirect_uri_mismatch"


def test_a_denied_authorization_redirects_with_access_denied(client, org):
    params = {"response_type": "code", "client_id": "sf-client", "redirect_uri": REDIRECT, "state": "s"}
    answer = client.post(f"{LOGIN}/authorize", {**params, "decision": "deny"})
    assert parse_qs(urlsplit(answer["Location"]).query)["error"] == ["access_denied"]


def test_a_refresh_gives_a_new_access_token_but_no_new_refresh_token(client, org):
    tokens = exchange(client, authorize(client)).json()
    refreshed = client.post(
        f"{LOGIN}/token",
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": "sf-client",
            "client_secret": "sf-secret",
        },
    )
    assert refreshed.status_code == 200
    assert "refresh_token" not in refreshed.json()
    assert refreshed.json()["access_token"] != tokens["access_token"]
    revoked = client.post(
        f"{LOGIN}/token",
        {
            "grant_type": "refresh_token",
            "refresh_token": "rt-unknown",
            "client_id": "sf-client",
            "client_secret": "sf-secret",
        },
    )
    assert revoked.status_code == 400
    assert revoked.json() == {"error": "invalid_grant", "error_description": "expired access/refresh token"}


# -- sessions and limits ---------------------------------------------------------------------------------
def test_a_missing_or_expired_session_is_a_401_error_array(client, org, token):
    missing = client.get(f"{API}/query", {"q": "SELECT Id FROM Account"})
    assert missing.status_code == 401
    assert missing.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID", "fields": []}
    ]
    SandboxToken.objects.filter(value=token).update(expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    assert soql(client, token, "SELECT Id FROM Account").status_code == 401


def test_every_answer_reports_api_usage_and_a_spent_allocation_is_a_403(client, org, token):
    SandboxAccount.objects.filter(crm="salesforce", account_id=org).update(daily_limit=2, calls_today=0)
    first = soql(client, token, "SELECT Id FROM Account LIMIT 1")
    assert first.status_code == 200
    assert first["Sforce-Limit-Info"] == "api-usage=1/2"
    assert soql(client, token, "SELECT Id FROM Account LIMIT 1").status_code == 200
    spent = soql(client, token, "SELECT Id FROM Account LIMIT 1")
    assert spent.status_code == 403
    assert spent.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert spent.json()[0]["message"] == "TotalRequests Limit exceeded."
    assert spent["Sforce-Limit-Info"] == "api-usage=3/2"


# -- SOQL ------------------------------------------------------------------------------------------------
def test_a_query_returns_salesforce_shaped_records(client, org, token):
    body = soql(client, token, "SELECT Id, Name, Website FROM Account WHERE Type = 'Customer' LIMIT 5").json()
    assert body["done"] is True
    assert body["totalSize"] == len(body["records"]) <= 5
    record = body["records"][0]
    assert list(record) == ["attributes", "Id", "Name", "Website"]
    assert record["attributes"] == {
        "type": "Account",
        "url": f"/services/data/v60.0/sobjects/Account/{record['Id']}",
    }
    assert record["Id"].startswith("001") and len(record["Id"]) == 18


def test_where_supports_and_or_parentheses_in_like_null_and_booleans(client, org, token):
    expected = {
        r["Id"]
        for r in accounts()
        if (r["Type"] in ("Customer", "Former Customer") and r["Website"] is None)
        or r["Name"].startswith("O'")
    }
    query = (
        "SELECT Id FROM Account WHERE (Type IN ('customer', 'Former Customer') AND Website = null) "
        "OR Name LIKE 'o\\'%'"
    )
    body = soql(client, token, query).json()
    assert {r["Id"] for r in body["records"]} == expected
    won = soql(
        client, token, "SELECT Id, IsWon FROM Opportunity WHERE IsWon = true AND Amount != null"
    ).json()
    assert won["records"] and all(r["IsWon"] is True for r in won["records"])
    assert soql(client, token, "SELECT Id FROM Account WHERE NOT Type = 'Customer'").json()[
        "totalSize"
    ] == len([r for r in accounts() if r["Type"] != "Customer"])


def test_datetimes_compare_unquoted_and_order_by_applies(client, org, token):
    rows = sorted(accounts(), key=lambda r: r["SystemModstamp"])
    middle = rows[len(rows) // 2]["SystemModstamp"][:19] + "Z"
    body = soql(
        client,
        token,
        f"SELECT Id, SystemModstamp FROM Account WHERE SystemModstamp >= {middle} ORDER BY SystemModstamp DESC",
    ).json()
    stamps = [r["SystemModstamp"] for r in body["records"]]
    assert stamps == sorted(stamps, reverse=True)
    assert all(s[:19] + "Z" >= middle for s in stamps)
    assert body["totalSize"] == len([r for r in rows if r["SystemModstamp"][:19] + "Z" >= middle])


def test_query_more_pages_through_a_snapshot_with_the_batch_size_asked(client, sandbox, db, token):
    seed(companies=450, random_seed=5, account_id="00D000000000009")
    other, _ = issue_pair(
        crm="salesforce", account_id="00D000000000009", user_email=DEFAULT_USER_EMAIL, ttl_seconds=600
    )
    first = soql(
        client, other.value, "SELECT Id FROM Account", HTTP_SFORCE_QUERY_OPTIONS="batchSize=200"
    ).json()
    assert first["totalSize"] == 450 and first["done"] is False
    assert len(first["records"]) == 200
    ids = [r["Id"] for r in first["records"]]
    url = first["nextRecordsUrl"]
    assert url.startswith("/services/data/v60.0/query/01g") and url.endswith("-200")
    while url:
        page = client.get(f"/sandbox/salesforce{url}", HTTP_AUTHORIZATION=f"Bearer {other.value}").json()
        ids += [r["Id"] for r in page["records"]]
        url = page.get("nextRecordsUrl")
        assert page["done"] is (url is None)
    assert len(ids) == len(set(ids)) == 450
    # The org of the default token does not see the other org's accounts.
    assert soql(client, token, "SELECT Id FROM Account").json()["totalSize"] == 30


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("SELECT Id FROM Account WHERE Type = 'Customer' AND Name = 'x' OR Name = 'y'", "MALFORMED_QUERY"),
        ("SELECT Id, Nmae FROM Account", "INVALID_FIELD"),
        ("SELECT Id FROM Account WHERE SystemModstamp > '2024-01-01T00:00:00Z'", "INVALID_FIELD"),
        ("SELECT Id, Owner.Email FROM Account", "INVALID_FIELD"),
        ("SELECT Id FROM Account WHERE CreatedDate = TODAY", "MALFORMED_QUERY"),
        ("SELECT Id, Id FROM Account", "MALFORMED_QUERY"),
        ("SELECT Id FROM Widget__c", "INVALID_TYPE"),
        ("SELECT Id FROM Account WHERE Name = 'unterminated", "MALFORMED_QUERY"),
    ],
)
def test_what_the_engine_does_not_understand_is_a_salesforce_error(client, org, token, query, code):
    response = soql(client, token, query)
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == code


def test_an_unknown_query_locator_is_refused(client, org, token):
    response = get(client, token, "query/01gXXXXXXXXXXXX-2000")
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


# -- list views, describe, records -----------------------------------------------------------------------
def test_list_views_describe_into_soql_and_show_their_results(client, org, token):
    views = get(client, token, "sobjects/Account/listviews").json()
    by_label = {view["label"]: view for view in views["listviews"]}
    assert set(by_label) == {"All Accounts", "Customers"}
    customers = by_label["Customers"]
    assert customers["id"].startswith("00B") and customers["soqlCompatible"] is True
    describe = get(client, token, f"sobjects/Account/listviews/{customers['id']}/describe").json()
    assert " FROM Account WHERE Type = 'Customer' ORDER BY Name ASC NULLS FIRST" in describe["query"]
    expected = {r["Id"] for r in accounts(Type="Customer")}
    assert soql(client, token, describe["query"]).json()["totalSize"] == len(expected)

    seen: set[str] = set()
    offset = 0
    while True:
        page = get(
            client,
            token,
            f"sobjects/Account/listviews/{customers['id']}/results",
            {"limit": 5, "offset": offset},
        ).json()
        for row in page["records"]:
            seen.update(c["value"] for c in row["columns"] if c["fieldNameOrPath"] == "Id")
        offset += len(page["records"])
        if page["done"]:
            break
    assert seen == expected
    contact_views = get(client, token, "sobjects/Contact/listviews").json()["listviews"]
    assert [view["label"] for view in contact_views] == ["Skalin Contacts"]


def test_describe_lists_standard_and_custom_fields(client, org, token):
    fields = {f["name"]: f for f in get(client, token, "sobjects/Account/describe").json()["fields"]}
    assert (
        fields["Skalin_Healthscore__c"]["type"] == "double" and fields["Skalin_Healthscore__c"]["updateable"]
    )
    assert fields["SystemModstamp"]["updateable"] is False
    roles = get(client, token, "sobjects/Contact/describe").json()["fields"]
    role = next(f for f in roles if f["name"] == "Skalin_Role__c")
    assert [v["value"] for v in role["picklistValues"]] == ["Champion", "Sponsor", "Key user", "End user"]


def test_a_patch_updates_fields_and_system_modstamp(client, org, token):
    account = accounts(Type="Customer")[0]
    response = client.patch(
        f"{API}/sobjects/Account/{account['Id']}",
        json.dumps({"Skalin_Healthscore__c": 8, "Skalin_CSM_Pulse__c": 4}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 204
    read = get(
        client, token, f"sobjects/Account/{account['Id']}", {"fields": "Skalin_Healthscore__c,SystemModstamp"}
    ).json()
    assert read["Skalin_Healthscore__c"] == 8
    assert read["SystemModstamp"] > account["SystemModstamp"]
    stored = SandboxRecord.objects.get(crm="salesforce", object_type="Account", external_id=account["Id"])
    changed = soql(
        client, token, f"SELECT Id FROM Account WHERE SystemModstamp >= {read['SystemModstamp'][:19]}Z"
    ).json()
    assert [r["Id"] for r in changed["records"]] == [account["Id"]]
    assert stored.updated_at.isoformat(timespec="milliseconds").startswith(read["SystemModstamp"][:23])


def test_a_patch_of_an_unknown_or_read_only_field_is_refused(client, org, token):
    account = accounts()[0]
    for body, code in (
        ({"Nope__c": 1}, "INVALID_FIELD"),
        ({"SystemModstamp": "2024-01-01T00:00:00Z"}, "INVALID_FIELD_FOR_INSERT_UPDATE"),
    ):
        response = client.patch(
            f"{API}/sobjects/Account/{account['Id']}",
            json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        assert response.status_code == 400
        assert response.json()[0]["errorCode"] == code
    missing = client.patch(
        f"{API}/sobjects/Account/001000000000000AAA",
        "{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert missing.status_code == 404


def test_creating_a_task_answers_201_and_derives_its_account(client, org, token):
    account = accounts(Type="Customer")[0]
    response = client.post(
        f"{API}/sobjects/Task",
        json.dumps(
            {
                "Subject": "CSM call",
                "TaskSubtype": "Call",
                "WhatId": account["Id"],
                "ActivityDate": "2026-01-05",
                "Status": "Completed",
            }
        ),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True and body["errors"] == [] and body["id"].startswith("00T")
    task = get(client, token, f"sobjects/Task/{body['id']}").json()
    assert task["AccountId"] == account["Id"] and task["TaskSubtype"] == "Call"
    assert task["OwnerId"] == make_id("User", DEFAULT_ORG, 1)


# -- seed --------------------------------------------------------------------------------------------------
def test_the_seed_is_messy_repeatable_and_idempotent(org):
    rows = accounts()
    assert len(rows) == 30
    by_id = {r["Id"]: r for r in rows}
    chain = [r for r in rows if r["ParentId"] and by_id.get(r["ParentId"], {}).get("ParentId")]
    assert chain, "a three-level parent chain"
    names = {r["Name"] for r in rows}
    assert "O'Reilly Media" in names and "<b>Bold</b> & <i>Brash</i> Ltd" in names
    assert any(r["Website"] is None for r in rows)
    assert {r["Type"] for r in rows} >= {"Customer", "Prospect"}
    contacts = [r.properties for r in records(org, "Contact")]
    assert any(c["Email"] is None for c in contacts)
    assert any(c["Skalin_Role__c"] for c in contacts)
    for sobject in ("Opportunity", "Task", "Event", "EmailMessage", "Note"):
        assert records(org, sobject).exists(), sobject
    assert "nothing added" in seed(companies=30, random_seed=3)
    assert records(org, "Account").count() == 30
    seed(companies=30, random_seed=3, account_id="00D0000000000XY")
    again = [r.properties for r in records("00D0000000000XY", "Account")]
    assert [(r["Name"], r["Type"], r["Website"]) for r in again] == [
        (r["Name"], r["Type"], r["Website"]) for r in rows
    ]
    assert not {r["Id"] for r in again} & set(by_id)


def test_a_deleted_record_leaves_query_but_not_query_all(client, org, token):
    contact = records(org, "Contact").first()
    assert contact is not None
    deleted = client.delete(
        f"{API}/sobjects/Contact/{contact.external_id}", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert deleted.status_code == 204
    query = f"SELECT Id, IsDeleted FROM Contact WHERE Id = '{contact.external_id}'"
    assert soql(client, token, query).json()["totalSize"] == 0
    every = get(client, token, "queryAll", {"q": query}).json()
    assert [r["IsDeleted"] for r in every["records"]] == [True]


# -- end to end ------------------------------------------------------------------------------------------
class SandboxTokens:
    """A token source holding tokens the sandbox issued, refreshing through its token endpoint."""

    def __init__(self, login_url: str, tokens: dict[str, str]) -> None:
        self.login_url, self.tokens = login_url, tokens
        self.refreshes = 0

    def access_token(self) -> str:
        return self.tokens["access_token"]

    def refresh(self) -> str:
        response = requests.post(
            f"{self.login_url}/services/oauth2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": self.tokens["refresh_token"],
                "client_id": "sf-client",
                "client_secret": "sf-secret",
            },
            timeout=10,
        )
        response.raise_for_status()
        self.refreshes += 1
        self.tokens.update(response.json())
        return self.access_token()


def test_the_connector_reads_customers_of_a_list_view_and_writes_back_over_http(
    live_server, sandbox, transactional_db
):
    sandbox.SANDBOX_BASE_URL = live_server.url
    seed(companies=30, random_seed=11)
    login = f"{live_server.url}/sandbox/salesforce-login"
    session = requests.Session()
    params = {
        "response_type": "code",
        "client_id": "sf-client",
        "redirect_uri": REDIRECT,
        "scope": "api refresh_token",
        "state": "e2e",
        "code_challenge": pkce_challenge(VERIFIER),
        "decision": "allow",
    }
    redirect = session.post(
        f"{login}/services/oauth2/authorize", data=params, allow_redirects=False, timeout=10
    )
    code = parse_qs(urlsplit(redirect.headers["Location"]).query)["code"][0]
    tokens = session.post(
        f"{login}/services/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": "sf-client",
            "client_secret": "sf-secret",
            "redirect_uri": REDIRECT,
            "code_verifier": VERIFIER,
        },
        timeout=10,
    ).json()
    assert tokens["instance_url"] == f"{live_server.url}/sandbox/salesforce"

    session.close()  # the live server's request threads must end before it stops

    source = SandboxTokens(login, tokens)
    http = CrmHttp(base_url=tokens["instance_url"], tokens=source, max_inline_wait=0)
    connector = Salesforce(http)
    assert connector.identity().account_id == DEFAULT_ORG
    views = dict((label, view_id) for view_id, label in connector.list_choices("account_list_views"))

    # An expired session is refreshed once on the way.
    SandboxToken.objects.filter(value=tokens["access_token"]).update(revoked=True)
    request = ReadRequest(
        object_type=ObjectType.CUSTOMERS,
        since=None,
        cursor=None,
        options={"selection": {"list_view_id": views["Customers"]}},
        fields=["Type", "Skalin_Healthscore__c"],
    )
    ids, _ = read_all(connector, request)
    assert sorted(ids) == sorted(r["Id"] for r in accounts(Type="Customer"))
    assert connector.api_usage is not None and connector.api_usage[0] >= 3

    target = ids[0]
    assert connector.write(ObjectType.CUSTOMERS, target, {"Skalin_Healthscore__c": 9}) == target
    assert connector.read_back(ObjectType.CUSTOMERS, target, ["Skalin_Healthscore__c"]) == {
        "Skalin_Healthscore__c": 9
    }
    assert source.refreshes == 1
    http.session.close()
