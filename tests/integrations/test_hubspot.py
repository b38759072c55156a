"""The HubSpot connector against recorded HubSpot answers (fixtures/hubspot/*.json) and a small fake search."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers

from integrations.base import ConnectorError, Identity, ReadRequest
from integrations.crms.hubspot import HubSpot
from integrations.models import ObjectType, SyncState
from integrations.sync import since_for

from .contract import ConnectorContract, StaticTokens

API = "https://api.hubapi.com"
SEARCH = f"{API}/crm/v3/objects/companies/search"
FIXTURES = Path(__file__).parent / "fixtures" / "hubspot"
SELECTION = {"lifecycle_stages": ["customer", "evangelist"], "filter_property": "", "filter_values": []}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def one_page() -> dict[str, Any]:
    page = fixture("companies_search_page_1")
    del page["paging"]
    return page


def sent(call: Any) -> Any:
    return json.loads(call.request.body)


def make(sleeps: list[float] | None = None, tokens: StaticTokens | None = None) -> HubSpot:
    return TestHubSpotContract().make(tokens=tokens, sleeps=sleeps)  # type: ignore[return-value]


def request(object_type: ObjectType, **kwargs: Any) -> ReadRequest:
    values: dict[str, Any] = {"since": None, "cursor": None, "options": {"selection": SELECTION}} | kwargs
    return ReadRequest(object_type=object_type, **values)


def read_everything(connector: HubSpot, base: ReadRequest) -> list[Any]:
    records, cursor = [], base.cursor
    for _ in range(1000):
        page = connector.read_page(ReadRequest(**{**base.__dict__, "cursor": cursor}))
        records.extend(page.records)
        if page.next_cursor is None:
            return records
        cursor = page.next_cursor
    raise AssertionError("the listing never ended")


class TestHubSpotContract(ConnectorContract):
    connector_class = HubSpot
    base_url = API

    def customer_options(self) -> dict[str, Any]:
        return {"selection": SELECTION}

    def register_customer_pages(self, rsps: responses.RequestsMock) -> list[str]:
        # The second page is short yet announces a next one; the third is empty: the end.
        for n in (1, 2, 3):
            rsps.add(responses.POST, SEARCH, json=fixture(f"companies_search_page_{n}"))
        return ["18451921850", "18451921851", "18451921852"]

    def assert_since_was_sent(self, rsps: responses.RequestsMock) -> None:
        first = sent(rsps.calls[0])
        since_ms = str(int(self.since.timestamp()) * 1000)
        assert {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": since_ms} in first[
            "filterGroups"
        ][0]["filters"]
        assert first["sorts"] == [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]

    def register_customer_page_after_429(self, rsps: responses.RequestsMock) -> None:
        rsps.add(
            responses.POST,
            SEARCH,
            json=fixture("rate_limit_ten_secondly"),
            status=429,
            headers={"Retry-After": "1"},
        )
        rsps.add(responses.POST, SEARCH, json=one_page())

    def register_customer_page_after_401(self, rsps: responses.RequestsMock) -> None:
        rsps.add(responses.POST, SEARCH, json=fixture("error_expired_token"), status=401)
        rsps.add(responses.POST, SEARCH, json=one_page())

    def register_customer_with_unknown_fields(self, rsps: responses.RequestsMock) -> str:
        rsps.add(responses.POST, SEARCH, json=fixture("companies_search_unknown_fields"))
        return "18451921999"

    def register_customer_update(self, rsps: responses.RequestsMock, external_id: str) -> None:
        rsps.add(
            responses.PATCH,
            f"{API}/crm/v3/objects/companies/{external_id}",
            json=fixture("company_patch"),
            match=[matchers.json_params_matcher({"properties": {"name": "Acme"}})],
        )

    def register_permanent_error(self, rsps: responses.RequestsMock) -> None:
        rsps.add(responses.POST, SEARCH, json=fixture("error_validation"), status=400)


# -- companies ------------------------------------------------------------------------------------------------
@responses.activate
def test_the_search_sends_the_lifecycle_stages_and_the_filter_property() -> None:
    responses.add(responses.POST, SEARCH, json=one_page())
    selection = {
        "lifecycle_stages": ["customer"],
        "filter_property": "customer_tier",
        "filter_values": ["gold", 2],
    }
    make().read_page(request(ObjectType.CUSTOMERS, options={"selection": selection}, fields=["industry"]))
    body = sent(responses.calls[0])
    assert body["filterGroups"] == [
        {
            "filters": [
                {"propertyName": "lifecyclestage", "operator": "IN", "values": ["customer"]},
                {"propertyName": "customer_tier", "operator": "IN", "values": ["gold", "2"]},
            ]
        }
    ]
    assert body["limit"] == 200 and body["after"] == "0"
    assert {"name", "domain", "hs_parent_company_id", "hs_lastmodifieddate", "industry"} <= set(
        body["properties"]
    )


@responses.activate
def test_without_a_selection_customers_and_evangelists_are_read() -> None:
    responses.add(responses.POST, SEARCH, json=one_page())
    make().read_page(request(ObjectType.CUSTOMERS, options={}))
    stages = sent(responses.calls[0])["filterGroups"][0]["filters"][0]
    assert stages == {
        "propertyName": "lifecyclestage",
        "operator": "IN",
        "values": ["customer", "evangelist"],
    }


@responses.activate
def test_a_company_carries_its_raw_fields_its_parent_and_its_modification_time() -> None:
    responses.add(responses.POST, SEARCH, json=one_page())
    child = make().read_page(request(ObjectType.CUSTOMERS)).records[1]
    assert child.external_id == "18451921851"
    assert child.fields["name"] == "Société Générale des Eaux"
    assert child.links == {"parent": ["18451921850"]}
    assert child.modified_at == dt.datetime(2026, 1, 6, 9, 30, 0, 120000, tzinfo=dt.UTC)


@responses.activate
def test_an_ids_only_enumeration_asks_for_the_stamp_alone() -> None:
    responses.add(responses.POST, SEARCH, json=one_page())
    make().read_page(request(ObjectType.CUSTOMERS, ids_only=True))
    assert sent(responses.calls[0])["properties"] == ["hs_lastmodifieddate"]


class FakeSearch:
    """HubSpot search as far as the walk needs it: the modification-time and id filters, one sort, `after`
    as an offset, and HTTP 400 past 10,000 results. Ties in time come back in no particular order, and ids
    compare as strings, as HubSpot's do."""

    def __init__(self, stamps: dict[str, int], stamp: str = "hs_lastmodifieddate") -> None:
        self.stamps, self.stamp = stamps, stamp
        self.calls = 0

    def __call__(self, prepared: Any) -> tuple[int, dict[str, str], str]:
        self.calls += 1
        body = json.loads(prepared.body)
        rows = [
            r for r in self.stamps.items() if any(self.matches(r, g["filters"]) for g in body["filterGroups"])
        ]
        if body["sorts"][0]["propertyName"] == "hs_object_id":
            rows.sort(key=lambda r: r[0])
        else:
            rows.sort(key=lambda r: (r[1], hashlib.sha1(r[0].encode()).hexdigest()))
        after, limit = int(body["after"]), body["limit"]
        if after + limit > 10_000:
            return 400, {}, json.dumps(fixture("error_validation"))
        page = rows[after : after + limit]
        answer: dict[str, Any] = {
            "total": len(rows),
            "results": [{"id": i, "properties": {"hs_object_id": i, self.stamp: str(ms)}} for i, ms in page],
        }
        if after + len(page) < len(rows):
            answer["paging"] = {"next": {"after": str(after + len(page))}}
        return 200, {}, json.dumps(answer)

    def matches(self, row: tuple[str, int], filters: list[dict[str, Any]]) -> bool:
        """Filters inside a group are ANDed (groups are ORed by the caller)."""
        record_id, ms = row
        for f in filters:
            if f["propertyName"] == self.stamp:
                value = int(f["value"])
                test = {"GTE": value.__le__, "GT": value.__lt__, "EQ": value.__eq__}[f["operator"]]
                if not test(ms):
                    return False
            elif f["propertyName"] == "hs_object_id":
                if f["operator"] == "NOT_IN":
                    if record_id in f["values"]:
                        return False
                elif not record_id > f["value"]:
                    return False
        return True


