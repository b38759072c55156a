"""Sellsy reads: the companies search, contacts per company, won opportunities, and the interactions of the
synced companies (crm-apis.md §5.2-5.4).

Lists answer {"data": [...], "pagination": {"limit", "count", "total", "offset"}}; `offset` in the default
"seek" mode is an opaque string naming the last row returned, passed back as is (limit at most 100)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ...base import Page, ReadRequest, Record
from ...mapping import ValueMappingError, parse_datetime
from ...models import ObjectType

if TYPE_CHECKING:
    from ...http import CrmHttp

API = "/v2"
LIMIT = 100  # https://api.sellsy.com/doc/v2/#section/Pagination-on-list-and-search-requests
CF_PREFIX = "cf."
# Companies whose contacts one page reads (each company's own list is followed to its end).
CONTACT_COMPANIES = 25
# Companies named in one interaction search filter.
SCOPE_CHUNK = 100
COMPANY_ALWAYS = ("id", "name", "website", "type", "is_archived", "updated_at")


def cf_id(name: str) -> int | None:
    """`cf.123` (the embed name of custom field 123) -> 123."""
    rest = name.removeprefix(CF_PREFIX)
    return int(rest) if name.startswith(CF_PREFIX) and rest.isdigit() else None


def moment(value: Any) -> dt.datetime | None:
    try:
        when = parse_datetime(value)
    except ValueMappingError:
        return None
    return when.astimezone(dt.UTC) if when else None


def iso(value: Any) -> str:
    when = moment(value)
    return when.isoformat().replace("+00:00", "Z") if when else ""


def flatten(raw: dict[str, Any]) -> dict[str, Any]:
    """The record's own keys, plus each embedded custom field as `cf.<id>` (its `_embed.custom_fields`)."""
    fields = {key: value for key, value in raw.items() if key != "_embed"}
    for item in ((raw.get("_embed") or {}).get("custom_fields")) or []:
        if isinstance(item, dict) and "id" in item:
            fields[f"{CF_PREFIX}{item['id']}"] = item.get("value")
    return fields


def embeds(fields: Sequence[str]) -> list[str]:
    """The `embed[]` values for the custom fields among requested fields (`cf.12`, or `cf.12.x` nested)."""
    wanted = set()
    for name in fields:
        parts = name.split(".")
        if len(parts) >= 2 and parts[0] == "cf" and parts[1].isdigit():
            wanted.add(f"{CF_PREFIX}{parts[1]}")
    return sorted(wanted)


