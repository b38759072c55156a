"""The Sellsy connector against recorded Sellsy v2 answers (fixtures/sellsy/*.json)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers

from integrations.base import ConnectorError, ReadRequest
from integrations.crms.sellsy import Sellsy, quota_wait
from integrations.crms.sellsy.reads import own_domain
from integrations.models import ObjectType, SyncMode

from .contract import ConnectorContract, StaticTokens

API = "https://api.sellsy.com"
SEARCH = f"{API}/v2/companies/search"
FIXTURES = Path(__file__).parent / "fixtures" / "sellsy"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def url(call: Any) -> str:
    return str(call.request.url)


def sent(call: Any) -> Any:
    return json.loads(call.request.body)


def make(sleeps: list[float] | None = None, tokens: StaticTokens | None = None) -> Sellsy:
    return TestSellsyContract().make(tokens=tokens, sleeps=sleeps)  # type: ignore[return-value]


def read_everything(connector: Sellsy, base: ReadRequest) -> list[Any]:
    records, cursor = [], None
    for _ in range(1000):
        page = connector.read_page(ReadRequest(**{**base.__dict__, "cursor": cursor}))
        records.extend(page.records)
        if page.next_cursor is None:
            return records
        cursor = page.next_cursor
    raise AssertionError("the listing never ended")


class TestSellsyContract(ConnectorContract):
    connector_class = Sellsy
    base_url = API

    def register_customer_pages(self, rsps: responses.RequestsMock) -> list[str]:
        # A full page of 100 then a short one: the short page ends the listing.
        first, second = fixture("companies_search_page_1"), fixture("companies_search_page_2")
        rsps.add(responses.POST, SEARCH, json=first)
        rsps.add(responses.POST, SEARCH, json=second)
        return [str(c["id"]) for c in first["data"] + second["data"]]

    def assert_since_was_sent(self, rsps: responses.RequestsMock) -> None:
        assert sent(rsps.calls[0])["filters"]["updated_at"] == {"start": "2026-01-02T03:04:05+00:00"}
        assert (
            "order=updated_at" in url(rsps.calls[0])
            and "direction=asc" in url(rsps.calls[0])
            and "offset" not in url(rsps.calls[0])
        )
        # The next page passes Sellsy's seek offset back as it came.
        assert "offset=WyIyMDI2LTAxLTAzVDA5OjAwOjM5KzAwOjAwIiwgMTAwXQ%3D%3D" in url(rsps.calls[1])

    def register_customer_page_after_429(self, rsps: responses.RequestsMock) -> None:
        rsps.add(responses.POST, SEARCH, json=fixture("error_quota"), status=429,
                 headers={"X-Quota-Remaining-By-Second": "0", "X-Quota-Remaining-By-Minute": "120",
                          "X-Quota-Remaining-By-Day": "9000", "X-Quota-Remaining-By-Month": "200000"})  # fmt: skip
        rsps.add(responses.POST, SEARCH, json=fixture("companies_search_one_page"))

    def register_customer_page_after_401(self, rsps: responses.RequestsMock) -> None:
        rsps.add(responses.POST, SEARCH, json=fixture("error_expired_token"), status=401)
        rsps.add(responses.POST, SEARCH, json=fixture("companies_search_one_page"))

    def register_customer_with_unknown_fields(self, rsps: responses.RequestsMock) -> str:
        rsps.add(responses.POST, SEARCH, json=fixture("companies_search_unknown_fields"))
        return "30000999"

    def register_customer_update(self, rsps: responses.RequestsMock, external_id: str) -> None:
        rsps.add(responses.PUT, f"{API}/v2/companies/{external_id}", json=fixture("company_put"),
                 match=[matchers.json_params_matcher({"name": "Acme"})])  # fmt: skip

    def register_permanent_error(self, rsps: responses.RequestsMock) -> None:
        rsps.add(responses.POST, SEARCH, json=fixture("error_validation"), status=400)


def companies_request(**kwargs: Any) -> ReadRequest:
    values: dict[str, Any] = {"since": None, "cursor": None, "options": {}} | kwargs
    return ReadRequest(object_type=ObjectType.CUSTOMERS, **values)


# -- what the connector declares ------------------------------------------------------------------------------
def test_every_object_is_input_only_or_disabled_and_there_is_no_parent_child_option() -> None:
    for spec in Sellsy.objects.values():
        assert set(spec.modes) == {SyncMode.INPUT, SyncMode.DISABLED}
    keys = {option.key for options in Sellsy.options.values() for option in options}
    assert "parent_child" not in keys
    assert {"churn_on_absence", "merge_keys", "exclude_own_domain", "pipelines", "kinds"} <= keys
    assert Sellsy.oauth.pkce and Sellsy.creates_output_fields


# -- customers ------------------------------------------------------------------------------------------------
@responses.activate
def test_customers_are_the_clients_that_are_not_archived_with_custom_fields_embedded() -> None:
    responses.add(responses.POST, SEARCH, json=fixture("companies_search_one_page"))
    page = make().read_page(companies_request(fields=["name", "cf.104", "owner.id"]))
    body = sent(responses.calls[0])
    assert body == {"filters": {"type": "client", "is_archived": False}}
    assert "embed%5B%5D=cf.104" in url(responses.calls[0])
    assert "limit=100" in url(responses.calls[0])
    assert [r.external_id for r in page.records] == ["30000201", "30000202"]
    assert page.records[0].modified_at == dt.datetime(2026, 1, 5, 7, tzinfo=dt.UTC)
    assert page.next_cursor is None


@responses.activate
def test_embedded_custom_fields_become_cf_fields() -> None:
    responses.add(responses.POST, SEARCH, json=fixture("companies_search_page_1"))
    page = make().read_page(companies_request(fields=["cf.104"]))
    assert page.records[3].fields["cf.104"] == 2
    assert "_embed" not in page.records[3].fields


@responses.activate
def test_the_churn_enumeration_lists_every_client_id_without_the_since_filter() -> None:
    """The full listing (ids_only) is what churns a company that stopped being a client, was archived or was
    deleted: all three are simply absent from it."""
    responses.add(responses.POST, SEARCH, json=fixture("companies_search_page_1"))
    responses.add(responses.POST, SEARCH, json=fixture("companies_search_page_2"))
    since = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    records = read_everything(make(), companies_request(since=since, ids_only=True))
    assert len(records) == 102
    assert "updated_at" not in sent(responses.calls[0])["filters"]
    assert "field%5B%5D=id" in url(responses.calls[0])


@responses.activate
def test_a_row_of_another_type_never_counts_as_a_client() -> None:
    answer = fixture("companies_search_one_page")
    answer["data"][1]["type"] = "prospect"
    responses.add(responses.POST, SEARCH, json=answer)
    assert [r.external_id for r in make().read_page(companies_request()).records] == ["30000201"]


# -- contacts -------------------------------------------------------------------------------------------------
def test_own_domains_match_the_domain_and_its_subdomains_only() -> None:
    domains = ["demo-saas.test"]
    assert own_domain("camille@demo-saas.test", domains)
    assert own_domain("theo@EU.demo-saas.test", domains)
    assert not own_domain("x@notdemo-saas.test", domains)
    assert not own_domain("", domains)


@responses.activate
def test_contacts_of_the_workspace_domains_are_left_out_when_the_option_is_on() -> None:
    responses.add(responses.GET, f"{API}/v2/companies/30000001/contacts", json=fixture("contacts_of_company"))
    options = {"exclude_own_domain": True, "own_domains": ["demo-saas.test"]}
    page = make().read_page(ReadRequest(ObjectType.CONTACTS, None, None, options, scope_ids=["30000001"]))
    assert [r.external_id for r in page.records] == ["50000001", "50000003"]  # the one without email stays
    assert page.records[0].links == {"customers": ["30000001"]}
    assert page.records[0].fields["position"] == "DAF"


@responses.activate
def test_contacts_are_all_kept_when_the_option_is_off_or_no_domain_is_known() -> None:
    responses.add(responses.GET, f"{API}/v2/companies/30000001/contacts", json=fixture("contacts_of_company"))
    responses.add(responses.GET, f"{API}/v2/companies/30000001/contacts", json=fixture("contacts_of_company"))
    off = {"exclude_own_domain": False, "own_domains": ["demo-saas.test"]}
    assert (
        len(
            make()
            .read_page(ReadRequest(ObjectType.CONTACTS, None, None, off, scope_ids=["30000001"]))
            .records
        )
        == 4
    )
    unknown = {"exclude_own_domain": True}
    assert (
        len(
            make()
            .read_page(ReadRequest(ObjectType.CONTACTS, None, None, unknown, scope_ids=["30000001"]))
            .records
        )
        == 4
    )


@responses.activate
def test_contacts_are_read_25_companies_a_page() -> None:
    empty = {"data": [], "pagination": {"limit": 100, "count": 0, "total": 0, "offset": None}}
    scope = [str(30000001 + n) for n in range(30)]
    for company in scope:
        responses.add(responses.GET, f"{API}/v2/companies/{company}/contacts", json=empty)
    first = make().read_page(ReadRequest(ObjectType.CONTACTS, None, None, {}, scope_ids=scope))
    assert first.next_cursor == "25" and len(responses.calls) == 25
    last = make().read_page(ReadRequest(ObjectType.CONTACTS, None, "25", {}, scope_ids=scope))
    assert last.next_cursor is None and len(responses.calls) == 30


# -- agreements -----------------------------------------------------------------------------------------------
@responses.activate
def test_won_opportunities_of_the_chosen_pipelines_for_synced_companies() -> None:
    responses.add(responses.POST, f"{API}/v2/opportunities/search", json=fixture("opportunities_search"))
    options = {"object": "opportunities", "pipelines": ["1"], "won_only": True}
    page = make().read_page(ReadRequest(ObjectType.AGREEMENTS, None, None, options, fields=["amount.value", "cf.101"],
                                        scope_ids=["30000001"]))  # fmt: skip
    assert sent(responses.calls[0]) == {"filters": {"statuses": ["won"], "pipeline": [1]}}
    assert "embed%5B%5D=cf.101" in url(responses.calls[0])
    assert [r.external_id for r in page.records] == ["70000001"]  # the other company is not synced
    record = page.records[0]
    assert record.links == {"customers": ["30000001"]}
    assert record.fields["cf.101"] == "2025-07-01" and record.fields["amount"]["value"] == "4800.00"


# -- interactions ---------------------------------------------------------------------------------------------
@responses.activate
def test_comments_and_calls_become_notes_and_calls_with_prefixed_ids() -> None:
    responses.add(responses.POST, f"{API}/v2/comments/search", json=fixture("comments_search"))
    responses.add(responses.POST, f"{API}/v2/phone-calls/search", json=fixture("phone_calls_search"))
    base = ReadRequest(
        ObjectType.INTERACTIONS, None, None, {"kinds": ["note", "call"]}, scope_ids=["30000001"]
    )
    records = read_everything(make(), base)
    assert sent(responses.calls[0]) == {"filters": {"companies": [30000001]}}
    note, call = records
    assert (note.kind, note.external_id, note.fields["body"]) == (
        "note",
        "comment-80000001",
        "Point d'étape : tout va bien.",
    )
    assert note.links == {"customers": ["30000001"], "contacts": ["50000001"]}
    assert (call.kind, call.external_id, call.fields["direction"]) == ("call", "phonecall-5", "outgoing")
    assert call.fields["occurred_at"] == "2025-12-02T14:00:00Z"


@responses.activate
def test_an_incremental_interaction_read_keeps_what_changed_since() -> None:
    responses.add(responses.POST, f"{API}/v2/comments/search", json=fixture("comments_search"))
    since = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    base = ReadRequest(ObjectType.INTERACTIONS, since, None, {"kinds": ["note"]}, scope_ids=["30000001"])
    assert read_everything(make(), base) == []


# -- fields, scores, identity -------------------------------------------------------------------------------------
@responses.activate
def test_the_output_fields_are_created_once_then_found() -> None:
    listing = fixture("custom_fields")
    responses.add(responses.GET, f"{API}/v2/custom-fields", json=listing)
    responses.add(responses.POST, f"{API}/v2/custom-fields", json=fixture("custom_field_created"), status=201)
    pulse = {
        **fixture("custom_field_created"),
        "id": 121,
        "name": "Skalin CSM Pulse",
        "code": "skalin-csm-pulse",
    }
    responses.add(responses.POST, f"{API}/v2/custom-fields", json=pulse, status=201)
    assert make().ensure_output_fields() == {"health_score": "cf.120", "csm_pulse": "cf.121"}
    created = sent(responses.calls[1])
    assert created["name"] == "Skalin Healthscore" and created["type"] == "numeric"
    assert created["parameters"] == {"min": 1, "max": 10, "decimals": 0}

    responses.reset()
    known = {**listing, "data": [*listing["data"], fixture("custom_field_created"), pulse]}
    responses.add(responses.GET, f"{API}/v2/custom-fields", json=known)
    assert make().ensure_output_fields() == {"health_score": "cf.120", "csm_pulse": "cf.121"}
    assert all(call.request.method == "GET" for call in responses.calls)


@responses.activate
def test_a_plan_without_custom_field_quota_is_a_permanent_error() -> None:
    responses.add(responses.GET, f"{API}/v2/custom-fields", json=fixture("custom_fields"))
    responses.add(
        responses.POST, f"{API}/v2/custom-fields", json=fixture("error_custom_field_quota"), status=402
    )
    with pytest.raises(ConnectorError) as error:
        make().ensure_output_fields()
    assert error.value.permanent and "quota" in error.value.message


@responses.activate
def test_scores_go_to_the_company_custom_fields_as_strings_and_are_read_back() -> None:
    responses.add(responses.PUT, f"{API}/v2/companies/42/custom-fields",
                  match=[matchers.json_params_matcher([{"id": 120, "value": "7"}])])  # fmt: skip
    responses.add(
        responses.GET, f"{API}/v2/companies/42/custom-fields", json=fixture("company_custom_fields")
    )
    sellsy = make()
    assert sellsy.write(ObjectType.CUSTOMERS, "42", {"cf.120": 7}) == "42"
    assert sellsy.read_back(ObjectType.CUSTOMERS, "42", ["cf.120"]) == {"cf.120": "7"}


@responses.activate
def test_nothing_but_companies_can_be_written() -> None:
    with pytest.raises(ConnectorError) as error:
        make().write(ObjectType.INTERACTIONS, None, {"subject": "x"}, {"customers": ["1"]})
    assert error.value.permanent


@responses.activate
def test_fields_pickers_staff_emails_and_identity() -> None:
    responses.add(responses.GET, f"{API}/v2/custom-fields", json=fixture("custom_fields"))
    responses.add(responses.GET, f"{API}/v2/staffs", json=fixture("staffs"))
    responses.add(responses.GET, f"{API}/v2/me", json=fixture("me"))
    sellsy = make()
    fields = {f.name: f for f in sellsy.list_fields(ObjectType.CUSTOMERS)}
    assert fields["cf.104"].type == "enumeration" and fields["cf.104"].options[0] == ("1", "PME")
    assert "cf.101" not in fields and fields["owner.id"].type == "user"
    assert sellsy.user_emails(["2", "4", "9"]) == {"2": "julien@demo-saas.test"}
    assert sellsy.user_emails(["2"]) == {"2": "julien@demo-saas.test"}  # the staff list is read once
    identity = sellsy.identity()
    assert (identity.account_id, identity.user_email, identity.user_name) == ("41235", "julien@demo-saas.test",
                                                                              "Julien Commercial")  # fmt: skip
    with pytest.raises(LookupError):
        sellsy.list_choices("lifecycle_stages")


# -- errors and quotas ----------------------------------------------------------------------------------------
def test_each_spent_quota_says_when_it_refills() -> None:
    at = dt.datetime(2026, 3, 31, 23, 59, 30, tzinfo=dt.UTC)
    assert quota_wait({"x-quota-remaining-by-second": "0"}, at) == (1.0, "second")
    assert quota_wait({"x-quota-remaining-by-minute": "0", "x-quota-remaining-by-second": "3"}, at) == (
        30.5,
        "minute",
    )
    assert quota_wait({"x-quota-remaining-by-day": "0"}, at) == (30.0, "day")
    assert quota_wait({"x-quota-remaining-by-month": "0", "x-quota-remaining-by-day": "0"}, at) == (
        30.0,
        "month",
    )


@responses.activate
def test_a_spent_daily_quota_stops_the_run_rate_limited_until_the_reset() -> None:
    responses.add(responses.POST, SEARCH, json=fixture("error_quota"), status=429,
                  headers={"X-Quota-Remaining-By-Day": "0", "X-Quota-Remaining-By-Second": "5"})  # fmt: skip
    with pytest.raises(ConnectorError) as error:
        make().read_page(companies_request())
    assert error.value.rate_limited and not error.value.permanent
    assert error.value.retry_after and error.value.retry_after > 30  # beyond the inline wait: the run parks
    assert len(responses.calls) == 1


@responses.activate
def test_a_second_401_asks_for_a_reconnect() -> None:
    responses.add(responses.POST, SEARCH, json=fixture("error_expired_token"), status=401)
    responses.add(responses.POST, SEARCH, json=fixture("error_expired_token"), status=401)
    tokens = StaticTokens()
    with pytest.raises(ConnectorError) as error:
        make(tokens=tokens).read_page(companies_request())
    assert error.value.reconnect and tokens.refreshes == 1


@responses.activate
def test_validation_errors_carry_sellsys_details() -> None:
    responses.add(responses.POST, SEARCH, json=fixture("error_validation"), status=400)
    with pytest.raises(ConnectorError) as error:
        make().read_page(companies_request())
    assert "filters.type" in error.value.message and error.value.code == "validation"


@responses.activate
def test_why_a_company_is_not_synced() -> None:
    answer = fixture("companies_search_one_page")
    answer["data"][0]["type"] = "prospect"
    responses.add(responses.POST, SEARCH, json=answer)
    sellsy = make()
    found = sellsy.find_customers("Müller")
    assert sent(responses.calls[0]) == {"filters": {"name": "Müller"}}
    assert "prospect" in (sellsy.selection_excludes(found[0], {}) or "")
    assert sellsy.selection_excludes(found[1], {}) is None
    archived = type(found[1])("1", {"type": "client", "is_archived": True})
    assert "archived" in (sellsy.selection_excludes(archived, {}) or "")