@responses.activate
def test_each_search_page_brings_200_new_records_none_read_again() -> None:
    """The next page asks past the last millisecond seen OR at it without the ids already read (two ORed
    groups), so 600 companies at distinct milliseconds take 3 searches, not 4."""
    start = 1_760_000_000_000
    stamps = {str(1_000 + n): start + n for n in range(600)}
    fake = FakeSearch(stamps)
    responses.add_callback(responses.POST, SEARCH, callback=fake)
    records = read_everything(make(), request(ObjectType.CUSTOMERS))
    assert sorted(r.external_id for r in records) == sorted(stamps)
    assert fake.calls == 3
    second = sent(responses.calls[1])["filterGroups"]
    assert len(second) == 2
    assert {"propertyName": "hs_object_id", "operator": "NOT_IN", "values": ["1199"]} in second[1]["filters"]


def stamps_past_the_cap() -> dict[str, int]:
    """10,450 companies: most at distinct milliseconds, 450 imported in the same millisecond, with ids of
    different lengths (the lexicographic trap of crm-apis.md §7)."""
    start = 1_760_000_000_000
    stamps = {str(5_000_000 + n): start + n * 10 for n in range(10_000)}
    stamps |= {str(i): start + 50_005 for i in [*range(7190, 7609), 719869649082, *range(72, 102)]}
    return stamps


@responses.activate
def test_the_10000_result_cap_is_crossed_without_losing_or_repeating_a_record() -> None:
    stamps = stamps_past_the_cap()
    fake = FakeSearch(stamps)
    responses.add_callback(responses.POST, SEARCH, callback=fake)
    records = read_everything(make(), request(ObjectType.CUSTOMERS))
    ids = [r.external_id for r in records]
    assert len(ids) == len(stamps) == 10_450
    assert set(ids) == set(stamps)
    assert max(int(sent(call)["after"]) for call in responses.calls) < 10_000


@responses.activate
def test_a_crowded_last_millisecond_is_walked_by_id_with_no_search_after_it() -> None:
    """450 companies imported in one millisecond, the newest: the counts show nothing lies past it."""
    start = 1_760_000_000_000
    stamps = {str(5_000_000 + n): start + n for n in range(150)} | {
        str(n): start + 999 for n in range(100, 550)
    }
    responses.add_callback(responses.POST, SEARCH, callback=FakeSearch(stamps))
    records = read_everything(make(), request(ObjectType.CUSTOMERS))
    assert sorted(r.external_id for r in records) == sorted(stamps)
    operators = [f["operator"] for call in responses.calls for f in sent(call)["filterGroups"][0]["filters"]
                 if f["propertyName"] == "hs_lastmodifieddate"]  # fmt: skip
    # The page after the first asks past the floor OR at it without the ids read (its first group's GT), then
    # 450 by id: three pages, and no strict search after them.
    assert operators == ["GT", "EQ", "EQ", "EQ"]


