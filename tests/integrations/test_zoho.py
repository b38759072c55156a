"""The Zoho CRM connector against recorded, vendor-shaped responses (fixtures/zoho/*.json)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from integrations.base import ConnectorError, ReadRequest
from integrations.crms.zoho import Zoho
from integrations.crms.zoho.dc import UnknownAccountsServer, accounts_server, same_data_centre, token_url
from integrations.crms.zoho.values import selection_excludes
from integrations.http import CrmHttp
from integrations.models import ObjectType
from integrations.oauth import authorize_url
from tests.integrations.contract import ConnectorContract, StaticTokens, read_all

FIXTURES = Path(__file__).parent / "fixtures" / "zoho"
BASE = "https://www.zohoapis.eu"
API = f"{BASE}/crm/v8"
ACCOUNTS = f"{API}/Accounts"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def make(sleeps: list[float] | None = None, tokens: StaticTokens | None = None) -> Zoho:
    waits = sleeps if sleeps is not None else []
    http = CrmHttp(base_url=BASE, tokens=tokens or StaticTokens(), sleep=waits.append, max_inline_wait=30)
    return Zoho(http)


def request(object_type: ObjectType = ObjectType.CUSTOMERS, **kwargs: Any) -> ReadRequest:
    values: dict[str, Any] = {"since": None, "cursor": None, "options": {}, **kwargs}
    return ReadRequest(object_type=object_type, **values)


def query(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(str(call.request.url)).query)


def sent_json(call: Any) -> Any:
    return json.loads(call.request.body or b"{}")


def coql_sent(rsps: responses.RequestsMock) -> list[str]:
    return [sent_json(c)["select_query"] for c in rsps.calls if str(c.request.url).endswith("/coql")]


class TestZohoContract(ConnectorContract):
    connector_class = Zoho
    base_url = BASE

    def register_customer_pages(self, rsps: responses.RequestsMock) -> list[str]:
        rsps.get(ACCOUNTS, json=fixture("accounts_page1"))
        rsps.get(ACCOUNTS, json=fixture("accounts_page2"))
        return [r["id"] for r in fixture("accounts_page1")["data"] + fixture("accounts_page2")["data"]]

    def assert_since_was_sent(self, rsps: responses.RequestsMock) -> None:
        first, second = rsps.calls
        assert first.request.headers["If-Modified-Since"] == "2026-01-02T03:04:05+00:00"
        assert second.request.headers["If-Modified-Since"] == "2026-01-02T03:04:05+00:00"
        assert query(first)["sort_by"] == ["Modified_Time"]

    def register_customer_page_after_429(self, rsps: responses.RequestsMock) -> None:
        rsps.get(ACCOUNTS, status=429, json=fixture("error_too_many_requests"), headers={"Retry-After": "1"})
        rsps.get(ACCOUNTS, json=fixture("accounts_page2"))

    def register_customer_page_after_401(self, rsps: responses.RequestsMock) -> None:
        rsps.get(ACCOUNTS, status=401, json=fixture("error_invalid_token"))
        rsps.get(ACCOUNTS, json=fixture("accounts_page2"))

    def register_customer_with_unknown_fields(self, rsps: responses.RequestsMock) -> str:
        rsps.get(ACCOUNTS, json=fixture("accounts_unknown_fields"))
        return "4876876000000333009"

    def register_customer_update(self, rsps: responses.RequestsMock, external_id: str) -> None:
        rsps.put(f"{ACCOUNTS}/{external_id}", json=fixture("update_success"))

    def register_permanent_error(self, rsps: responses.RequestsMock) -> None:
        rsps.get(ACCOUNTS, status=400, json=fixture("error_invalid_data"))

    @responses.activate
    def test_a_401_refreshes_the_token_once_then_goes_on(self) -> None:
        # The contract's own version expects "Bearer"; Zoho wants its own scheme, before and after a refresh.
        self.register_customer_page_after_401(responses.mock)
        tokens = StaticTokens()
        ids, _ = read_all(self.make(tokens=tokens), self.request())
        assert ids and tokens.refreshes == 1
        assert responses.calls[0].request.headers["Authorization"] == "Zoho-oauthtoken token-1"
        assert responses.calls[-1].request.headers["Authorization"] == "Zoho-oauthtoken token-2"


# -- data centres and the accounts server ----------------------------------------------------------------
@pytest.mark.parametrize(
    "given, expected",
    [
        ("https://accounts.zoho.eu", "https://accounts.zoho.eu"),
        ("https://accounts.zoho.com.au/", "https://accounts.zoho.com.au"),
        ("https://ACCOUNTS.zohocloud.ca", "https://accounts.zohocloud.ca"),
    ],
)
def test_a_known_zoho_accounts_server_is_accepted(given: str, expected: str) -> None:
    assert accounts_server(given) == expected
    assert token_url(expected).endswith("/oauth/v2/token")


@pytest.mark.parametrize(
    "given",
    [
        "https://evil.example.com",
        "http://accounts.zoho.eu",  # not HTTPS
        "https://accounts.zoho.eu.evil.example",
        "https://accounts.zoho.eu:8443",
        "https://user:pw@accounts.zoho.eu",
        "https://accounts.zoho.eu/steal?x=1",
        "https://www.zohoapis.eu",  # an API host is not an accounts server
        "https://evilzoho.com",
        "",
    ],
)
def test_any_other_accounts_server_is_refused(given: str) -> None:
    with pytest.raises(UnknownAccountsServer):
        accounts_server(given)


def test_the_sandbox_accounts_server_is_accepted_only_when_the_sandbox_is_on(settings) -> None:
    settings.SANDBOX_BASE_URL = "http://127.0.0.1:8000"
    settings.SANDBOX_ENABLED = False
    with pytest.raises(UnknownAccountsServer):
        accounts_server("http://127.0.0.1:8000/sandbox/zoho-accounts")
    settings.SANDBOX_ENABLED = True
    assert accounts_server("http://127.0.0.1:8000/sandbox/zoho-accounts") == (
        "http://127.0.0.1:8000/sandbox/zoho-accounts"
    )


def test_the_api_domain_must_belong_to_the_accounts_servers_data_centre() -> None:
    assert same_data_centre("https://accounts.zoho.eu", "https://www.zohoapis.eu")
    assert same_data_centre("https://accounts.zoho.eu", "https://sandbox.zohoapis.eu")
    assert not same_data_centre("https://accounts.zoho.eu", "https://www.zohoapis.com")
    assert not same_data_centre("https://accounts.zoho.com", "https://www.zohoapis.com.evil.example")


def test_the_authorize_url_asks_for_offline_access_without_forcing_a_new_refresh_token(settings) -> None:
    settings.CRM_SETTINGS = {**settings.CRM_SETTINGS, "zoho": {"accounts_url": "https://accounts.zoho.com"}}
    url = authorize_url(Zoho.oauth, "zoho")
    assert url == "https://accounts.zoho.com/oauth/v2/auth?access_type=offline"
    assert "prompt=consent" not in url
    assert ",".join(Zoho.oauth.scopes).count("ZohoCRM.") == len(Zoho.oauth.scopes)


# -- customers ------------------------------------------------------------------------------------------
@responses.activate
def test_customers_are_the_selected_account_types_with_raw_values_and_parents() -> None:
    responses.get(ACCOUNTS, json=fixture("accounts_page1"))
    options = {"selection": {"account_types": ["Customer"]}}
    page = make().read_page(request(options=options, fields=["Segments", "Owner.email", "Tag"]))
    assert [r.external_id for r in page.records] == ["4876876000000333001", "4876876000000333002"]
    sent = query(responses.calls[0])
    assert sent["fields"] == [
        "Account_Name,Website,Account_Type,Parent_Account,Owner,Modified_Time,Segments,Tag"
    ]
    assert sent["per_page"] == ["200"] and sent["page"] == ["1"]
    acme, child = page.records
    assert acme.fields["Account_Name"] == "Acme Corp"
    assert acme.fields["Owner"] == "4876876000000300001"
    assert acme.fields["Owner.email"] == "ada@acme-zoho.test"
    assert acme.fields["Segments"] == ["EMEA", "Enterprise"]
    assert acme.fields["Tag"] == "VIP"
    assert acme.modified_at == dt.datetime(2026, 1, 3, 9, 0, tzinfo=dt.UTC)
    assert child.links["parent"] == ["4876876000000333001"]
    assert json.loads(page.next_cursor or "") == {
        "i": 0,
        "token": fixture("accounts_page1")["info"]["next_page_token"],
    }


@responses.activate
def test_no_type_chosen_means_every_type() -> None:
    responses.get(ACCOUNTS, json=fixture("accounts_page1"))
    page = make().read_page(request(options={"selection": {"account_types": []}}))
    assert len(page.records) == 3


def test_a_single_value_field_matches_any_listed_value_and_a_multi_value_field_needs_them_all() -> None:
    row = {"Account_Type": "Customer", "Industry": "Retail", "Segments": ["EMEA", "Enterprise"]}
    single = {
        "account_types": ["Customer"],
        "filter_field": "Industry",
        "filter_values": ["Banking", "retail"],
    }
    assert selection_excludes(row, single) is None
    assert selection_excludes(row, {**single, "filter_values": ["Banking"]}) is not None
    multi = {"filter_field": "Segments", "filter_values": ["EMEA", "Enterprise"]}
    assert selection_excludes(row, multi) is None
    reason = selection_excludes(row, {**multi, "filter_values": ["EMEA", "APAC"]})
    assert reason and "APAC" in reason
    assert selection_excludes({**row, "Segments": []}, {**multi, "filter_values": ["EMEA"]})
    tagged = {"Account_Type": "Partner", "Tag": [{"name": "VIP", "id": "1"}]}
    assert selection_excludes(tagged, {"filter_field": "Tag", "filter_values": ["VIP"]}) is None
    assert "Partner" in (selection_excludes(tagged, {"account_types": ["Customer"]}) or "")
    assert selection_excludes(row, {"filter_field": "Segments", "filter_values": []}) is None


@responses.activate
def test_the_filter_field_is_read_and_applied_to_the_listing() -> None:
    responses.get(ACCOUNTS, json=fixture("accounts_page1"))
    responses.get(ACCOUNTS, json=fixture("accounts_page2"))
    options = {"selection": {"account_types": ["Customer", "Partner"], "filter_field": "Segments",
                             "filter_values": ["EMEA", "Enterprise"]}}  # fmt: skip
    ids, _ = read_all(make(), request(options=options))
    assert ids == ["4876876000000333001"]
    assert "Segments" in query(responses.calls[0])["fields"][0].split(",")


@responses.activate
def test_paging_follows_page_token_past_2000_records_never_page_11() -> None:
    first = {**fixture("accounts_page1"), "info": {**fixture("accounts_page1")["info"], "page": 10}}
    responses.get(ACCOUNTS, json=first)
    responses.get(ACCOUNTS, json=fixture("accounts_page2"))
    connector = make()
    cursor = json.dumps({"i": 0, "page": 10})
    page = connector.read_page(request(cursor=cursor))
    assert query(responses.calls[0])["page"] == ["10"]
    connector.read_page(request(cursor=page.next_cursor))
    second = query(responses.calls[1])
    assert "page" not in second
    assert second["page_token"] == [first["info"]["next_page_token"]]


@responses.activate
def test_a_listing_without_page_token_stops_at_2000_rather_than_asking_page_11() -> None:
    body = {
        **fixture("accounts_page1"),
        "info": {**fixture("accounts_page1")["info"], "page": 10, "next_page_token": None},
    }
    responses.get(ACCOUNTS, json=body)
    with pytest.raises(ConnectorError, match="2,000"):
        make().read_page(request(cursor=json.dumps({"i": 0, "page": 10})))
    assert len(responses.calls) == 1


@responses.activate
def test_the_discrete_pagination_error_is_permanent() -> None:
    responses.get(ACCOUNTS, status=400, json=fixture("error_discrete_pagination"))
    with pytest.raises(ConnectorError) as error:
        make().read_page(request(cursor=json.dumps({"i": 0, "page": 11})))
    assert error.value.permanent and error.value.code == "DISCRETE_PAGINATION_LIMIT_EXCEEDED"


@responses.activate
def test_if_modified_since_with_nothing_changed_is_an_empty_last_page() -> None:
    responses.get(ACCOUNTS, status=304)
    since = dt.datetime(2026, 1, 2, 4, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    page = make().read_page(request(since=since))
    assert page.records == [] and page.next_cursor is None
    assert responses.calls[0].request.headers["If-Modified-Since"] == "2026-01-02T03:04:05+00:00"


@responses.activate
def test_the_churn_enumeration_walks_coql_by_id_with_the_same_selection() -> None:
    responses.post(f"{API}/coql", json=fixture("coql_ids_page1"))
    responses.post(f"{API}/coql", json=fixture("coql_ids_page2"))
    options = {
        "selection": {
            "account_types": ["Customer"],
            "filter_field": "Segments",
            "filter_values": ["EMEA", "Enterprise"],
        }
    }
    connector = make()
    first = connector.read_page(request(options=options, ids_only=True))
    second = connector.read_page(request(options=options, ids_only=True, cursor=first.next_cursor))
    assert [r.external_id for r in first.records + second.records] == [
        "4876876000000333001",
        "4876876000000333007",
    ]
    assert second.next_cursor is None
    assert coql_sent(responses.mock) == [
        "select id, Account_Type, Segments from Accounts where Account_Type in ('Customer') order by id asc limit 2000",
        "select id, Account_Type, Segments from Accounts where Account_Type in ('Customer') and id > "
        "'4876876000000333002' order by id asc limit 2000",
    ]


@responses.activate
def test_all_types_enumerate_every_account_and_quotes_are_escaped() -> None:
    responses.post(f"{API}/coql", json=fixture("coql_ids_page2"))
    make().read_page(request(options={"selection": {"account_types": []}}, ids_only=True))
    make().read_page(request(options={"selection": {"account_types": ["O'Brien's"]}}, ids_only=True))
    first, second = coql_sent(responses.mock)
    assert "where id is not null order by id" in first
    assert "Account_Type in ('O\\'Brien\\'s')" in second


@responses.activate
def test_a_deleted_account_is_explained_by_the_recycle_bin() -> None:
    responses.get(f"{ACCOUNTS}/4876876000000333005", status=204)
    responses.get(f"{ACCOUNTS}/deleted", json=fixture("deleted_accounts"))
    from integrations.base import Record

    reason = make().selection_excludes(Record("4876876000000333005", {}), {"selection": {}})
    assert reason == "It was deleted in Zoho."
    assert query(responses.calls[1])["type"] == ["all"]


@responses.activate
def test_deleted_ids_since_a_time_send_if_modified_since() -> None:
    responses.get(f"{ACCOUNTS}/deleted", json=fixture("deleted_accounts"))
    found = make().deleted_accounts(since=dt.datetime(2026, 1, 4, tzinfo=dt.UTC))
    assert found == {"4876876000000333005"}
    assert responses.calls[0].request.headers["If-Modified-Since"] == "2026-01-04T00:00:00+00:00"


# -- contacts, agreements, interactions ----------------------------------------------------------------
@responses.activate
def test_contacts_of_synced_accounts_only_even_without_email() -> None:
    responses.get(f"{API}/Contacts", json=fixture("contacts"))
    scope = [f"48768760000003330{n:02d}" for n in range(20)]
    page = make().read_page(request(ObjectType.CONTACTS, scope_ids=scope, fields=["Contact_Role"]))
    assert [r.external_id for r in page.records] == ["4876876000000444001", "4876876000000444002"]
    assert page.records[1].fields["Email"] is None
    assert page.records[0].links == {"customers": ["4876876000000333001"]}
    assert "Contact_Role" in query(responses.calls[0])["fields"][0]
    # The contacts left out still move the cursor: the newest stamp read is that of 444004.
    assert page.seen == dt.datetime(2026, 1, 3, 9, 7, tzinfo=dt.UTC)


@responses.activate
def test_contacts_of_a_few_new_accounts_come_from_their_related_lists() -> None:
    responses.get(f"{ACCOUNTS}/4876876000000333001/Contacts", json=fixture("contacts"))
    responses.get(f"{ACCOUNTS}/4876876000000333002/Contacts", status=204)
    ids, pages = read_all(
        make(), request(ObjectType.CONTACTS, scope_ids=["4876876000000333001", "4876876000000333002"])
    )
    assert ids == ["4876876000000444001", "4876876000000444002"] and pages == 2
    assert "sort_by" not in query(responses.calls[0])


@responses.activate
def test_agreements_are_won_deals_keyed_by_the_contract_ref_field() -> None:
    responses.get(f"{API}/Deals", json=fixture("deals"))
    options = {"ref_field": "Contract_Ref", "won_only": True}
    page = make().read_page(
        request(ObjectType.AGREEMENTS, options=options, scope_ids=["4876876000000333001"] * 11)
    )
    (record,) = page.records
    assert record.external_id == "CTR-2025-001"
    assert record.fields["Contract_End"] == "2026-06-30"
    assert record.links["customers"] == ["4876876000000333001"]
    assert "Contract_Ref" in query(responses.calls[0])["fields"][0]


@responses.activate
def test_without_a_ref_field_every_won_deal_counts_by_its_id() -> None:
    responses.get(f"{API}/Deals", json=fixture("deals"))
    page = make().read_page(request(ObjectType.AGREEMENTS, options={}, scope_ids=None))
    assert [r.external_id for r in page.records] == ["4876876000000555001", "4876876000000555003"]


@responses.activate
def test_interactions_are_normalised_notes_calls_and_meetings_of_synced_accounts() -> None:
    responses.get(f"{API}/Notes", json=fixture("notes"))
    responses.get(f"{API}/Calls", json=fixture("calls"))
    responses.get(f"{API}/Events", json=fixture("events"))
    connector, records, cursor = make(), [], None
    options = {"kinds": ["note", "call", "meeting"]}
    while True:
        page = connector.read_page(
            request(ObjectType.INTERACTIONS, options=options, cursor=cursor, scope_ids=None)
        )
        records += page.records
        if not (cursor := page.next_cursor):
            break
    assert [(r.kind, r.external_id) for r in records] == [
        ("note", "4876876000000666001"), ("call", "4876876000000667001"), ("meeting", "4876876000000668001"),
    ]  # fmt: skip
    note, call, meeting = records
    assert note.fields == {"subject": "QBR", "body": "Roadmap\nNext step", "occurred_at": "2026-01-02T08:00:00Z",
                           "direction": "", "author_email": "ada@acme-zoho.test"}  # fmt: skip
    assert call.fields["direction"] == "incoming" and call.links["contacts"] == ["4876876000000444001"]
    assert meeting.fields["occurred_at"] == "2026-01-03T09:00:00Z"


# -- writes, fields, identity, errors --------------------------------------------------------------------
@responses.activate
def test_a_write_puts_the_data_array_and_tags_go_through_their_actions() -> None:
    responses.put(f"{ACCOUNTS}/42", json=fixture("update_success"))
    responses.get(
        f"{ACCOUNTS}/42",
        json={"data": [{"id": "42", "Tag": [{"name": "Old", "id": "1"}, {"name": "VIP", "id": "2"}]}]},
    )
    responses.post(
        f"{ACCOUNTS}/42/actions/add_tags", json={"data": [{"code": "SUCCESS", "status": "success"}]}
    )
    responses.post(
        f"{ACCOUNTS}/42/actions/remove_tags", json={"data": [{"code": "SUCCESS", "status": "success"}]}
    )
    make().write(ObjectType.CUSTOMERS, "42", {"Skalin_CSM_Pulse": 4, "Tag": "VIP;Skalin"})
    bodies = {str(c.request.url).split("/crm/v8")[1]: c for c in responses.calls if c.request.method != "GET"}
    assert sent_json(bodies["/Accounts/42"]) == {"data": [{"Skalin_CSM_Pulse": 4}]}
    assert sent_json(bodies["/Accounts/42/actions/add_tags"]) == {"tags": [{"name": "Skalin"}]}
    assert sent_json(bodies["/Accounts/42/actions/remove_tags"]) == {"tags": [{"name": "Old"}]}


@responses.activate
def test_a_refused_record_is_permanent_with_zohos_message() -> None:
    responses.post(f"{API}/Notes", status=400, json=fixture("error_mandatory_not_found"))
    with pytest.raises(ConnectorError) as error:
        make().write(ObjectType.INTERACTIONS, None, {"kind": "note", "subject": "x"}, {"customers": ["1"]})
    assert error.value.permanent and error.value.code == "MANDATORY_NOT_FOUND"
    assert "required field not found" in error.value.message


@responses.activate
def test_an_interaction_is_created_on_its_account() -> None:
    responses.post(f"{API}/Calls", status=201, json=fixture("insert_success"))
    new_id = make().write(
        ObjectType.INTERACTIONS, None,
        {"kind": "call", "subject": "Check-in", "body": "ok", "occurred_at": "2026-01-05T09:00:00Z", "direction": "incoming"},
        {"customers": ["4876876000000333001"], "contacts": ["4876876000000444001"]},
    )  # fmt: skip
    assert new_id == "4876876000000777001"
    (sent,) = sent_json(responses.calls[0])["data"]
    assert sent["What_Id"] == {"id": "4876876000000333001"} and sent["$se_module"] == "Accounts"
    assert sent["Call_Type"] == "Inbound" and sent["Call_Start_Time"] == "2026-01-05T09:00:00+00:00"


@responses.activate
def test_output_fields_are_created_once_and_found_afterwards() -> None:
    responses.get(f"{API}/settings/fields", json=fixture("fields_accounts"))
    responses.post(f"{API}/settings/fields", status=201, json=fixture("field_created"))
    names = make().ensure_output_fields()
    assert names == {"health_score": "Skalin_Healthscore", "csm_pulse": "Skalin_CSM_Pulse"}
    posts = [c for c in responses.calls if c.request.method == "POST"]
    assert len(posts) == 1
    assert sent_json(posts[0]) == {
        "fields": [{"field_label": "Skalin CSM Pulse", "data_type": "integer", "length": 2}]
    }
    assert query(posts[0])["module"] == ["Accounts"]


@responses.activate
def test_fields_and_account_types_come_from_the_field_metadata() -> None:
    responses.get(f"{API}/settings/fields", json=fixture("fields_accounts"))
    connector = make()
    fields = {f.name: f for f in connector.list_fields(ObjectType.CUSTOMERS)}
    assert fields["Segments"].type == "enumeration" and fields["Owner"].type == "user"
    assert not fields["Modified_Time"].writable
    assert connector.list_choices("account_types") == [
        ("Customer", "Customer"),
        ("Prospect", "Prospect"),
        ("Partner", "Partner"),
    ]


@responses.activate
def test_identity_is_the_org_and_the_current_user() -> None:
    responses.get(f"{API}/org", json=fixture("org"))
    responses.get(f"{API}/users", json=fixture("current_user"))
    identity = make().identity()
    assert (identity.account_id, identity.user_email, identity.user_name) == (
        "20071234567",
        "ada@acme-zoho.test",
        "Ada Admin",
    )
    assert query(responses.calls[1])["type"] == ["CurrentUser"]


@responses.activate
def test_user_emails_come_from_all_users_once() -> None:
    responses.get(f"{API}/users", json=fixture("current_user"))
    connector = make()
    assert connector.user_emails(["4876876000000300001", "nobody"]) == {
        "4876876000000300001": "ada@acme-zoho.test"
    }
    connector.user_emails(["4876876000000300001"])
    assert len(responses.calls) == 1


@pytest.mark.parametrize(
    "status, body, expected",
    [
        (401, {"code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token", "status": "error"}, "reconnect"),
        (429, {"code": "TOO_MANY_REQUESTS", "details": {}, "message": "too many", "status": "error"}, "rate_limited"),
        (400, {"code": "INVALID_DATA", "details": {"api_name": "X"}, "message": "invalid data", "status": "error"}, "permanent"),
        (400, {"data": [{"code": "MANDATORY_NOT_FOUND", "details": {"api_name": "Y"}, "message": "required field not found",
                         "status": "error"}]}, "permanent"),
        (500, {"code": "INTERNAL_ERROR", "details": {}, "message": "oops", "status": "error"}, "temporary"),
    ],
)  # fmt: skip
def test_errors_say_what_happens_next(status: int, body: dict, expected: str) -> None:
    error = make().error_from_response(status, body, {})
    flags = {"reconnect": error.reconnect, "rate_limited": error.rate_limited, "permanent": error.permanent and not error.reconnect,
             "temporary": not error.permanent and not error.rate_limited}  # fmt: skip
    assert flags[expected], (expected, error.message)
    assert body.get("message", "") in error.message
