"""The Pipedrive connector against recorded Pipedrive answers (fixtures/pipedrive/*.json): v2 cursor and v1
start/limit envelopes, customers found through won deals, relationships, the daily token budget."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from responses import matchers

from integrations.base import ConnectorError, ReadRequest, Record
from integrations.crms.pipedrive import Pipedrive
from integrations.crms.pipedrive.reads import PER_ORG_MAX
from integrations.models import ObjectType, SyncMode

from .contract import ConnectorContract, StaticTokens

API = "https://demosaas.pipedrive.com"
DEALS, ORGS = f"{API}/api/v2/deals", f"{API}/api/v2/organizations"
RELATIONS = f"{API}/api/v1/organizationRelationships"
FIXTURES = Path(__file__).parent / "fixtures" / "pipedrive"
H1 = "9dc80c50d78a15643bfc4ca79d76156a73a1ca0e"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def query(call: Any) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(call.request.url).query).items()}


def make(sleeps: list[float] | None = None) -> Pipedrive:
    return TestPipedriveContract().make(sleeps=sleeps)  # type: ignore[return-value]


def read(connector: Pipedrive, base: ReadRequest) -> list[Record]:
    records, cursor = [], None
    for _ in range(100):
        page = connector.read_page(ReadRequest(**{**base.__dict__, "cursor": cursor}))
        records.extend(page.records)
        if page.next_cursor is None:
            return records
        cursor = page.next_cursor
    raise AssertionError("the listing never ended")


def won_deals_then_orgs(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, DEALS, json=fixture("deals_won_page_1"))
    rsps.add(responses.GET, ORGS, json=fixture("organizations_1_2"))
    rsps.add(responses.GET, DEALS, json=fixture("deals_won_page_2"))
    rsps.add(responses.GET, ORGS, json=fixture("organizations_3"))


class TestPipedriveContract(ConnectorContract):
    connector_class = Pipedrive
    base_url = API

    def register_customer_pages(self, rsps: responses.RequestsMock) -> list[str]:
        won_deals_then_orgs(rsps)
        rsps.add(responses.GET, ORGS, json=fixture("organizations_updated"))  # incremental reads only
        return ["1", "2", "3"]

    def assert_since_was_sent(self, rsps: responses.RequestsMock) -> None:
        assert query(rsps.calls[0])["updated_since"] == "2026-01-02T03:04:05Z"
        assert query(rsps.calls[0])["status"] == "won"
        # The deals' own cursor, passed back as it came.
        assert query(rsps.calls[2])["cursor"] == "eyJmaWVsZCI6InVwZGF0ZV90aW1lIiwiaWQiOjEwM30"
        changed = query(rsps.calls[4])
        assert str(rsps.calls[4].request.url).startswith(ORGS)
        assert (
            changed["updated_since"] == "2026-01-02T03:04:05Z"
            and changed["include_fields"] == "won_deals_count"
        )

    def register_customer_page_after_429(self, rsps: responses.RequestsMock) -> None:
        rsps.add(responses.GET, DEALS, json=fixture("error_rate_limit"), status=429,
                 headers={"Retry-After": "1", "x-ratelimit-limit": "80", "x-ratelimit-remaining": "0",
                          "x-ratelimit-reset": "1"})  # fmt: skip
        rsps.add(responses.GET, DEALS, json=fixture("deals_won_page_2"))
        rsps.add(responses.GET, ORGS, json=fixture("organizations_3"))

    def register_customer_page_after_401(self, rsps: responses.RequestsMock) -> None:
        rsps.add(responses.GET, DEALS, json=fixture("error_unauthorized"), status=401)
        rsps.add(responses.GET, DEALS, json=fixture("deals_won_page_2"))
        rsps.add(responses.GET, ORGS, json=fixture("organizations_3"))

    def register_customer_with_unknown_fields(self, rsps: responses.RequestsMock) -> str:
        rsps.add(responses.GET, DEALS, json={"success": True, "data": [{"id": 1, "org_id": 9, "status": "won"}],
                                             "additional_data": {"next_cursor": None}})  # fmt: skip
        rsps.add(responses.GET, ORGS, json=fixture("organizations_unknown_fields"))
        return "9"

    def register_customer_update(self, rsps: responses.RequestsMock, external_id: str) -> None:
        rsps.add(responses.PATCH, f"{ORGS}/{external_id}", json=fixture("organization_patched"),
                 match=[matchers.json_params_matcher({"name": "Acme"})])  # fmt: skip

    def register_permanent_error(self, rsps: responses.RequestsMock) -> None:
        rsps.add(responses.GET, DEALS, json=fixture("error_validation"), status=400)


def customers(**kwargs: Any) -> ReadRequest:
    return ReadRequest(
        **({"object_type": ObjectType.CUSTOMERS, "since": None, "cursor": None, "options": {}} | kwargs)
    )


# -- what the connector declares -------------------------------------------------------------------------------
def test_the_declarations_follow_the_guide() -> None:
    assert Pipedrive.oauth.client_auth == "basic" and Pipedrive.oauth.base_url_key == "api_domain"
    assert set(Pipedrive.objects[ObjectType.INTERACTIONS].modes) == {SyncMode.INPUT, SyncMode.TWO_WAYS,
                                                                       SyncMode.OUTPUT, SyncMode.DISABLED}  # fmt: skip
    assert set(Pipedrive.objects[ObjectType.AGREEMENTS].modes) == {SyncMode.INPUT, SyncMode.DISABLED}
    keys = {option.key for options in Pipedrive.options.values() for option in options}
    assert {
        "churn_on_absence",
        "parent_child",
        "merge_keys",
        "object",
        "pipelines",
        "won_only",
        "kinds",
    } <= keys
    assert "Google or Microsoft" in Pipedrive.block_warnings[ObjectType.INTERACTIONS]
    assert Pipedrive.creates_output_fields


# -- customers: organizations with a won deal ------------------------------------------------------------------
@responses.activate
def test_customers_are_the_organizations_of_won_deals_each_once() -> None:
    won_deals_then_orgs(responses.mock)
    records = read(make(), customers(fields=[H1]))
    assert [r.external_id for r in records] == ["1", "2", "3"]  # org 1 has two won deals; a deal without org
    first = query(responses.calls[0])
    assert first == {"status": "won", "sort_by": "update_time", "sort_direction": "asc", "limit": "500"}
    assert query(responses.calls[1])["ids"] == "1,2"
    acme = records[0]
    assert acme.fields["name"] == "Acme SAS" and acme.fields["website"] == "https://acme.fr"
    assert acme.fields[H1] == "SF-001"  # custom fields lifted to the top, by their hash key
    assert acme.modified_at == dt.datetime(2026, 1, 2, 9, tzinfo=dt.UTC)
    assert "parent" not in acme.links  # parent/child off: no relationship calls
    assert not any(RELATIONS in str(c.request.url) for c in responses.calls)


@responses.activate
def test_an_incremental_read_adds_changed_organizations_that_have_a_won_deal() -> None:
    responses.add(responses.GET, DEALS, json=fixture("deals_won_page_2"))
    responses.add(responses.GET, ORGS, json=fixture("organizations_3"))
    responses.add(responses.GET, ORGS, json=fixture("organizations_updated"))
    since = dt.datetime(2026, 1, 3, tzinfo=dt.UTC)
    records = read(make(), customers(since=since))
    # Org 7 has no won deal; org 2 and 8 changed and have one.
    assert [r.external_id for r in records] == ["3", "2", "8"]


@responses.activate
def test_the_churn_enumeration_reads_every_won_deal_whatever_the_cursor() -> None:
    won_deals_then_orgs(responses.mock)
    records = read(make(), customers(ids_only=True, options={"parent_child": True}))
    assert [r.external_id for r in records] == ["1", "2", "3"] and all(not r.fields for r in records)
    assert len(responses.calls) == 4  # no incremental phase, no relationship calls


@responses.activate
def test_a_deleted_organization_behind_a_won_deal_is_not_a_customer() -> None:
    responses.add(responses.GET, DEALS, json=fixture("deals_won_page_2"))
    gone = fixture("organizations_3")
    gone["data"][0]["is_deleted"] = True
    responses.add(responses.GET, ORGS, json=gone)
    assert read(make(), customers(ids_only=True)) == []


@responses.activate
def test_parents_come_from_organization_relationships_read_once_per_family() -> None:
    won_deals_then_orgs(responses.mock)
    responses.add(
        responses.GET,
        RELATIONS,
        json=fixture("relationships_none"),
        match=[matchers.query_param_matcher({"org_id": "1"})],
    )
    responses.add(
        responses.GET,
        RELATIONS,
        json=fixture("relationships_org_2"),
        match=[matchers.query_param_matcher({"org_id": "2"})],
    )
    records = {r.external_id: r for r in read(make(), customers(options={"parent_child": True}))}
    assert "parent" not in records["1"].links
    assert records["2"].links["parent"] == ["1"]
    assert records["3"].links["parent"] == ["2"]  # a third level: the engine attaches it to the top
    # Org 3's parent was in org 2's list: no call for it; "related" relationships are no parents.
    assert [query(c)["org_id"] for c in responses.calls if str(c.request.url).startswith(RELATIONS)] == [
        "1",
        "2",
    ]


# -- dependent objects ---------------------------------------------------------------------------------------------
@responses.activate
def test_persons_of_a_few_organizations_are_read_per_organization() -> None:
    responses.add(responses.GET, f"{API}/api/v2/persons", json=fixture("persons"))
    responses.add(
        responses.GET,
        f"{API}/api/v2/persons",
        json={"success": True, "data": [], "additional_data": {"next_cursor": None}},
    )
    records = read(make(), ReadRequest(ObjectType.CONTACTS, None, None, {}, scope_ids=["1", "2"]))
    assert [query(c)["org_id"] for c in responses.calls] == ["1", "2"]
    assert [r.external_id for r in records] == ["501", "502"]  # 503 belongs to an organization not synced
    zoe = records[0]
    assert zoe.fields["email"] == "zoe@acme.fr" and zoe.fields["phone"] == "+33 1 23 45 67 89"
    assert zoe.links == {"customers": ["1"]} and records[1].fields["email"] == ""


@responses.activate
def test_persons_of_many_organizations_are_read_in_one_walk() -> None:
    responses.add(responses.GET, f"{API}/api/v2/persons", json=fixture("persons"))
    scope = [str(n) for n in range(1, PER_ORG_MAX + 5)]
    since = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    records = read(make(), ReadRequest(ObjectType.CONTACTS, since, None, {}, scope_ids=scope))
    assert len(responses.calls) == 1 and "org_id" not in query(responses.calls[0])
    assert query(responses.calls[0])["updated_since"] == "2026-01-01T00:00:00Z"
    assert [r.external_id for r in records] == ["501", "502"]


@responses.activate
def test_a_walk_reports_the_newest_change_it_read_of_an_unsynced_organization() -> None:
    responses.add(responses.GET, f"{API}/api/v2/persons", json=fixture("persons"))
    scope = [str(n) for n in range(1, PER_ORG_MAX + 5)]  # organization 77 is not synced
    since = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    page = make().read_page(ReadRequest(ObjectType.CONTACTS, since, None, {}, scope_ids=scope))
    assert [r.external_id for r in page.records] == ["501", "502"]
    assert page.seen == dt.datetime(2026, 1, 3, 12, tzinfo=dt.UTC)  # 503's: the cursor moves past it


@responses.activate
def test_agreements_are_won_deals_of_the_chosen_pipelines() -> None:
    responses.add(responses.GET, DEALS, json=fixture("deals_won_page_1"))
    responses.add(responses.GET, DEALS, json=fixture("deals_won_page_2"))
    scope = [str(n) for n in range(1, PER_ORG_MAX + 5)]
    records = read(
        make(), ReadRequest(ObjectType.AGREEMENTS, None, None, {"pipelines": ["2"]}, scope_ids=scope)
    )
    assert [r.external_id for r in records] == ["103", "104"]
    assert query(responses.calls[0])["pipeline_id"] == "2" and query(responses.calls[0])["status"] == "won"
    assert records[0].links == {"customers": ["1"]}
    assert records[0].fields["5b3e1c9a1f2d4e6b8a0c2d4e6f8a0b2c4d6e8f0a"] == {"value": 490, "currency": "EUR"}


@responses.activate
def test_agreements_from_organization_fields_read_the_synced_organizations() -> None:
    responses.add(responses.GET, ORGS, json=fixture("organizations_1_2"))
    page = make().read_page(
        ReadRequest(ObjectType.AGREEMENTS, None, None, {"object": "organizations"}, scope_ids=["1", "2"])
    )
    assert [(r.external_id, r.links["customers"]) for r in page.records] == [("1", ["1"]), ("2", ["2"])]
    assert page.next_cursor is None


@responses.activate
def test_interactions_are_done_activities_by_type_then_notes_paged_by_start() -> None:
    responses.add(responses.GET, f"{API}/api/v2/activities", json=fixture("activities"))
    responses.add(responses.GET, f"{API}/api/v1/notes", json=fixture("notes_page_1"))
    responses.add(responses.GET, f"{API}/api/v1/notes", json=fixture("notes_page_2"))
    scope = [str(n) for n in range(1, PER_ORG_MAX + 5)]
    request = ReadRequest(
        ObjectType.INTERACTIONS, None, None, {"kinds": ["call", "meeting", "note"]}, scope_ids=scope
    )
    records = {r.external_id: r for r in read(make(), request)}
    assert list(records) == [
        "activity-901",
        "activity-903",
        "note-71",
        "note-72",
    ]  # the task is no interaction
    call = records["activity-901"]
    assert call.kind == "call" and call.fields["occurred_at"] == "2025-12-02T14:30:00Z"
    assert call.links == {"customers": ["1"], "contacts": ["501", "504"]}
    assert records["activity-903"].fields["body"] == "" and records["activity-903"].kind == "meeting"
    note = records["note-71"]
    assert note.kind == "note" and note.fields["occurred_at"] == "2025-11-20T08:15:00Z"
    assert note.links == {"customers": ["1"], "contacts": ["501"]}
    assert query(responses.calls[0])["done"] == "true"
    assert [query(c).get("start") for c in responses.calls[1:]] == ["0", "500"]
    assert query(responses.calls[1])["sort"] == "update_time ASC"


@responses.activate
def test_emails_only_read_no_notes_and_no_synced_organization_reads_nothing() -> None:
    responses.add(responses.GET, f"{API}/api/v2/activities", json=fixture("activities"))
    page = make().read_page(
        ReadRequest(ObjectType.INTERACTIONS, None, None, {"kinds": ["email"]}, scope_ids=["1"])
    )
    assert page.records == [] and page.next_cursor is None and len(responses.calls) == 1
    assert make().read_page(ReadRequest(ObjectType.INTERACTIONS, None, None, {}, scope_ids=[])).records == []
    assert len(responses.calls) == 1


# -- writes, output fields -----------------------------------------------------------------------------------------
@responses.activate
def test_custom_fields_are_written_under_custom_fields_and_read_back() -> None:
    responses.add(responses.PATCH, f"{ORGS}/42", json=fixture("organization_patched"),
                  match=[matchers.json_params_matcher({"name": "Acme", "custom_fields": {H1: 4}})])  # fmt: skip
    responses.add(responses.GET, f"{ORGS}/42", json=fixture("organization_42"))
    connector = make()
    assert connector.write(ObjectType.CUSTOMERS, "42", {"name": "Acme", H1: 4}) == "42"
    assert connector.read_back(ObjectType.CUSTOMERS, "42", [H1, "name"]) == {H1: "SF-0042", "name": "Acme"}


@responses.activate
def test_a_person_email_is_written_as_the_primary_email() -> None:
    responses.add(responses.PATCH, f"{API}/api/v2/persons/501", json={"success": True, "data": {"id": 501}},
                  match=[matchers.json_params_matcher({"emails": [{"value": "new@acme.fr", "primary": True, "label": "work"}]})])  # fmt: skip
    assert make().write(ObjectType.CONTACTS, "501", {"email": "new@acme.fr"}) == "501"


@responses.activate
def test_pushed_interactions_become_activities_or_notes() -> None:
    responses.add(responses.POST, f"{API}/api/v2/activities", json=fixture("activity_created"),
                  match=[matchers.json_params_matcher({"subject": "QBR", "type": "meeting", "org_id": 42, "due_date": "2026-01-05",
                                                       "due_time": "10:00", "done": True, "note": "ok",
                                                       "participants": [{"person_id": 501, "primary": True}]})])  # fmt: skip
    responses.add(responses.POST, f"{API}/api/v1/notes", json=fixture("note_created"),
                  match=[matchers.json_params_matcher({"content": "Hello", "org_id": 42, "add_time": "2026-01-05 10:00:00",
                                                       "pinned_to_organization_flag": 0})])  # fmt: skip
    connector = make()
    links = {"customers": ["42"], "contacts": ["501"]}
    fields = {"subject": "QBR", "body": "ok", "occurred_at": "2026-01-05T10:00:00+00:00", "kind": "meeting"}
    assert connector.write(ObjectType.INTERACTIONS, None, fields, links) == "activity-950"
    note = {"subject": "", "body": "Hello", "occurred_at": "2026-01-05T10:00:00+00:00", "kind": "note"}
    assert connector.write(ObjectType.INTERACTIONS, None, note, {"customers": ["42"]}) == "note-880"


@responses.activate
def test_output_fields_are_created_once_then_found_by_name() -> None:
    fields = f"{API}/api/v1/organizationFields"
    responses.add(responses.GET, fields, json=fixture("organization_fields"))
    responses.add(responses.POST, fields, json={"success": True, "data": {"id": 40, "key": "a" * 40}},
                  match=[matchers.json_params_matcher({"name": "Skalin Healthscore", "field_type": "double", "add_visible_flag": True})])  # fmt: skip
    responses.add(responses.POST, fields, json=fixture("organization_field_created"))
    assert make().ensure_output_fields() == {
        "health_score": "a" * 40,
        "csm_pulse": "d4c0b8a6e2f1c3b5a7d9e0f2a4c6b8d0e1f3a5c7",
    }
    responses.add(responses.GET, fields, json=fixture("organization_fields_with_skalin"))
    calls = len(responses.calls)
    keys = make().ensure_output_fields()
    assert keys == {
        "health_score": "aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd",
        "csm_pulse": "1111111111222222222233333333334444444444",
    }
    assert [c.request.method for c in responses.calls[calls:]] == ["GET"]


@responses.activate
def test_a_plan_without_room_for_custom_fields_is_permanent_with_its_words() -> None:
    fields = f"{API}/api/v1/organizationFields"
    responses.add(responses.GET, fields, json=fixture("organization_fields"))
    responses.add(responses.POST, fields, json=fixture("error_feature_capping"), status=403)
    with pytest.raises(ConnectorError) as error:
        make().ensure_output_fields()
    assert error.value.permanent and not error.value.reconnect
    assert "Custom fields limit reached" in error.value.message and "plan" in error.value.message


# -- identity, fields, pickers ----------------------------------------------------------------------------------------
@responses.activate
def test_identity_users_fields_and_pipelines() -> None:
    responses.add(responses.GET, f"{API}/api/v1/users/me", json=fixture("users_me"))
    responses.add(responses.GET, f"{API}/api/v1/users", json=fixture("users"))
    responses.add(responses.GET, f"{API}/api/v1/organizationFields", json=fixture("organization_fields"))
    responses.add(responses.GET, f"{API}/api/v1/pipelines", json=fixture("pipelines"))
    connector = make()
    identity = connector.identity()
    assert (identity.account_id, identity.user_email, identity.user_name) == (
        "7301024",
        "anna@demo.test",
        "Anna Admin",
    )
    assert connector.user_emails(["11", "12", "99"]) == {"11": "anna@demo.test"}
    fields = {f.name: f for f in connector.list_fields(ObjectType.CUSTOMERS)}
    assert fields[H1].label == "Old CRM ID" and fields[H1].writable
    assert not fields["won_deals_count"].writable and fields["won_deals_count"].type == "number"
    assert fields["0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"].options == (("11", "SMB"), ("12", "Mid-market"))
    assert connector.list_choices("pipelines") == [("1", "New business"), ("2", "Renewals")]


# -- errors and the token budget ---------------------------------------------------------------------------------------
@responses.activate
def test_a_spent_daily_budget_ends_the_read_as_rate_limited_until_the_reset() -> None:
    responses.add(responses.GET, DEALS, json=fixture("error_rate_limit"), status=429,
                  headers={"x-ratelimit-limit": "30000", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "5400",
                           "x-daily-requests-left": "0"})  # fmt: skip
    sleeps: list[float] = []
    with pytest.raises(ConnectorError) as error:
        make(sleeps=sleeps).read_page(customers())
    assert error.value.rate_limited and error.value.retry_after == 5400
    assert "daily API token budget" in error.value.message
    assert sleeps == [] and len(responses.calls) == 1  # no retry loop against a spent budget


def test_a_budget_429_without_a_reset_waits_until_midnight_utc() -> None:
    error = make().error_from_response(429, fixture("error_rate_limit"), {"x-daily-requests-left": "0"})
    assert error.rate_limited and 0 < (error.retry_after or 0) <= 86_400


def test_a_burst_429_waits_the_two_second_window() -> None:
    error = make().error_from_response(429, fixture("error_rate_limit"), {"x-ratelimit-reset": "2"})
    assert error.rate_limited and error.retry_after == 2 and error.code == "burst"


@pytest.mark.parametrize(
    ("status", "name", "permanent", "reconnect"),
    [(401, "error_unauthorized", True, True), (403, "error_forbidden", True, False),
     (400, "error_validation", True, False), (503, "error_rate_limit", False, False)],
)  # fmt: skip
def test_errors_say_what_happens_next(status: int, name: str, permanent: bool, reconnect: bool) -> None:
    error = make().error_from_response(status, fixture(name), {})
    assert (error.permanent, error.reconnect) == (permanent, reconnect)
    assert error.message.startswith("Pipedrive: ")
    if status == 403:
        assert "lacks the rights" in error.message


@responses.activate
def test_a_second_401_after_the_refresh_asks_for_a_reconnect() -> None:
    responses.add(responses.GET, DEALS, json=fixture("error_unauthorized"), status=401)
    responses.add(responses.GET, DEALS, json=fixture("error_unauthorized"), status=401)
    tokens = StaticTokens()
    with pytest.raises(ConnectorError) as error:
        TestPipedriveContract().make(tokens=tokens).read_page(customers())
    assert error.value.reconnect and tokens.refreshes == 1


@responses.activate
def test_why_an_organization_is_not_a_customer() -> None:
    responses.add(
        responses.GET, DEALS, json={"success": True, "data": [], "additional_data": {"next_cursor": None}}
    )
    reason = make().selection_excludes(Record("7", {"name": "Prospect Ltd"}), {})
    assert reason and "no won deal" in reason
    assert query(responses.calls[0]) == {"org_id": "7", "status": "won", "limit": "1"}