@responses.activate
def test_a_company_changed_during_the_walk_makes_no_other_one_slip() -> None:
    """With a plain offset, a record read earlier and changed meanwhile shifts the rest by one."""
    stamps = {str(1000 + n): 1_760_000_000_000 + n for n in range(600)}
    fake = FakeSearch(stamps)
    responses.add_callback(responses.POST, SEARCH, callback=fake)
    connector = make()
    first = connector.read_page(request(ObjectType.CUSTOMERS))
    stamps["1000"] = 1_770_000_000_000  # modified in HubSpot while we read
    rest = read_everything(connector, request(ObjectType.CUSTOMERS, cursor=first.next_cursor))
    assert {r.external_id for r in first.records + rest} == set(stamps)


# -- contacts, deals, engagements: full reads ------------------------------------------------------------------
def assoc_url(from_type: str, to_type: str) -> str:
    return f"{API}/crm/v4/associations/{from_type}/{to_type}/batch/read"


def batch_url(object_name: str) -> str:
    return f"{API}/crm/v3/objects/{object_name}/batch/read"


def search_url(object_name: str) -> str:
    return f"{API}/crm/v3/objects/{object_name}/search"


class FakeAssociations:
    """The v4 association batch read over a fixed set of links, as HubSpot answers it: at most 100 inputs,
    ids without associations reported as 207 errors."""

    def __init__(self, links: dict[str, list[str]], type_id: int) -> None:
        self.links, self.type_id = links, type_id
        self.inputs: list[list[str]] = []

    def __call__(self, prepared: Any) -> tuple[int, dict[str, str], str]:
        ids = [item["id"] for item in json.loads(prepared.body)["inputs"]]
        assert len(ids) <= 100
        self.inputs.append(ids)
        types = [{"category": "HUBSPOT_DEFINED", "typeId": self.type_id, "label": None}]
        results = [
            {
                "from": {"id": i},
                "to": [{"toObjectId": int(t), "associationTypes": types} for t in self.links[i]],
            }
            for i in ids
            if self.links.get(i)
        ]
        lone = [i for i in ids if not self.links.get(i)]
        answer: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if lone:
            answer["numErrors"] = len(lone)
            answer["errors"] = [
                {"status": "error", "category": "OBJECT_NOT_FOUND",
                 "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND", "message": f"No association for {i}.",
                 "context": {"fromObjectId": [i]}}
                for i in lone
            ]  # fmt: skip
        return (207 if lone else 200), {}, json.dumps(answer)


class FakeBatchRead:
    """The v3 batch read of contacts: each id answers with a contact whose primary company is `primary`."""

    def __init__(self, primary: dict[str, str] | None = None) -> None:
        self.primary = primary or {}
        self.inputs: list[list[str]] = []

    def __call__(self, prepared: Any) -> tuple[int, dict[str, str], str]:
        ids = [item["id"] for item in json.loads(prepared.body)["inputs"]]
        assert len(ids) <= 100
        self.inputs.append(ids)
        results = [
            {"id": i, "properties": {"hs_object_id": i, "associatedcompanyid": self.primary.get(i),
                                     "lastmodifieddate": "2026-01-03T08:00:00.000Z"}}
            for i in ids
        ]  # fmt: skip
        return 200, {}, json.dumps({"status": "COMPLETE", "results": results})


def one_contact_each(companies: list[str]) -> dict[str, list[str]]:
    return {company: [f"9{company}"] for company in companies}


def answer_the_companies_contacts() -> None:
    """The recorded associations of companies 101-103 to their contacts (in two pages) and the contacts."""
    responses.add(
        responses.POST,
        assoc_url("companies", "contacts"),
        json=fixture("associations_companies_contacts"),
        status=207,
    )
    responses.add(
        responses.POST,
        assoc_url("companies", "contacts"),
        json=fixture("associations_companies_contacts_more"),
    )
    responses.add(responses.POST, batch_url("contacts"), json=fixture("contacts_batch_read"))


@responses.activate
def test_contacts_of_the_synced_companies_come_with_their_company() -> None:
    answer_the_companies_contacts()
    page = make().read_page(
        request(ObjectType.CONTACTS, scope_ids=["101", "102", "103"], fields=["hs_buying_role"])
    )
    assert page.next_cursor is None
    by_id = {r.external_id: r for r in page.records}
    assert {k: r.links["customers"] for k, r in by_id.items()} == {
        "201": ["101"], "202": ["101"], "203": ["102"], "204": ["101"]
    }  # fmt: skip
    assert by_id["202"].fields["email"] is None  # no email: returned all the same
    assert by_id["201"].fields["hs_buying_role"] == "CHAMPION"
    assert sent(responses.calls[0]) == {"inputs": [{"id": "101"}, {"id": "102"}, {"id": "103"}]}
    assert sent(responses.calls[1]) == {
        "inputs": [{"id": "101", "after": "MjAy"}]
    }  # that company's next page
    batch = sent(responses.calls[2])
    assert batch["inputs"] == [{"id": i} for i in ("201", "202", "204", "203")]
    assert {"email", "firstname", "lastname", "phone", "jobtitle", "lastmodifieddate"} <= set(
        batch["properties"]
    )
    assert len(responses.calls) == 3