def list_page(
    http: CrmHttp,
    method: str,
    path: str,
    offset: str | None,
    *,
    params: dict[str, Any] | None = None,
    body: Any = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a list or search; returns (rows, the offset of the next page or None at the end)."""
    query: dict[str, Any] = {"limit": LIMIT, **(params or {})}
    if offset:
        query["offset"] = offset
    if method == "GET":
        answer = http.get(path, query)
    else:
        answer = http.request("POST", path, params=query, json=body or {}, idempotent=True)
    rows = list((answer or {}).get("data") or [])
    pagination = (answer or {}).get("pagination") or {}
    following = pagination.get("offset")
    count = int(pagination.get("count", len(rows)) or 0)
    # A short page ends the list; so does a full one that names no further position.
    if count < int(pagination.get("limit") or LIMIT) or not rows or following in (None, "", offset):
        return rows, None
    return rows, str(following)


def paged(http: CrmHttp, method: str, path: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    offset: str | None = None
    for _ in range(100_000):
        rows, offset = list_page(http, method, path, offset, **kwargs)
        yield from rows
        if offset is None:
            return


# -- customers --------------------------------------------------------------------------------------------
def company_filters(request: ReadRequest) -> dict[str, Any]:
    """Companies of type client, not archived (an archived client is no longer one: it leaves the selection and
    churns). `updated_at` narrows an incremental read (crm-apis.md §5.3)."""
    filters: dict[str, Any] = {"type": "client", "is_archived": False}
    if request.since is not None and not request.ids_only:
        filters["updated_at"] = {"start": request.since.astimezone(dt.UTC).isoformat()}
    return filters


def companies(http: CrmHttp, request: ReadRequest) -> Page:
    params: dict[str, Any] = {"order": "updated_at", "direction": "asc"}
    if request.ids_only:
        params["field[]"] = ["id", "updated_at"]
    elif wanted := embeds(request.fields):
        params["embed[]"] = wanted
    rows, following = list_page(
        http, "POST", f"{API}/companies/search", request.cursor, params=params,
        body={"filters": company_filters(request)},
    )  # fmt: skip
    records = []
    for raw in rows:
        if raw.get("type", "client") != "client":  # the filter is the rule; a stray row stays out
            continue
        records.append(Record(str(raw["id"]), flatten(raw), moment(raw.get("updated_at"))))
    return Page(records, following)


# -- contacts ---------------------------------------------------------------------------------------------
def own_domain(email: Any, domains: Sequence[str]) -> bool:
    domain = str(email or "").rpartition("@")[2].strip().lower()
    return bool(domain) and any(domain == d or domain.endswith(f".{d}") for d in domains)


def contacts(http: CrmHttp, request: ReadRequest) -> Page:
    """GET /companies/{id}/contacts for a run of synced companies. With `exclude_own_domain`, contacts on
    the workspace's domains (options["own_domains"], given by the engine) are left out."""
    scope = list(request.scope_ids or [])
    start = int(request.cursor or 0)
    domains = [str(d).lower().lstrip("@") for d in request.options.get("own_domains") or []]
    exclude = bool(request.options.get("exclude_own_domain", True)) and domains
    params = {"embed[]": wanted} if (wanted := embeds(request.fields)) else {}
    records = []
    for company in scope[start : start + CONTACT_COMPANIES]:
        for raw in paged(http, "GET", f"{API}/companies/{company}/contacts", params=params):
            if exclude and own_domain(raw.get("email"), domains):
                continue
            modified = moment(raw.get("updated_at") or raw.get("updated"))
            if request.since is not None and modified is not None and modified < request.since:
                continue
            records.append(Record(str(raw["id"]), flatten(raw), modified, {"customers": [str(company)]}))
    more = start + CONTACT_COMPANIES < len(scope)
    return Page(records, str(start + CONTACT_COMPANIES) if more else None)


# -- agreements -------------------------------------------------------------------------------------------
def opportunities(http: CrmHttp, request: ReadRequest) -> Page:
    """Won opportunities of the chosen pipelines, whatever their company, kept when the company is synced.
    Filter keys `statuses` and `pipeline` come from a third-party description (**unverified**); the
    status and pipeline are checked again here. Sellsy has no `updated` filter on opportunities: an
    incremental read filters on the record's own stamps."""
    options = request.options
    pipelines = [int(p) if str(p).isdigit() else p for p in options.get("pipelines") or []]
    won_only = options.get("won_only", True)
    filters: dict[str, Any] = {}
    if won_only:
        filters["statuses"] = ["won"]
    if pipelines:
        filters["pipeline"] = pipelines
    params = {"embed[]": wanted} if (wanted := embeds(request.fields)) else {}
    rows, following = list_page(
        http, "POST", f"{API}/opportunities/search", request.cursor, params=params, body={"filters": filters}
    )
    scope = {str(s) for s in request.scope_ids or []}
    wanted_pipelines = {str(p) for p in pipelines}
    records = []
    for raw in rows:
        company = str(raw.get("company_id") or "")
        pipeline = str((raw.get("pipeline") or {}).get("id", ""))
        if company not in scope or (won_only and raw.get("status") != "won"):
            continue
        if wanted_pipelines and pipeline not in wanted_pipelines:
            continue
        modified = moment(raw.get("updated") or raw.get("updated_status") or raw.get("created"))
        if request.since is not None and modified is not None and modified < request.since:
            continue
        records.append(Record(str(raw["id"]), flatten(raw), modified, {"customers": [company]}))
    return Page(records, following)


# -- interactions -----------------------------------------------------------------------------------------
# Skalin kind -> (search path, filter builder). Comments: [3p]; phone calls: [spec PhoneCallFilter];
# calendar events and the CRM-activity timeline (emails): paths **unverified** (crm-apis.md §5.2).
KIND_SEARCH: dict[str, tuple[str, Any]] = {
    "note": (f"{API}/comments/search", lambda ids: {"companies": ids}),
    "call": (f"{API}/phone-calls/search", lambda ids: {"companies": ids}),
    "meeting": (f"{API}/calendar-events/search", lambda ids: {"companies": ids}),
    "email": (f"{API}/crm-activities/search",
              lambda ids: {"events": ["email.sent"], "companies": {"match": ids}}),
}  # fmt: skip
ID_PREFIX = {"note": "comment", "call": "phonecall", "meeting": "event", "email": "activity"}
CALL_DIRECTIONS = {"incoming": "incoming", "outcoming": "outgoing", "outgoing": "outgoing"}


def interactions(http: CrmHttp, request: ReadRequest) -> Page:
    """One search call a page; the cursor is {"k": kind, "c": chunk start, "o": Sellsy's offset}."""
    kinds = [k for k in request.options.get("kinds") or list(KIND_SEARCH) if k in KIND_SEARCH]
    scope = [str(s) for s in request.scope_ids or []]
    position = json.loads(request.cursor) if request.cursor else {"k": 0, "c": 0, "o": None}
    if not kinds or not scope:
        return Page([])
    kind = kinds[position["k"]]
    chunk = scope[position["c"] : position["c"] + SCOPE_CHUNK]
    path, build = KIND_SEARCH[kind]
    ids = [int(i) if i.isdigit() else i for i in chunk]
    rows, following = list_page(http, "POST", path, position["o"], body={"filters": build(ids)})
    in_chunk = set(chunk)
    records = []
    for raw in rows:
        record = interaction(kind, raw, in_chunk)
        if record is None:
            continue
        if (
            request.since is not None
            and record.modified_at is not None
            and record.modified_at < request.since
        ):
            continue
        records.append(record)
    if following is not None:
        nxt: dict[str, Any] | None = {**position, "o": following}
    elif position["c"] + SCOPE_CHUNK < len(scope):
        nxt = {"k": position["k"], "c": position["c"] + SCOPE_CHUNK, "o": None}
    elif position["k"] + 1 < len(kinds):
        nxt = {"k": position["k"] + 1, "c": 0, "o": None}
    else:
        nxt = None
    return Page(records, json.dumps(nxt) if nxt else None)


def _ids(items: Any, wanted_type: str) -> list[str]:
    """Ids out of Sellsy's link lists: plain ids, or {"id", "type"} objects of the wanted type."""
    found = []
    for item in items or []:
        if isinstance(item, dict):
            if (
                item.get("type", wanted_type) in (wanted_type, f"{wanted_type}s")
                and item.get("id") is not None
            ):
                found.append(str(item["id"]))
        elif item is not None:
            found.append(str(item))
    return found


def interaction(kind: str, raw: dict[str, Any], scope: set[str]) -> Record | None:
    related = raw.get("related") or raw.get("related_objects") or []
    companies = [str(raw["company_id"])] if raw.get("company_id") else []
    companies += _ids(raw.get("companies"), "company") + _ids(related, "company")
    companies = [c for c in dict.fromkeys(companies) if c in scope]
    if not companies:
        return None
    contacts = [str(raw["contact_id"])] if raw.get("contact_id") else []
    contacts += _ids(related, "contact") + _ids(raw.get("participants"), "contact")
    more: dict[str, Any] = raw["more"] if isinstance(raw.get("more"), dict) else {}
    author: dict[str, Any] = raw["author"] if isinstance(raw.get("author"), dict) else {}
    subject: Any = ""
    direction = ""
    if kind == "note":
        body, when = raw.get("description"), raw.get("created")
    elif kind == "call":
        subject, body, when = raw.get("title"), raw.get("description"), raw.get("date") or raw.get("created")
        direction = CALL_DIRECTIONS.get(str(raw.get("source") or ""), "")
    elif kind == "meeting":
        subject, body, when = raw.get("title"), raw.get("description"), raw.get("datetime_start")
    else:  # a timeline event "email.sent"
        subject, body = more.get("subject"), more.get("body") or more.get("excerpt")
        when, direction = raw.get("date"), "outgoing"
    fields = {
        "subject": str(subject or ""),
        "body": str(body or ""),
        "occurred_at": iso(when),
        "direction": direction,
        "author_email": str(author.get("email") or "") if direction == "outgoing" else "",
    }
    modified = moment(raw.get("updated") or raw.get("updated_at") or when)
    # Comments, calls, events and timeline items each number their ids: the kind keeps them apart.
    external_id = f"{ID_PREFIX[kind]}-{raw['id']}"
    links = {"customers": companies, "contacts": list(dict.fromkeys(contacts))}
    return Record(external_id, fields, modified, links, kind=kind)


READERS = {
    ObjectType.CUSTOMERS: companies,
    ObjectType.CONTACTS: contacts,
    ObjectType.AGREEMENTS: opportunities,
    ObjectType.INTERACTIONS: interactions,
}
