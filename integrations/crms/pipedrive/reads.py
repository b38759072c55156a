"""Pipedrive reads (crm-apis.md §3.2-3.4): won deals find the customers, v2 lists with `updated_since`
and cursors, v1 lists (notes, relationships, fields) with start/limit. Never `/recents`: since
2024-12-01 it keeps about a month of history (crm-apis.md §7.3).

Dependent objects (persons, deals, activities, notes) are read either per synced organization
(`org_id=`, for a handful of them) or by walking the whole list once and keeping the synced ones: one
list call costs the same tokens for 1 or 500 rows, so the walk is cheaper past a few organizations."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ...base import Page, ReadRequest, Record
from ...mapping import ValueMappingError, parse_datetime
from ...models import ObjectType

if TYPE_CHECKING:
    from ...http import CrmHttp

V1, V2 = "/api/v1", "/api/v2"
LIMIT = 500  # v1 and v2 lists (crm-apis.md §3.4)
IDS_CHUNK = 100  # v2 `ids` takes at most 100 (crm-apis.md §3.2)
PER_ORG_MAX = 25  # up to this many synced organizations, dependent lists are read per organization
HASH_KEY = re.compile(r"[0-9a-f]{40}")
# Pipedrive activity types (the account's `key_string`s) that are Skalin interactions.
ACTIVITY_KINDS = {"call": "call", "meeting": "meeting", "email": "email"}


def is_custom_key(name: str) -> bool:
    """Pipedrive custom fields are keyed by a 40-character hash."""
    return bool(HASH_KEY.fullmatch(name))


def moment(value: Any) -> dt.datetime | None:
    """v2 sends RFC 3339 (`2025-01-01T10:20:00Z`), v1 `2025-01-01 10:20:00` in UTC."""
    try:
        return parse_datetime(value)
    except ValueMappingError:
        return None


def rfc3339(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def ref_id(value: Any) -> str:
    """v1 nests related records ({"value": 12, "name": ...}); v2 gives the bare id."""
    if isinstance(value, dict):
        value = value.get("value", value.get("id"))
    return "" if value in (None, "", 0) else str(value)


def flatten(raw: dict[str, Any]) -> dict[str, Any]:
    """A v2 record with its `custom_fields` hashes lifted to the top level, as v1 has them, so that a mapping
    names a custom field by its key whatever the API version; persons also get `email` and `phone` (the
    primary ones) like v1's field list names them."""
    fields = {key: value for key, value in raw.items() if key != "custom_fields"}
    fields.update(raw.get("custom_fields") or {})
    for plural, single in (("emails", "email"), ("phones", "phone")):
        if isinstance(raw.get(plural), list):
            items = [i for i in raw[plural] if isinstance(i, dict) and i.get("value")]
            primary = next((i for i in items if i.get("primary")), items[0] if items else None)
            fields[single] = primary["value"] if primary else ""
    return fields


def v2_page(
    http: CrmHttp, path: str, params: dict[str, Any], cursor: str | None
) -> tuple[list[Any], str | None]:
    """{"success", "data": [...], "additional_data": {"next_cursor": ...}}; next_cursor is null at the end."""
    body = http.get(path, {**params, "limit": LIMIT, **({"cursor": cursor} if cursor else {})}) or {}
    following = (body.get("additional_data") or {}).get("next_cursor")
    return list(body.get("data") or []), following or None


def v1_page(http: CrmHttp, path: str, params: dict[str, Any], start: int) -> tuple[list[Any], int | None]:
    """{"data": [...], "additional_data": {"pagination": {start, limit, more_items_in_collection, next_start}}}."""
    body = http.get(path, {**params, "start": start, "limit": LIMIT}) or {}
    paging = (body.get("additional_data") or {}).get("pagination") or {}
    rows = list(body.get("data") or [])
    if not paging.get("more_items_in_collection"):
        return rows, None
    return rows, int(paging.get("next_start") or start + len(rows))