@responses.activate
def test_a_full_read_takes_a_thousand_companies_a_page_and_rounds_its_batches_once() -> None:
    scope = [str(1000 + n) for n in range(2050)]
    links = one_contact_each(scope) | {"1000": ["91000", "77"], "1001": ["77"]}
    associations, batch = FakeAssociations(links, 280), FakeBatchRead()
    responses.add_callback(responses.POST, assoc_url("companies", "contacts"), callback=associations)
    responses.add_callback(responses.POST, batch_url("contacts"), callback=batch)
    connector = make()
    pages, cursor = [], None
    while True:
        page = connector.read_page(request(ObjectType.CONTACTS, scope_ids=scope, cursor=cursor))
        pages.append(page)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(pages) == 3  # 1,000 + 1,000 + 50 companies
    records = [r for p in pages for r in p.records]
    assert sorted(r.external_id for r in records) == sorted({c for linked in links.values() for c in linked})
    shared = next(r for r in records if r.external_id == "77")
    assert shared.links["customers"] == ["1000", "1001"]  # read once, linked to both
    # 2,050 contacts: 21 batch reads, all full but the last; 21 association reads of 100 companies or fewer.
    assert [len(ids) for ids in batch.inputs] == [100] * 20 + [50]
    assert len(associations.inputs) == 21


@responses.activate
def test_a_listing_resumes_from_the_cursor_of_its_last_page() -> None:
    scope = [str(1000 + n) for n in range(1050)]
    links = one_contact_each(scope) | {"1000": ["91000", "78"]}
    responses.add_callback(
        responses.POST, assoc_url("companies", "contacts"), callback=FakeAssociations(links, 280)
    )
    responses.add_callback(responses.POST, batch_url("contacts"), callback=FakeBatchRead())
    first = make().read_page(request(ObjectType.CONTACTS, scope_ids=scope))
    assert first.next_cursor is not None
    # A crash here: another process resumes with the persisted cursor.
    rest = read_everything(make(), request(ObjectType.CONTACTS, scope_ids=scope, cursor=first.next_cursor))
    ids = [r.external_id for r in first.records + rest]
    assert len(first.records) == 1000 and len(rest) == 51  # one record waited for the next page
    assert sorted(ids) == sorted({c for linked in links.values() for c in linked})


@responses.activate
def test_a_cursor_left_by_the_hundred_companies_paging_starts_the_listing_over() -> None:
    scope = [str(1000 + n) for n in range(150)]
    associations = FakeAssociations(one_contact_each(scope), 280)
    responses.add_callback(responses.POST, assoc_url("companies", "contacts"), callback=associations)
    responses.add_callback(responses.POST, batch_url("contacts"), callback=FakeBatchRead())
    page = make().read_page(request(ObjectType.CONTACTS, scope_ids=scope, cursor="100"))
    assert page.next_cursor is None
    assert sorted(r.external_id for r in page.records) == [f"9{c}" for c in scope]


@responses.activate
def test_companies_synced_or_dropped_before_a_listing_resumes_shift_no_other_company() -> None:
    scope = [str(1000 + n) for n in range(1500)]
    responses.add_callback(
        responses.POST,
        assoc_url("companies", "contacts"),
        callback=FakeAssociations(one_contact_each(scope), 280),
    )
    responses.add_callback(responses.POST, batch_url("contacts"), callback=FakeBatchRead())
    first = make().read_page(request(ObjectType.CONTACTS, scope_ids=scope))
    # Before the next run resumes the listing, a company of the first page left the selection.
    resumed = [c for c in scope if c != "1003"]
    rest = read_everything(make(), request(ObjectType.CONTACTS, scope_ids=resumed, cursor=first.next_cursor))
    assert sorted(r.external_id for r in first.records + rest) == sorted(f"9{c}" for c in scope)


@responses.activate
def test_a_contact_leads_with_its_primary_company_when_that_one_is_synced_too() -> None:
    scope = [str(1000 + n) for n in range(1000)] + ["555"]  # 555 falls on the next page
    links = one_contact_each(scope[:1000]) | {"1000": ["204", "91000"], "555": ["204"]}
    associations = FakeAssociations(links, 280)
    responses.add_callback(responses.POST, assoc_url("companies", "contacts"), callback=associations)
    responses.add_callback(responses.POST, batch_url("contacts"), callback=FakeBatchRead({"204": "555"}))
    records = read_everything(make(), request(ObjectType.CONTACTS, scope_ids=scope))
    # Read on both pages (once for company 1000, once for 555): the same customer leads both times.
    assert [r.links["customers"] for r in records if r.external_id == "204"] == [["555", "1000"], ["555"]]


@pytest.mark.parametrize(
    ("pipelines", "expected"),
    [(["default", "8675309"], ["301", "303", "304"]), (["default"], ["301", "304"])],
)
@responses.activate
def test_won_deals_of_the_chosen_pipelines_are_read(pipelines: list[str], expected: list[str]) -> None:
    responses.add(
        responses.POST,
        assoc_url("companies", "deals"),
        json=fixture("associations_companies_deals"),
        status=207,
    )
    responses.add(responses.POST, batch_url("deals"), json=fixture("deals_batch_read"))
    responses.add(responses.GET, f"{API}/crm/v3/pipelines/deals", json=fixture("pipelines_deals"))
    options = {"object": "deals", "pipelines": pipelines, "won_only": True}
    fields = ["contract_start_date", "contract_end_date", "notice_period_months", "tacit_renewal"]
    page = make().read_page(
        request(ObjectType.AGREEMENTS, options=options, scope_ids=["101", "102", "103"], fields=fields)
    )
    assert [r.external_id for r in page.records] == expected
    won = page.records[0]
    assert won.links == {"customers": ["101"]}
    assert won.fields["contract_end_date"] == "2026-12-31" and won.fields["amount"] == "12000"
    batch = next(c for c in responses.calls if str(c.request.url).endswith("/objects/deals/batch/read"))
    assert set(fields) <= set(sent(batch)["properties"])


