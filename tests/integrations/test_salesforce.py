"""The Salesforce connector against recorded, vendor-shaped responses (fixtures/salesforce/*.json)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from integrations.base import ConnectorError, CrmField, ReadRequest
from integrations.crms.salesforce import Salesforce, list_view_filter, soql_datetime, soql_string
from integrations.http import CrmHttp
from integrations.models import ObjectType
from tests.integrations.contract import ConnectorContract, StaticTokens, read_all

FIXTURES = Path(__file__).parent / "fixtures" / "salesforce"
BASE = "https://acme.my.salesforce.com"
DATA = f"{BASE}/services/data/v60.0"
QUERY = f"{DATA}/query"
VIEW = "00B5g00000AbCdEEAZ"
ACCOUNT = "001D000000JliSSIAZ"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def url(call: Any) -> str:
    return str(call.request.url)


def soql_sent(rsps: responses.RequestsMock) -> list[str]:
    """The SOQL of every query call, in order."""
    return [
        parse_qs(urlsplit(url(call)).query)["q"][0]
        for call in rsps.calls
        if urlsplit(url(call)).path.endswith("/query")
    ]


def make(sleeps: list[float] | None = None, tokens: StaticTokens | None = None) -> Salesforce:
    waits = sleeps if sleeps is not None else []
    http = CrmHttp(base_url=BASE, tokens=tokens or StaticTokens(), sleep=waits.append, max_inline_wait=30)
    return Salesforce(http)


def request(object_type: ObjectType = ObjectType.CUSTOMERS, **kwargs: Any) -> ReadRequest:
    values: dict[str, Any] = {"since": None, "cursor": None, "options": {}, **kwargs}
    return ReadRequest(object_type=object_type, **values)


@pytest.fixture(autouse=True)
def _api_version(settings):
    settings.CRM_SETTINGS = {
        **settings.CRM_SETTINGS,
        "salesforce": {**settings.CRM_SETTINGS["salesforce"], "api_version": "v60.0"},
    }


class TestSalesforceContract(ConnectorContract):
    connector_class = Salesforce
    base_url = BASE

    def customer_options(self) -> dict[str, Any]:
        return {"selection": {"list_view_id": VIEW}}

    def register_describe(self, rsps: responses.RequestsMock) -> None:
        rsps.get(
            f"{DATA}/sobjects/Account/listviews/{VIEW}/describe", json=fixture("listview_describe_customers")
        )

    def register_customer_pages(self, rsps: responses.RequestsMock) -> list[str]:
        self.register_describe(rsps)
        rsps.get(QUERY, json=fixture("query_accounts_page1"))
        rsps.get(f"{DATA}/query/01gD0000002HU6KIAW-2000", json=fixture("query_accounts_page2"))
        return ["001D000000JliSTIAZ", "001D000000JliSVIAZ", ACCOUNT]

    def assert_since_was_sent(self, rsps: responses.RequestsMock) -> None:
        (query,) = soql_sent(rsps)
        assert "SystemModstamp >= 2026-01-02T03:04:05Z" in query
        assert query.endswith(" ORDER BY SystemModstamp")

    def register_customer_page_after_429(self, rsps: responses.RequestsMock) -> None:
        # Salesforce has no 429 (its spent quota is a 403 REQUEST_LIMIT_EXCEEDED, which must stop the run,
        # see test_a_spent_daily_allocation_...): the retryable wait it does send is a 503 with Retry-After.
        self.register_describe(rsps)
        rsps.get(QUERY, status=503, json=fixture("error_server_unavailable"), headers={"Retry-After": "1"})
        rsps.get(QUERY, json=fixture("query_accounts_page2"))

    def register_customer_page_after_401(self, rsps: responses.RequestsMock) -> None:
        rsps.get(
            f"{DATA}/sobjects/Account/listviews/{VIEW}/describe",
            status=401,
            json=fixture("error_session_expired"),
        )
        self.register_describe(rsps)
        rsps.get(QUERY, json=fixture("query_accounts_page2"))

    def register_customer_with_unknown_fields(self, rsps: responses.RequestsMock) -> str:
        self.register_describe(rsps)
        rsps.get(QUERY, json=fixture("query_accounts_unknown_fields"))
        return "001D000000JliSXIAZ"

    def register_customer_update(self, rsps: responses.RequestsMock, external_id: str) -> None:
        rsps.patch(f"{DATA}/sobjects/Account/{external_id}", status=204)

    def register_permanent_error(self, rsps: responses.RequestsMock) -> None:
        self.register_describe(rsps)
        rsps.get(QUERY, status=400, json=fixture("error_invalid_field"))


# -- customers -------------------------------------------------------------------------------------------
@responses.activate
def test_the_customer_query_reuses_the_list_view_where_and_the_since_time() -> None:
    responses.get(
        f"{DATA}/sobjects/Account/listviews/{VIEW}/describe", json=fixture("listview_describe_customers")
    )
    responses.get(QUERY, json=fixture("query_accounts_page2"))
    since = dt.datetime(2026, 1, 2, 4, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    options = {"selection": {"list_view_id": VIEW}}
    page = make().read_page(request(since=since, options=options, fields=["Type", "name", "Name"]))
    assert soql_sent(responses.mock) == [
        "SELECT Id, Name, Website, ParentId, SystemModstamp, Type FROM Account "
        "WHERE (Type = 'Customer - Direct') AND SystemModstamp >= 2026-01-02T03:04:05Z ORDER BY SystemModstamp"
    ]
    (record,) = page.records
    assert record.external_id == ACCOUNT
    assert record.fields == {
        "Id": ACCOUNT,
        "Name": "Edge Communications",
        "Website": None,
        "ParentId": None,
        "SystemModstamp": "2026-01-04T08:30:00.000+0000",
        "Type": "Customer - Direct",
    }
    assert record.modified_at == dt.datetime(2026, 1, 4, 8, 30, tzinfo=dt.UTC)


@responses.activate
def test_a_full_read_of_all_accounts_is_not_sorted_and_links_parents() -> None:
    responses.get(QUERY, json=fixture("query_accounts_page1"))
    responses.get(f"{DATA}/query/01gD0000002HU6KIAW-2000", json=fixture("query_accounts_page2"))
    connector = make()
    first = connector.read_page(request())
    assert soql_sent(responses.mock) == ["SELECT Id, Name, Website, ParentId, SystemModstamp FROM Account"]
    assert first.records[1].links == {"parent": ["001D000000JliSTIAZ"]}
    assert first.records[0].links == {}
    second = connector.read_page(request(cursor=first.next_cursor))
    assert url(responses.calls[1]) == f"{DATA}/query/01gD0000002HU6KIAW-2000"
    assert [r.external_id for r in second.records] == [ACCOUNT] and second.next_cursor is None


@responses.activate
def test_a_list_view_scope_is_kept_and_an_enumeration_ignores_since() -> None:
    responses.get(
        f"{DATA}/sobjects/Account/listviews/{VIEW}/describe", json=fixture("listview_describe_my_accounts")
    )
    responses.get(QUERY, json=fixture("query_accounts_page2"))
    since = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    make().read_page(request(since=since, ids_only=True, options={"selection": {"list_view_id": VIEW}}))
    assert soql_sent(responses.mock) == [
        "SELECT Id, Name, Website, ParentId, SystemModstamp FROM Account USING SCOPE mine"
    ]


@responses.activate
def test_a_list_view_without_usable_soql_falls_back_to_intersecting_its_result_ids() -> None:
    responses.get(
        f"{DATA}/sobjects/Account/listviews/{VIEW}/describe", json=fixture("listview_describe_without_query")
    )
    results = responses.get(
        f"{DATA}/sobjects/Account/listviews/{VIEW}/results", json=fixture("listview_results")
    )
    responses.get(QUERY, json=fixture("query_accounts_fallback"))
    since = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    page = make().read_page(request(since=since, options={"selection": {"list_view_id": VIEW}}))
    assert [r.external_id for r in page.records] == ["001D000000JliSTIAZ", "001D000000JliSVIAZ"]
    assert parse_qs(urlsplit(url(results.calls[0])).query) == {"limit": ["2000"], "offset": ["0"]}
    (query,) = soql_sent(responses.mock)
    assert query.startswith(
        "SELECT Id, Name, Website, ParentId, SystemModstamp FROM Account WHERE SystemModstamp >="
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SELECT Id FROM Account", ("", "")),
        (
            "SELECT Name, toLabel(Type) FROM Account WHERE (Type = 'Customer' OR Type = 'ORDER BY') AND Name != null "
            "ORDER BY Name ASC NULLS FIRST, Id ASC NULLS FIRST",
            ("", "(Type = 'Customer' OR Type = 'ORDER BY') AND Name != null"),
        ),
        (
            "SELECT Id FROM Account USING SCOPE team WHERE Name LIKE 'It\\'s%' LIMIT 100",
            ("team", "Name LIKE 'It\\'s%'"),
        ),
        ("SELECT Id FROM Account USING SCOPE queue WHERE Name != null", None),  # a scope SOQL does not know
        ("SELECT Id FROM Contact WHERE Email != null", None),  # another object
        ("SELECT Id FROM Account WHERE Name = 'unbalanced", None),
        ("SELECT Id FROM Account WHERE (Name = 'x'", None),
        ("SELECT Type, COUNT(Id) FROM Account GROUP BY Type", None),
        ("", None),
    ],
)
def test_only_plain_list_view_soql_is_reused(query: str, expected: tuple[str, str] | None) -> None:
    assert list_view_filter(query, "Account") == expected


# -- SOQL literals ---------------------------------------------------------------------------------------
def test_soql_literals_escape_quotes_backslashes_and_like_wildcards() -> None:
    assert soql_string("O'Reilly \\ Co") == "'O\\'Reilly \\\\ Co'"
    assert soql_string("line\nbreak") == "'line\\nbreak'"
    assert soql_string("100%_done", like=True) == "'100\\%\\_done'"
    paris = dt.datetime(2026, 1, 2, 4, 4, 5, 999, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert soql_datetime(paris) == "2026-01-02T03:04:05Z"


@responses.activate
def test_a_name_with_a_quote_is_escaped_in_the_lookup_query() -> None:
    responses.get(QUERY, json={"totalSize": 0, "done": True, "records": []})
    assert make().find_customers("O'Reilly 100%") == []
    assert soql_sent(responses.mock) == [
        "SELECT Id, Name, Website, ParentId, SystemModstamp FROM Account "
        "WHERE Name LIKE '%O\\'Reilly 100\\%%' ORDER BY Name LIMIT 20"
    ]


def test_field_names_that_are_not_identifiers_are_refused() -> None:
    with pytest.raises(ConnectorError) as error:
        make().read_page(request(fields=["Name FROM User --"]))
    assert error.value.permanent


# -- contacts and agreements -----------------------------------------------------------------------------
@responses.activate
def test_contacts_are_read_in_chunks_that_keep_each_url_short() -> None:
    responses.get(QUERY, json={"totalSize": 0, "done": True, "records": []})
    scope = [f"001D{n:011d}AAA" for n in range(1500)]
    page = make().read_page(request(ObjectType.CONTACTS, scope_ids=scope))
    assert page.records == [] and page.next_cursor is None
    queries = soql_sent(responses.mock)
    assert len(queries) > 1
    assert all(len(url(call)) < 16_000 for call in responses.calls)
    sent = [i.strip("' ") for q in queries for i in q.split("AccountId IN (")[1].rstrip(")").split(",")]
    assert sent == scope
    assert queries[0].startswith(
        "SELECT Id, FirstName, LastName, Email, Phone, Title, AccountId, SystemModstamp FROM Contact WHERE AccountId IN ("
    )


@responses.activate
def test_contacts_follow_the_contact_list_view_and_link_to_their_account() -> None:
    responses.get(
        f"{DATA}/sobjects/Contact/listviews/00B5g00000CoNtAEAV/describe",
        json=fixture("listview_describe_contacts"),
    )
    responses.get(QUERY, json=fixture("query_contacts"))
    read = request(
        ObjectType.CONTACTS,
        scope_ids=[ACCOUNT],
        options={"contact_list_view_id": "00B5g00000CoNtAEAV"},
        fields=["Skalin_Role__c"],
    )
    page = make().read_page(read)
    (query,) = soql_sent(responses.mock)
    assert query.endswith(
        "FROM Contact WHERE (Skalin_Role__c != null OR Title LIKE '%(CEO)%') AND AccountId IN ('001D000000JliSSIAZ')"
    )
    assert [r.links for r in page.records] == [{"customers": [ACCOUNT]}] * 2
    assert page.records[1].fields["Email"] is None  # kept: the engine decides
    assert page.records[0].fields["Skalin_Role__c"] == "Champion"


def test_an_empty_scope_reads_nothing() -> None:
    page = make().read_page(request(ObjectType.CONTACTS, scope_ids=[]))
    assert page.records == [] and page.next_cursor is None


@responses.activate
def test_won_opportunities_of_the_chosen_record_types_are_read() -> None:
    responses.get(QUERY, json=fixture("query_opportunities"))
    options = {"object": "Opportunity", "pipelines": ["0125g000000AbCdAAK"], "won_only": True}
    read = request(ObjectType.AGREEMENTS, scope_ids=[ACCOUNT], options=options, fields=["Contract_End__c"])
    page = make().read_page(read)
    (query,) = soql_sent(responses.mock)
    assert query == (
        "SELECT Id, Name, AccountId, Amount, CloseDate, StageName, IsWon, SystemModstamp, Contract_End__c "
        "FROM Opportunity WHERE IsWon = true AND RecordTypeId IN ('0125g000000AbCdAAK') "
        "AND AccountId IN ('001D000000JliSSIAZ')"
    )
    assert [r.links for r in page.records] == [{"customers": [ACCOUNT]}] * 2
    assert page.records[1].fields["Amount"] is None


@responses.activate
def test_contracts_are_read_with_their_dates_and_term() -> None:
    responses.get(QUERY, json=fixture("query_contracts"))
    page = make().read_page(
        request(ObjectType.AGREEMENTS, scope_ids=[ACCOUNT], options={"object": "Contract"})
    )
    (query,) = soql_sent(responses.mock)
    assert query.startswith(
        "SELECT Id, ContractNumber, AccountId, StartDate, EndDate, ContractTerm, Status, "
    )
    assert "IsWon" not in query
    (record,) = page.records
    assert (record.fields["StartDate"], record.fields["EndDate"], record.fields["ContractTerm"]) == (
        "2025-01-01",
        "2025-12-31",
        12,
    )


# -- interactions ----------------------------------------------------------------------------------------
@responses.activate
def test_tasks_events_emails_and_notes_are_normalised() -> None:
    for name in ("query_tasks", "query_users", "query_events", "query_email_messages", "query_notes"):
        responses.get(QUERY, json=fixture(name))
    connector = make()
    read = request(
        ObjectType.INTERACTIONS, scope_ids=[ACCOUNT], options={"kinds": ["email", "meeting", "call", "note"]}
    )
    records = []
    cursor = None
    while True:
        page = connector.read_page(
            ReadRequest(
                object_type=read.object_type,
                since=None,
                cursor=cursor,
                options=read.options,
                scope_ids=read.scope_ids,
            )
        )
        records += page.records
        cursor = page.next_cursor
        if cursor is None:
            break
    queries = soql_sent(responses.mock)
    assert "FROM Task WHERE TaskSubtype IN ('Email', 'Call', 'Task') AND AccountId IN (" in queries[0]
    assert queries[1] == "SELECT Id, Email FROM User WHERE Id IN ('005D0000001KyEIIA0', '005D0000009ZzZzIAK')"
    assert "FROM EmailMessage WHERE ActivityId = null AND RelatedToId IN (" in queries[3]
    assert "FROM Note WHERE ParentId IN (" in queries[4]
    by_id = {r.external_id: r for r in records}
    call = by_id["00TD000000AbCd1MAF"]
    assert call.kind == "call"
    assert call.fields == {
        "subject": "Call: renewal",
        "body": "Discussed the renewal.",
        "occurred_at": "2025-12-10T00:00:00Z",
        "direction": "incoming",
        "author_email": "csm@acme.test",
    }
    assert call.links == {"customers": [ACCOUNT], "contacts": ["003D000000QV9n2IAD"]}
    email_task = by_id["00TD000000AbCd2MAF"]
    assert (email_task.kind, email_task.fields["occurred_at"]) == ("email", "2025-12-11T09:30:00Z")
    todo = by_id["00TD000000AbCd3MAF"]
    assert todo.kind == "note" and todo.links["contacts"] == []  # a Lead is not a contact
    assert todo.fields["author_email"] == ""  # owner unknown to the User query
    meeting = by_id["00UD0000005EvEnMAF"]
    assert (meeting.kind, meeting.fields["occurred_at"], meeting.fields["direction"]) == (
        "meeting",
        "2025-12-15T14:00:00Z",
        "",
    )
    incoming, outgoing = by_id["02sD0000000EmAiIAG"], by_id["02sD0000000EmAjIAG"]
    assert (incoming.kind, incoming.fields["direction"], incoming.fields["author_email"]) == (
        "email",
        "incoming",
        "rose@edge.com",
    )
    assert outgoing.fields["direction"] == "outgoing"
    assert incoming.links == {"customers": [ACCOUNT], "contacts": []}
    note = by_id["002D000000NoTeSIAR"]
    assert note.fields["subject"] == "Champion left" and note.fields["body"].startswith("Rose moves")


@responses.activate
def test_only_the_kinds_asked_for_are_queried() -> None:
    responses.get(QUERY, json={"totalSize": 0, "done": True, "records": []})
    make().read_page(request(ObjectType.INTERACTIONS, scope_ids=[ACCOUNT], options={"kinds": ["call"]}))
    (query,) = soql_sent(responses.mock)
    assert "FROM Task WHERE TaskSubtype IN ('Call') AND AccountId IN ('001D000000JliSSIAZ')" in query


@responses.activate
def test_creating_an_interaction_posts_a_completed_task() -> None:
    created = responses.post(f"{DATA}/sobjects/Task", status=201, json=fixture("task_created"))
    fields = {
        "kind": "call",
        "subject": "CSM call",
        "body": "Renewal is on track.",
        "occurred_at": "2026-01-05T15:30:00Z",
        "direction": "outgoing",
        "author_email": "csm@acme.test",
    }
    new_id = make().write(
        ObjectType.INTERACTIONS, None, fields, {"customers": [ACCOUNT], "contacts": ["003D000000QV9n2IAD"]}
    )
    assert new_id == "00TD000000NeWtAMAF"
    assert json.loads(created.calls[0].request.body) == {
        "Subject": "CSM call",
        "Description": "Renewal is on track.",
        "WhatId": ACCOUNT,
        "WhoId": "003D000000QV9n2IAD",
        "ActivityDate": "2026-01-05",
        "Status": "Completed",
        "TaskSubtype": "Call",
        "CallType": "Outbound",
    }


@responses.activate
def test_a_meeting_becomes_an_event() -> None:
    created = responses.post(
        f"{DATA}/sobjects/Event", status=201, json={"id": "00UD0000005NeWeMAF", "success": True, "errors": []}
    )
    fields = {"kind": "meeting", "subject": "QBR", "body": "", "occurred_at": "2026-01-05T15:30:00+01:00"}
    assert (
        make().write(ObjectType.INTERACTIONS, None, fields, {"customers": [ACCOUNT]}) == "00UD0000005NeWeMAF"
    )
    body = json.loads(created.calls[0].request.body)
    assert body["StartDateTime"] == "2026-01-05T14:30:00Z" and body["DurationInMinutes"] == 30


@responses.activate
def test_a_customer_write_patches_and_reads_back() -> None:
    patched = responses.patch(f"{DATA}/sobjects/Account/{ACCOUNT}", status=204)
    read = responses.get(f"{DATA}/sobjects/Account/{ACCOUNT}", json=fixture("account_read_back"))
    connector = make()
    assert connector.write(ObjectType.CUSTOMERS, ACCOUNT, {"Skalin_Healthscore__c": 8}) == ACCOUNT
    assert json.loads(patched.calls[0].request.body) == {"Skalin_Healthscore__c": 8}
    assert connector.read_back(ObjectType.CUSTOMERS, ACCOUNT, ["Skalin_Healthscore__c"]) == {
        "Skalin_Healthscore__c": 8.0
    }
    assert parse_qs(urlsplit(url(read.calls[0])).query) == {"fields": ["Skalin_Healthscore__c"]}


# -- fields, choices, identity ---------------------------------------------------------------------------
@responses.activate
def test_describe_becomes_crm_fields() -> None:
    responses.get(f"{DATA}/sobjects/Account/describe", json=fixture("describe_account"))
    fields = {f.name: f for f in make().list_fields(ObjectType.CUSTOMERS)}
    assert fields["Type"] == CrmField(
        "Type",
        "Account Type",
        "enumeration",
        (("Prospect", "Prospect"), ("Customer - Direct", "Customer - Direct")),
    )
    assert fields["OwnerId"].type == "user"
    assert fields["ParentId"].type == "reference"
    assert fields["Skalin_Healthscore__c"] == CrmField(
        "Skalin_Healthscore__c", "Skalin Healthscore", "number"
    )
    assert fields["Renewal_Date__c"].type == "date" and fields["Is_Strategic__c"].type == "bool"
    assert fields["SystemModstamp"].writable is False and fields["Website"].type == "string"


@responses.activate
def test_list_views_and_record_types_become_choices() -> None:
    responses.get(f"{DATA}/sobjects/Account/listviews", json=fixture("listviews_account"))
    responses.get(QUERY, json=fixture("query_record_types"))
    connector = make()
    assert connector.list_choices("account_list_views") == [
        ("00BD0000005WcCNMA0", "My Accounts"),
        ("00B5g00000AbCdEEAZ", "Customers"),
        ("00BD0000005WcCFMA0", "All Accounts"),
    ]
    assert connector.list_choices("pipelines") == [
        ("0125g000000AbCdAAK", "New Business"),
        ("0125g000000AbCeAAK", "Renewal"),
    ]


@responses.activate
def test_api_usage_is_read_from_the_limit_header() -> None:
    responses.get(
        f"{BASE}/services/oauth2/userinfo",
        json=fixture("userinfo"),
        headers={"Sforce-Limit-Info": "api-usage=18/5000; per-app-api-usage=17/250(appName=skalin)"},
    )
    connector = make()
    assert connector.api_usage is None
    connector.identity()
    assert connector.api_usage == (18, 5000)


@responses.activate
def test_identity_names_the_org_and_the_user() -> None:
    responses.get(f"{BASE}/services/oauth2/userinfo", json=fixture("userinfo"))
    identity = make().identity()
    assert (identity.account_id, identity.user_email, identity.user_name) == (
        "00D5g000004AbCdEAK",
        "csm@acme.test",
        "Camille Martin",
    )


# -- errors ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "name", "flags"),
    [
        (401, "error_session_expired", {"reconnect": True, "permanent": True}),
        (403, "error_request_limit", {"rate_limited": True, "permanent": False, "retry_after": 3600.0}),
        (400, "error_invalid_field", {"permanent": True, "code": "INVALID_FIELD"}),
        (400, "error_malformed_query", {"permanent": True, "code": "MALFORMED_QUERY"}),
        (400, "error_query_timeout", {"permanent": False, "rate_limited": False}),
        (503, "error_server_unavailable", {"permanent": False}),
    ],
)
def test_error_arrays_say_what_happens_next(status: int, name: str, flags: dict[str, Any]) -> None:
    error = make().error_from_response(status, fixture(name), {})
    for flag, value in flags.items():
        assert getattr(error, flag) == value, flag
    assert fixture(name)[0]["message"].strip().splitlines()[-1] in error.message


def test_an_oauth_error_body_and_an_html_page_are_mapped_too() -> None:
    error = make().error_from_response(
        400, {"error": "invalid_grant", "error_description": "expired access/refresh token"}, {}
    )
    assert error.permanent and "expired access/refresh token" in error.message
    assert make().error_from_response(502, "<html>Bad gateway</html>", {}).permanent is False


@responses.activate
def test_a_spent_daily_allocation_stops_the_run_without_a_hot_loop() -> None:
    responses.get(
        QUERY,
        status=403,
        json=fixture("error_request_limit"),
        headers={"Sforce-Limit-Info": "api-usage=5001/5000"},
    )
    sleeps: list[float] = []
    connector = make(sleeps=sleeps)
    with pytest.raises(ConnectorError) as error:
        read_all(connector, request())
    assert error.value.rate_limited and error.value.retry_after == 3600.0
    assert len(responses.calls) == 1 and sleeps == []
    assert connector.api_usage == (5001, 5000)


@responses.activate
def test_a_second_expired_session_surfaces_as_reconnect() -> None:
    responses.get(QUERY, status=401, json=fixture("error_session_expired"))
    tokens = StaticTokens()
    with pytest.raises(ConnectorError) as error:
        make(tokens=tokens).read_page(request())
    assert error.value.reconnect and tokens.refreshes == 1 and len(responses.calls) == 2


@responses.activate
def test_deleted_accounts_come_from_query_all_since_the_cursor() -> None:
    responses.add(responses.GET, f"{DATA}/queryAll", json={
        "totalSize": 1, "done": True,
        "records": [{"attributes": {"type": "Account", "url": "/x"}, "Id": "001000000000001AAA"}],
    })  # fmt: skip
    since = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert make().deleted_ids(ObjectType.CUSTOMERS, since) == ["001000000000001AAA"]
    soql = parse_qs(urlsplit(str(responses.calls[0].request.url)).query)["q"][0]
    assert soql == "SELECT Id FROM Account WHERE IsDeleted = true AND SystemModstamp >= 2026-01-02T03:04:05Z"