def v1_all(http: CrmHttp, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    start: int | None = 0
    while start is not None:
        rows, start = v1_page(http, path, params or {}, start)
        yield from rows


def organizations_by_id(http: CrmHttp, ids: Sequence[str]) -> list[dict[str, Any]]:
    found = []
    for at in range(0, len(ids), IDS_CHUNK):
        chunk = ids[at : at + IDS_CHUNK]
        found.extend(v2_page(http, f"{V2}/organizations", {"ids": ",".join(chunk)}, None)[0])
    return [o for o in found if not o.get("is_deleted")]


class Reader:
    """One per connector (so one per run): remembers organizations already returned by a walk and the
    relationships already read, which spares calls on the daily token budget."""

    def __init__(self, http: CrmHttp) -> None:
        self.http = http
        self.returned: dict[tuple[Any, ...], set[str]] = {}
        self.parent_of: dict[str, str] = {}
        self.relations_read: set[str] = set()

    def read(self, request: ReadRequest) -> Page:
        if request.object_type == ObjectType.CUSTOMERS:
            return self.customers(request)
        if request.object_type == ObjectType.CONTACTS:
            return self.persons(request)
        if request.object_type == ObjectType.AGREEMENTS:
            return self.agreements(request)
        return self.interactions(request)

    # -- customers: organizations with at least one won deal ----------------------------------------------
    def customers(self, request: ReadRequest) -> Page:
        """Phase "deals": won deals (changed since `since`), their organizations. Phase "orgs" (incremental
        reads only): organizations changed since `since` that have a won deal (`won_deals_count`)."""
        position = json.loads(request.cursor) if request.cursor else {"p": "deals", "c": None}
        since = {"updated_since": rfc3339(request.since)} if request.since else {}
        key = (request.since, request.ids_only)
        if request.cursor is None:  # a new walk
            self.returned[key] = set()
        done = self.returned.setdefault(key, set())
        order = {"sort_by": "update_time", "sort_direction": "asc"}
        if position["p"] == "deals":
            deals, following = v2_page(
                self.http, f"{V2}/deals", {"status": "won", **since, **order}, position["c"]
            )
            wanted = [o for o in dict.fromkeys(ref_id(d.get("org_id")) for d in deals) if o and o not in done]
            orgs = organizations_by_id(self.http, wanted)
        else:
            params = {**since, **order, "include_fields": "won_deals_count"}
            rows, following = v2_page(self.http, f"{V2}/organizations", params, position["c"])
            orgs = [o for o in rows if (o.get("won_deals_count") or 0) > 0 and str(o["id"]) not in done]
        done.update(str(o["id"]) for o in orgs)
        records = [self.organization(o, request) for o in orgs]
        if following:
            return Page(records, json.dumps({**position, "c": following}))
        if position["p"] == "deals" and request.since is not None and not request.ids_only:
            return Page(records, json.dumps({"p": "orgs", "c": None}))
        return Page(records)

    def organization(self, raw: dict[str, Any], request: ReadRequest) -> Record:
        external_id = str(raw["id"])
        if request.ids_only:
            return Record(external_id, {}, moment(raw.get("update_time")))
        links = {}
        if request.options.get("parent_child") and (parent := self.parent(external_id)):
            links["parent"] = [parent]
        return Record(external_id, flatten(raw), moment(raw.get("update_time")), links)

    def parent(self, org_id: str) -> str:
        """v1 /organizationRelationships?org_id= (crm-apis.md §3.6): with type "parent" the owner is the
        parent and the linked organization its daughter. A daughter seen in its parent's list needs no call."""
        if org_id not in self.parent_of and org_id not in self.relations_read:
            body = self.http.get(f"{V1}/organizationRelationships", {"org_id": org_id}) or {}
            for relation in body.get("data") or []:
                if relation.get("type") == "parent" and relation.get("active_flag", True):
                    owner, linked = (
                        ref_id(relation.get("rel_owner_org_id")),
                        ref_id(relation.get("rel_linked_org_id")),
                    )
                    if owner and linked:
                        self.parent_of[linked] = owner
            self.relations_read.add(org_id)
        return self.parent_of.get(org_id, "")

    # -- dependent lists ---------------------------------------------------------------------------------
    def scoped(
        self,
        request: ReadRequest,
        path: str,
        params: dict[str, Any],
        *,
        v1: bool = False,
        position: dict[str, Any],
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None, dt.datetime | None]:
        """One page of `path` restricted to the synced organizations; returns the rows, where the next
        page starts (None at the end) and the newest `update_time` read, rows of other organizations
        included (the cursor moves past them: Page.seen). Per organization when there are few, else one
        walk of the list."""
        scope = [str(s) for s in request.scope_ids or []]
        per_org = len(scope) <= PER_ORG_MAX
        index = position.get("i", 0)
        if per_org and index >= len(scope):
            return [], None, None
        query = {**params, **({"org_id": scope[index]} if per_org else {})}
        following: int | str | None
        if v1:
            rows, following = v1_page(self.http, path, query, int(position.get("c") or 0))
        else:
            rows, following = v2_page(self.http, path, query, position.get("c"))
        seen = max(filter(None, (moment(r.get("update_time")) for r in rows)), default=None)
        wanted = set(scope)
        rows = [r for r in rows if ref_id(r.get("org_id")) in wanted]
        if following is not None:
            return rows, {**position, "c": following}, seen
        if per_org and index + 1 < len(scope):
            return rows, {**position, "i": index + 1, "c": None}, seen
        return rows, None, seen

    def persons(self, request: ReadRequest) -> Page:
        position = json.loads(request.cursor) if request.cursor else {}
        params = {"updated_since": rfc3339(request.since)} if request.since else {}
        rows, following, seen = self.scoped(request, f"{V2}/persons", params, position=position)
        records = [
            Record(
                str(r["id"]),
                flatten(r),
                moment(r.get("update_time")),
                {"customers": [ref_id(r.get("org_id"))]},
            )
            for r in rows
            if not r.get("is_deleted")
        ]
        return Page(records, json.dumps(following) if following else None, seen=seen)

    def agreements(self, request: ReadRequest) -> Page:
        """Won deals of the chosen pipelines, or (object "organizations") the synced organizations' own
        fields holding the contract ("Companies" in the guide)."""
        options = request.options
        if options.get("object") == "organizations":
            return self.organization_agreements(request)
        position = json.loads(request.cursor) if request.cursor else {}
        pipelines = {str(p) for p in options.get("pipelines") or []}
        params: dict[str, Any] = {"updated_since": rfc3339(request.since)} if request.since else {}
        if options.get("won_only", True):
            params["status"] = "won"
        if len(pipelines) == 1:
            params["pipeline_id"] = next(iter(pipelines))
        rows, following, seen = self.scoped(request, f"{V2}/deals", params, position=position)
        records = [
            Record(
                str(d["id"]),
                flatten(d),
                moment(d.get("update_time")),
                {"customers": [ref_id(d.get("org_id"))]},
            )
            for d in rows
            if not d.get("is_deleted") and (not pipelines or str(d.get("pipeline_id")) in pipelines)
        ]
        return Page(records, json.dumps(following) if following else None, seen=seen)

    def organization_agreements(self, request: ReadRequest) -> Page:
        scope = [str(s) for s in request.scope_ids or []]
        start = int(request.cursor or 0)
        records = []
        for org in organizations_by_id(self.http, scope[start : start + IDS_CHUNK]):
            modified = moment(org.get("update_time"))
            if request.since and modified and modified < request.since:
                continue
            records.append(Record(str(org["id"]), flatten(org), modified, {"customers": [str(org["id"])]}))
        more = start + IDS_CHUNK < len(scope)
        return Page(records, str(start + IDS_CHUNK) if more else None)

    # -- interactions: activities (calls, meetings, emails) then notes ---------------------------------------
    def interactions(self, request: ReadRequest) -> Page:
        kinds = set(request.options.get("kinds") or ["email", "meeting", "call", "note"])
        stages = [
            s
            for s, wanted in (
                ("activities", kinds & set(ACTIVITY_KINDS.values())),
                ("notes", "note" in kinds),
            )
            if wanted
        ]
        if not stages or not request.scope_ids:
            return Page([])
        position = json.loads(request.cursor) if request.cursor else {"s": stages[0]}
        stage = position["s"]
        since = {"updated_since": rfc3339(request.since)} if request.since else {}
        if stage == "activities":
            rows, following, seen = self.scoped(
                request, f"{V2}/activities", {**since, "done": "true"}, position=position
            )
            records = [r for r in (activity(a, kinds) for a in rows) if r]
        else:
            params = {**since, "sort": "update_time ASC"}
            rows, following, seen = self.scoped(request, f"{V1}/notes", params, v1=True, position=position)
            records = [note(n) for n in rows]
        if following is None and stages.index(stage) + 1 < len(stages):
            following = {"s": stages[stages.index(stage) + 1]}
        return Page(records, json.dumps(following) if following else None, seen=seen)


def activity(raw: dict[str, Any], kinds: set[str]) -> Record | None:
    kind = ACTIVITY_KINDS.get(str(raw.get("type") or ""))
    if kind is None or kind not in kinds or raw.get("is_deleted"):
        return None
    day, time = raw.get("due_date"), raw.get("due_time")
    occurred = moment(f"{day}T{str(time or '00:00')[:5]}:00Z") if day else None
    occurred = occurred or moment(raw.get("marked_as_done_time")) or moment(raw.get("add_time"))
    contacts = [ref_id(raw.get("person_id"))] + [
        ref_id(p.get("person_id")) for p in raw.get("participants") or []
    ]
    fields = {
        "subject": raw.get("subject") or "",
        "body": raw.get("note") or "",
        "occurred_at": rfc3339(occurred) if occurred else "",
        "direction": "",  # Pipedrive activities carry no direction
        "author_email": "",
    }
    links = {"customers": [ref_id(raw.get("org_id"))], "contacts": [c for c in dict.fromkeys(contacts) if c]}
    return Record(f"activity-{raw['id']}", fields, moment(raw.get("update_time")), links, kind=kind)


def note(raw: dict[str, Any]) -> Record:
    occurred = moment(raw.get("add_time"))
    fields = {"subject": "", "body": raw.get("content") or "", "occurred_at": rfc3339(occurred) if occurred else "",
              "direction": "", "author_email": ""}  # fmt: skip
    person = ref_id(raw.get("person_id"))
    links = {"customers": [ref_id(raw.get("org_id"))], "contacts": [person] if person else []}
    return Record(f"note-{raw['id']}", fields, moment(raw.get("update_time")), links, kind="note")