def register_engagements(rsps: responses.RequestsMock) -> None:
    for kind in ("emails", "meetings", "calls", "notes"):
        status = 207 if kind == "emails" else 200
        rsps.add(
            responses.POST,
            assoc_url("companies", kind),
            json=fixture(f"associations_companies_{kind}"),
            status=status,
        )
        rsps.add(responses.POST, batch_url(kind), json=fixture(f"{kind}_batch_read"))
        rsps.add(responses.POST, assoc_url(kind, "contacts"), json=fixture(f"associations_{kind}_contacts"))


@responses.activate
def test_engagements_are_scoped_to_the_companies_and_normalised() -> None:
    register_engagements(responses.mock)
    records = read_everything(make(), request(ObjectType.INTERACTIONS, options={}, scope_ids=["101", "102"]))
    by_id = {r.external_id: r for r in records}
    assert {k: r.kind for k, r in by_id.items()} == {
        "401": "email", "402": "email", "501": "meeting", "601": "call", "701": "note"
    }  # fmt: skip
    assert by_id["401"].fields == {
        "subject": "Renewal proposal",
        "body": "Hello Alice,\nHere is the proposal.",
        "occurred_at": "2026-01-05T14:00:00Z",
        "direction": "outgoing",
        "author_email": "csm@skalin-demo.test",
    }
    assert by_id["402"].fields["direction"] == "incoming"
    assert by_id["402"].fields["occurred_at"] == "2026-01-06T16:00:00Z"  # epoch milliseconds in a string
    assert by_id["501"].fields["occurred_at"] == "2026-01-07T09:00:00Z"
    assert (
        by_id["601"].fields["direction"] == "incoming" and by_id["601"].fields["subject"] == "Check-in call"
    )
    assert (
        by_id["701"].fields["subject"] == ""
        and by_id["701"].fields["body"] == "<p>Customer asked about SSO</p>"
    )
    assert by_id["401"].links == {"customers": ["101"], "contacts": ["201"]}
    assert by_id["501"].links == {"customers": ["101"], "contacts": []}
    assert by_id["402"].modified_at == dt.datetime(2026, 1, 6, 16, tzinfo=dt.UTC)


@responses.activate
def test_each_kind_of_engagement_is_a_page_of_its_own() -> None:
    register_engagements(responses.mock)
    connector = make()
    first = connector.read_page(request(ObjectType.INTERACTIONS, options={}, scope_ids=["101", "102"]))
    assert {r.kind for r in first.records} == {"email"}
    assert all("emails" in str(call.request.url) for call in responses.calls)
    second = connector.read_page(
        request(ObjectType.INTERACTIONS, options={}, scope_ids=["101", "102"], cursor=first.next_cursor)
    )
    assert {r.kind for r in second.records} == {"meeting"}


@responses.activate
def test_only_the_chosen_kinds_of_engagements_are_read() -> None:
    register_engagements(responses.mock)
    records = read_everything(
        make(), request(ObjectType.INTERACTIONS, options={"kinds": ["note"]}, scope_ids=["101"])
    )
    assert [r.kind for r in records] == ["note"]
    assert all("/notes" in str(call.request.url) for call in responses.calls)


# -- contacts, deals, engagements: incremental reads search what changed ----------------------------------------
SINCE = dt.datetime(2026, 1, 2, 12, 30, tzinfo=dt.UTC)
SINCE_MS = "1767357000000"


@responses.activate
def test_changed_contacts_are_searched_and_kept_when_linked_to_a_synced_company() -> None:
    responses.add(responses.POST, search_url("contacts"), json=fixture("contacts_search_changed"))
    responses.add(
        responses.POST, assoc_url("contacts", "companies"), json=fixture("associations_contacts_companies")
    )
    page = make().read_page(
        request(ObjectType.CONTACTS, since=SINCE, scope_ids=["101", "102"], fields=["hs_buying_role"])
    )
    assert page.next_cursor is None
    assert {r.external_id: r.links["customers"] for r in page.records} == {"201": ["101"], "203": ["102"]}
    assert page.records[0].fields["email"] == "alice@acme.fr"
    assert page.records[0].modified_at == dt.datetime(2026, 1, 3, 8, tzinfo=dt.UTC)
    search = sent(responses.calls[0])
    assert search["filterGroups"] == [
        {"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": SINCE_MS}]}
    ]
    assert search["sorts"] == [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]
    assert search["limit"] == 200 and search["after"] == "0"
    assert {"email", "associatedcompanyid", "hs_buying_role", "lastmodifieddate"} <= set(search["properties"])
    assert sent(responses.calls[1]) == {"inputs": [{"id": "201"}, {"id": "203"}, {"id": "205"}]}
    assert len(responses.calls) == 2  # no association read of the synced companies, no batch read


@responses.activate
def test_changed_contacts_past_the_search_cap_are_all_read_once() -> None:
    stamps = stamps_past_the_cap()
    search = FakeSearch(stamps, stamp="lastmodifieddate")
    associations = FakeAssociations({i: ["101"] for i in stamps}, 279)
    responses.add_callback(responses.POST, search_url("contacts"), callback=search)
    responses.add_callback(responses.POST, assoc_url("contacts", "companies"), callback=associations)
    since = dt.datetime(2025, 10, 1, tzinfo=dt.UTC)
    scope = ["101", *(str(n) for n in range(200_000, 206_000))]  # enough companies for changes to search
    records = read_everything(make(), request(ObjectType.CONTACTS, since=since, scope_ids=scope))
    ids = [r.external_id for r in records]
    assert len(ids) == len(set(ids)) == len(stamps)
    searches = [sent(c) for c in responses.calls if str(c.request.url) == search_url("contacts")]
    assert max(int(body["after"]) for body in searches) < 10_000
    assert {body["sorts"][0]["propertyName"] for body in searches} == {"lastmodifieddate", "hs_object_id"}


@responses.activate
def test_a_bulk_change_is_read_through_the_synced_companies_instead_of_searched() -> None:
    bulk = {**fixture("contacts_search_changed"), "total": 48_000, "paging": {"next": {"after": "200"}}}
    responses.add(responses.POST, search_url("contacts"), json=bulk)
    answer_the_companies_contacts()
    since = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    page = make().read_page(request(ObjectType.CONTACTS, since=since, scope_ids=["101", "102", "103"]))
    assert page.next_cursor is None
    assert sorted(r.external_id for r in page.records) == ["201", "203", "204"]  # 202 is older than since
    assert [str(c.request.url) for c in responses.calls] == [
        search_url("contacts"), *[assoc_url("companies", "contacts")] * 2, batch_url("contacts")
    ]  # fmt: skip


@responses.activate
def test_a_bulk_change_read_through_the_companies_resumes_as_such() -> None:
    scope = [str(1000 + n) for n in range(1050)]
    links = one_contact_each(scope) | {"1000": ["91000", "78"]}
    bulk = {"total": 1_000_000, "results": [], "paging": {"next": {"after": "200"}}}
    responses.add(responses.POST, search_url("contacts"), json=bulk)
    responses.add_callback(
        responses.POST, assoc_url("companies", "contacts"), callback=FakeAssociations(links, 280)
    )
    responses.add_callback(responses.POST, batch_url("contacts"), callback=FakeBatchRead())
    base = request(ObjectType.CONTACTS, since=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), scope_ids=scope)
    first = make().read_page(base)
    rest = read_everything(make(), ReadRequest(**{**base.__dict__, "cursor": first.next_cursor}))
    assert len(first.records) == 1000 and len(rest) == 51
    assert sum(str(c.request.url) == search_url("contacts") for c in responses.calls) == 1


@responses.activate
def test_changed_deals_that_are_not_won_are_dropped_before_their_companies_are_read() -> None:
    responses.add(responses.POST, search_url("deals"), json=fixture("deals_search_changed"))
    responses.add(
        responses.POST, assoc_url("deals", "companies"), json=fixture("associations_deals_companies")
    )
    responses.add(responses.GET, f"{API}/crm/v3/pipelines/deals", json=fixture("pipelines_deals"))
    options = {"object": "deals", "pipelines": [], "won_only": True}
    page = make().read_page(
        request(
            ObjectType.AGREEMENTS, since=SINCE, options=options, scope_ids=["101", "102"], fields=["amount"]
        )
    )
    assert [(r.external_id, r.links) for r in page.records] == [("301", {"customers": ["101"]})]
    assert page.records[0].fields["dealname"] == "Acme renewal 2026"
    search = sent(responses.calls[0])
    assert search["filterGroups"][0]["filters"] == [
        {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": SINCE_MS}
    ]
    association = next(c for c in responses.calls if "associations" in str(c.request.url))
    assert sent(association) == {"inputs": [{"id": "301"}, {"id": "303"}]}  # 302 is open


@responses.activate
def test_a_search_finding_only_open_deals_moves_the_next_runs_floor_past_them() -> None:
    found = fixture("deals_search_changed")
    open_deal = next(r for r in found["results"] if r["id"] == "302")  # modified 2026-01-03T09:00
    later = json.loads(json.dumps(open_deal))
    later["id"] = later["properties"]["hs_object_id"] = "304"
    later["properties"]["hs_lastmodifieddate"] = "2026-01-03T12:00:00.000Z"
    responses.add(responses.POST, search_url("deals"), json={"total": 2, "results": [open_deal, later]})
    responses.add(responses.GET, f"{API}/crm/v3/pipelines/deals", json=fixture("pipelines_deals"))
    options = {"object": "deals", "pipelines": [], "won_only": True}
    connector = make()

    page = connector.read_page(
        request(ObjectType.AGREEMENTS, since=SINCE, options=options, scope_ids=["101"])
    )
    assert page.records == [] and page.next_cursor is None
    assert page.seen == dt.datetime(2026, 1, 3, 12, tzinfo=dt.UTC)
    assert not any("associations" in str(c.request.url) for c in responses.calls)

    # The engine's cursor after that page, and the next run's search from it (look-back included).
    state = SyncState(cursor=page.seen.isoformat())
    connector.read_page(
        request(ObjectType.AGREEMENTS, since=since_for(state), options=options, scope_ids=["101"])
    )
    searches = [sent(c) for c in responses.calls if str(c.request.url) == search_url("deals")]
    floor = int(searches[-1]["filterGroups"][0]["filters"][0]["value"])
    assert floor == 1767441300000  # 2026-01-03T11:55Z: past 302, and 304 only within the look-back
    assert floor > 1767430800000  # 302's stamp


@responses.activate
def test_changed_engagements_are_searched_kind_after_kind_with_their_contacts() -> None:
    for kind in ("emails", "notes"):
        responses.add(responses.POST, search_url(kind), json=fixture(f"{kind}_search_changed"))
        responses.add(
            responses.POST, assoc_url(kind, "companies"), json=fixture(f"associations_{kind}_companies")
        )
        responses.add(
            responses.POST,
            assoc_url(kind, "contacts"),
            json=fixture(f"associations_{kind}_contacts"),
            status=207 if kind == "notes" else 200,
        )
    options = {"kinds": ["email", "note"]}
    base = request(ObjectType.INTERACTIONS, since=SINCE, options=options, scope_ids=["101"])
    first = make().read_page(base)
    assert [(r.kind, r.links["customers"]) for r in first.records] == [("email", ["101"]), ("email", ["101"])]
    assert first.records[0].links["contacts"] == ["201"]
    assert first.records[0].fields["subject"] == "Renewal proposal"
    rest = read_everything(make(), ReadRequest(**{**base.__dict__, "cursor": first.next_cursor}))
    assert rest == []  # the note is linked to company 102 only, which is not synced
    searched = [str(c.request.url) for c in responses.calls if str(c.request.url).endswith("/search")]
    assert searched == [search_url("emails"), search_url("notes")]
    assert sum(str(c.request.url) == assoc_url("notes", "contacts") for c in responses.calls) == 0


# -- writes ---------------------------------------------------------------------------------------------------
@responses.activate
def test_a_note_is_created_on_the_company_and_the_contact() -> None:
    responses.add(responses.POST, f"{API}/crm/v3/objects/notes", json=fixture("note_created"), status=201)
    fields = {"kind": "note", "subject": "QBR", "body": "Went well", "occurred_at": "2026-01-09T10:00:00Z"}
    new_id = make().write(
        ObjectType.INTERACTIONS, None, fields, links={"customers": ["101"], "contacts": ["201"]}
    )
    assert new_id == "88001"
    assert sent(responses.calls[0]) == {
        "properties": {
            "hs_timestamp": "2026-01-09T10:00:00Z",
            "hs_note_body": "<strong>QBR</strong><br>Went well",
        },
        "associations": [
            {
                "to": {"id": "101"},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 190}],
            },
            {
                "to": {"id": "201"},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}],
            },
        ],
    }


@responses.activate
def test_a_call_is_created_with_its_title_and_direction() -> None:
    responses.add(responses.POST, f"{API}/crm/v3/objects/calls", json=fixture("call_created"), status=201)
    fields = {"kind": "call", "subject": "Renewal call", "body": "<p>ok</p>", "occurred_at": "2026-01-09T10:00:00Z",
              "direction": "outgoing"}  # fmt: skip
    assert make().write(ObjectType.INTERACTIONS, None, fields, links={"customers": ["101"]}) == "88002"
    body = sent(responses.calls[0])
    assert body["properties"]["hs_call_title"] == "Renewal call"
    assert body["properties"]["hs_call_direction"] == "OUTBOUND"
    assert body["associations"][0]["types"][0]["associationTypeId"] == 182


@responses.activate
def test_a_pushed_value_is_read_back() -> None:
    responses.add(responses.GET, f"{API}/crm/v3/objects/companies/42", json=fixture("company_read_back"),
                  match=[matchers.query_param_matcher({"properties": "skalin_healthscore"})])  # fmt: skip
    assert make().read_back(ObjectType.CUSTOMERS, "42", ["skalin_healthscore"]) == {"skalin_healthscore": "7"}


@responses.activate
def test_output_fields_are_created_once_then_reused() -> None:
    properties = f"{API}/crm/v3/properties/companies"
    responses.add(responses.GET, properties, json=fixture("properties_companies"))
    responses.add(responses.POST, properties, json=fixture("property_created"), status=201)
    responses.add(responses.GET, properties, json=fixture("properties_companies_with_skalin"))
    expected = {"health_score": "skalin_healthscore", "csm_pulse": "skalin_csm_pulse"}
    assert make().ensure_output_fields() == expected
    assert make().ensure_output_fields() == expected
    posts = [sent(c) for c in responses.calls if c.request.method == "POST"]
    assert [p["name"] for p in posts] == ["skalin_healthscore", "skalin_csm_pulse"]
    assert posts[0] == {
        "name": "skalin_healthscore",
        "label": "Skalin Healthscore",
        "description": "Healthscore computed by Skalin, 1 to 10.",
        "type": "number",
        "fieldType": "number",
        "groupName": "companyinformation",
    }


@responses.activate
def test_an_output_field_created_meanwhile_is_reused() -> None:
    properties = f"{API}/crm/v3/properties/companies"
    responses.add(responses.GET, properties, json=fixture("properties_companies"))
    responses.add(responses.POST, properties, json=fixture("property_created"), status=201)
    responses.add(responses.POST, properties, json=fixture("property_conflict"), status=409)
    assert make().ensure_output_fields()["csm_pulse"] == "skalin_csm_pulse"


# -- fields, choices, identity --------------------------------------------------------------------------------
@responses.activate
def test_fields_are_listed_from_the_properties_endpoint() -> None:
    responses.add(responses.GET, f"{API}/crm/v3/properties/companies", json=fixture("properties_companies"))
    fields = {f.name: f for f in make().list_fields(ObjectType.CUSTOMERS)}
    assert "hs_internal_thing" not in fields  # hidden
    assert fields["name"].writable and not fields["hs_num_child_companies"].writable
    assert fields["lifecyclestage"].type == "enumeration"
    assert ("customer", "Customer") in fields["lifecyclestage"].options


@responses.activate
def test_the_wizard_picks_among_lifecycle_stages_and_pipelines() -> None:
    responses.add(
        responses.GET,
        f"{API}/crm/v3/properties/companies/lifecyclestage",
        json=fixture("property_lifecyclestage"),
    )
    responses.add(responses.GET, f"{API}/crm/v3/pipelines/deals", json=fixture("pipelines_deals"))
    stages = make().list_choices("lifecycle_stages")
    assert ("evangelist", "Evangelist") in stages and ("legacy", "Legacy stage") not in stages
    assert make().list_choices("pipelines") == [("default", "Sales Pipeline"), ("8675309", "Renewals")]


@responses.activate
def test_identity_names_the_portal_and_the_user() -> None:
    responses.add(responses.GET, f"{API}/oauth/v1/access-tokens/token-1", json=fixture("access_token_info"))
    assert make().identity() == Identity(account_id="12345678", user_email="admin@acme.test")


# -- errors ---------------------------------------------------------------------------------------------------
@responses.activate
def test_the_daily_limit_ends_the_run_until_midnight_utc() -> None:
    responses.add(responses.POST, SEARCH, json=fixture("rate_limit_daily"), status=429)
    before = dt.datetime.now(dt.UTC)
    with pytest.raises(ConnectorError) as raised:
        make().read_page(request(ObjectType.CUSTOMERS))
    error = raised.value
    assert error.rate_limited and not error.permanent
    assert error.retry_after is not None
    midnight = dt.datetime.combine(before.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    # The next midnight UTC, not an hour or a day later.
    assert abs(before + dt.timedelta(seconds=error.retry_after) - midnight) < dt.timedelta(minutes=1)


@responses.activate
def test_the_ten_second_limit_without_retry_after_waits_ten_seconds() -> None:
    responses.add(responses.POST, SEARCH, json=fixture("rate_limit_ten_secondly"), status=429)
    responses.add(responses.POST, SEARCH, json=one_page())
    sleeps: list[float] = []
    assert make(sleeps=sleeps).read_page(request(ObjectType.CUSTOMERS)).records
    assert sleeps[0] >= 10


@responses.activate
def test_a_second_401_asks_for_a_reconnection() -> None:
    responses.add(responses.POST, SEARCH, json=fixture("error_expired_token"), status=401)
    tokens = StaticTokens()
    with pytest.raises(ConnectorError) as raised:
        make(tokens=tokens).read_page(request(ObjectType.CUSTOMERS))
    assert raised.value.reconnect and tokens.refreshes == 1


@pytest.mark.parametrize("status", [423, 477, 502, 503])
def test_locks_migrations_and_outages_are_temporary(status: int) -> None:
    error = make().error_from_response(status, {"status": "error", "message": "later", "category": "X"}, {})
    assert not error.permanent and not error.reconnect


def test_a_validation_error_is_permanent_and_keeps_hubspots_message() -> None:
    error = make().error_from_response(400, fixture("error_validation"), {})
    assert error.permanent and "is not valid" in error.message and error.code == "VALIDATION_ERROR"


@responses.activate
def test_owner_ids_become_emails_with_the_owners_listed_once_across_pages() -> None:
    owners = f"{API}/crm/v3/owners/"
    responses.add(
        responses.GET,
        owners,
        json={
            "results": [{"id": "901", "email": "camille@acme.test", "firstName": "Camille"}],
            "paging": {"next": {"after": "1"}},
        },
    )
    responses.add(responses.GET, owners, json={"results": [{"id": "902", "email": "sam@acme.test"}]})
    connector = make()

    assert connector.user_emails(["901", "902", "999"]) == {
        "901": "camille@acme.test",
        "902": "sam@acme.test",
    }
    assert connector.user_emails(["902"]) == {"902": "sam@acme.test"}
    assert len(responses.calls) == 2
    assert "after=1" in str(responses.calls[1].request.url)


@responses.activate
def test_a_company_outside_the_lifecycle_selection_is_explained_by_the_same_search() -> None:
    responses.add(responses.POST, SEARCH, json={"total": 0, "results": []})
    connector = make()
    record = connector._company(
        {"id": "77", "properties": {"name": "Prospect Inc", "lifecyclestage": "lead"}}
    )

    reason = connector.selection_excludes(record, {"selection": {"lifecycle_stages": ["customer"]}})

    assert reason == "Its lifecycle stage is 'lead'; the selection takes customer."
    filters = sent(responses.calls[0])["filterGroups"][0]["filters"]
    assert {"propertyName": "hs_object_id", "operator": "EQ", "value": "77"} in filters
    assert filters[0] == {"propertyName": "lifecyclestage", "operator": "IN", "values": ["customer"]}


@responses.activate
def test_customers_are_found_by_id_or_name() -> None:
    responses.add(responses.POST, SEARCH, json=one_page())
    make().find_customers("1234")
    groups = sent(responses.calls[0])["filterGroups"]
    assert groups[0]["filters"][0]["operator"] == "CONTAINS_TOKEN"
    assert groups[1]["filters"][0] == {"propertyName": "hs_object_id", "operator": "EQ", "value": "1234"}


@responses.activate
def test_archived_companies_since_the_cursor_are_reported_as_deleted() -> None:
    url = f"{API}/crm/v3/objects/companies"
    responses.add(
        responses.GET,
        url,
        json={
            "results": [
                {"id": "1", "archived": True, "archivedAt": "2026-01-01T00:00:00Z", "properties": {}}
            ],
            "paging": {"next": {"after": "1"}},
        },
    )
    responses.add(
        responses.GET,
        url,
        json={
            "results": [
                {"id": "2", "archived": True, "archivedAt": "2026-03-01T00:00:00Z", "properties": {}}
            ],
        },
    )
    since = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    assert make().deleted_ids(ObjectType.CUSTOMERS, since) == ["2"]
    assert "archived=true" in str(responses.calls[0].request.url)
    assert make().deleted_ids(ObjectType.CONTACTS, since) == []
