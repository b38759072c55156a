"""HubSpot: CRM v3 objects and search, v4 associations, OAuth v1 (crm-apis.md §1).

Companies come from the search endpoint, walked by keyset on the modification time (hubspot_search.py).
Contacts, deals and engagements hang off the synced companies. A full read finds them through the v4
associations of the synced companies, 1,000 companies a page. An incremental read searches what changed
since the cursor and keeps what is linked to a synced company, so its cost follows the changes, not the
portal's size; past FULL_READ_FROM changes per synced company, reading through the companies costs less.
"""

from __future__ import annotations

import bisect
import datetime as dt
import html
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Self

from ..base import (
    CHURN_ON_ABSENCE,
    INTERACTION_KINDS,
    MERGE_KEYS,
    PARENT_CHILD,
    WON_ONLY,
    Connector,
    ConnectorError,
    CrmField,
    Identity,
    OAuthSpec,
    ObjectSpec,
    Option,
    Page,
    ReadRequest,
    Record,
)
from ..mapping import parse_datetime
from ..models import ObjectType, SyncMode
from .hubspot_search import SEARCH_LIMIT, Search, SearchPosition, moment, ms, next_after

# Batch reads take 100 inputs; so does the v4 association batch read since January 2024
# (https://developers.hubspot.com/changelog/bug-fix-batch-read-limit-for-hubspot-associations-api).
BATCH_LIMIT = 100
# A full read of contacts, deals or engagements takes the records linked to this many synced companies a
# page: a few thousand records, what one page may hold in memory.
COMPANIES_PER_PAGE = 1_000
# An incremental read that finds more changes than this many per synced company reads them as a full read
# does, keeping the changed ones: cheaper than searching them all.
FULL_READ_FROM = 2
DEFAULT_STAGES = ("customer", "evangelist")
DOCS = "https://developers.hubspot.com/docs/api-reference"


@dataclass(frozen=True)
class Engagement:
    """One engagement object (https://developers.hubspot.com/docs/api-reference/crm-notes-v3/guide and
    siblings) and its HubSpot-defined association type ids (crm-apis.md §1.2; verify with
    GET /crm/v4/associations/{type}/companies/labels)."""

    object: str
    to_company: int
    to_contact: int
    subject: str
    body: str
    time: str
    direction: str = ""
    directions: dict[str, str] = field(default_factory=dict)  # Skalin direction -> HubSpot value


ENGAGEMENTS: dict[str, Engagement] = {
    "email": Engagement("emails", 186, 198, "hs_email_subject", "hs_email_text", "hs_timestamp",
                        "hs_email_direction", {"incoming": "INCOMING_EMAIL", "outgoing": "EMAIL"}),
    "meeting": Engagement("meetings", 188, 200, "hs_meeting_title", "hs_meeting_body", "hs_meeting_start_time"),
    "call": Engagement("calls", 182, 194, "hs_call_title", "hs_call_body", "hs_timestamp",
                       "hs_call_direction", {"incoming": "INBOUND", "outgoing": "OUTBOUND"}),
    "note": Engagement("notes", 190, 202, "", "hs_note_body", "hs_timestamp"),
}  # fmt: skip
KIND_OF = {spec.object: kind for kind, spec in ENGAGEMENTS.items()}  # "emails" -> "email"
# The modification stamp's property: contacts differ (crm-apis.md §1.3); the others use hs_lastmodifieddate.
STAMPS = {"contacts": "lastmodifieddate"}
DIRECTIONS = {"INCOMING_EMAIL": "incoming", "EMAIL": "outgoing", "FORWARDED_EMAIL": "outgoing",
              "INBOUND": "incoming", "OUTBOUND": "outgoing"}  # fmt: skip

OUTPUT_PROPERTIES = {
    "health_score": {"name": "skalin_healthscore", "label": "Skalin Healthscore",
                     "description": "Healthscore computed by Skalin, 1 to 10."},
    "csm_pulse": {"name": "skalin_csm_pulse", "label": "Skalin CSM Pulse",
                  "description": "CSM Pulse set in Skalin, 1 to 5."},
}  # fmt: skip


@dataclass
class DependentCursor:
    """Where a listing of contacts, deals or engagements resumes (the opaque page cursor, as JSON).

    `part` indexes the HubSpot objects read one after the other (the engagement kinds). A full read walks
    the synced companies in id order (`after`: the last one read; a keyset, so that companies synced or
    dropped before a crashed listing resumes shift nothing) and carries the records found linked but not
    read yet (`carry`, fewer than 100: {record id: company ids}); an incremental read walks the object's
    search (`search`)."""

    part: int = 0
    after: str = ""
    carry: dict[str, list[str]] = field(default_factory=dict)
    search: dict[str, Any] | None = None
    full: bool = False  # an incremental read gone through the companies (FULL_READ_FROM)

    @classmethod
    def parse(cls, cursor: str | None) -> Self:
        if not cursor:
            return cls()
        if cursor.isdigit():  # an offset left by the former paging (100 companies a page): start over
            return cls()
        return cls(**json.loads(cursor))


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _chunks(items: Sequence[str], size: int = BATCH_LIMIT) -> Iterable[list[str]]:
    unique = list(dict.fromkeys(items))
    for start in range(0, len(unique), size):
        yield unique[start : start + size]


class HubSpot(Connector):
    key = "hubspot"
    label = "HubSpot"
    # https://developers.hubspot.com/docs/api/oauth-quickstart-guide; scopes from the public API specs.
    oauth = OAuthSpec(
        authorize_url_setting="auth_url",
        authorize_path="/oauth/authorize",
        token_url_setting="api_url",
        token_path="/oauth/v1/token",
        scopes=(
            "crm.objects.companies.read", "crm.objects.companies.write", "crm.objects.contacts.read",
            "crm.objects.contacts.write", "crm.objects.deals.read", "crm.schemas.companies.write",
            "sales-email-read", "oauth",
        ),
    )  # fmt: skip
    requirements = "HubSpot Super Admin (keep it permanently: pushes fail silently without it)"
    creates_output_fields = True
    objects: ClassVar[dict[ObjectType, ObjectSpec]] = {
        ObjectType.CUSTOMERS: ObjectSpec(
            ObjectType.CUSTOMERS, "companies", (SyncMode.INPUT, SyncMode.TWO_WAYS, SyncMode.DISABLED),
            SyncMode.INPUT, {"name": "name", "domain": "domain", "ref_id": "hs_object_id"},
            f"{DOCS}/crm-companies-v3/guide",
        ),
        ObjectType.CONTACTS: ObjectSpec(
            ObjectType.CONTACTS, "contacts", (SyncMode.INPUT, SyncMode.TWO_WAYS, SyncMode.DISABLED),
            SyncMode.INPUT,
            {"email": "email", "first_name": "firstname", "last_name": "lastname", "phone": "phone",
             "title": "jobtitle", "ref_id": "hs_object_id"},
            f"{DOCS}/crm-contacts-v3/guide",
        ),
        ObjectType.AGREEMENTS: ObjectSpec(
            ObjectType.AGREEMENTS, "deals", (SyncMode.INPUT, SyncMode.DISABLED), SyncMode.DISABLED,
            {"plan_name": "dealname", "amount": "amount", "start_date": "closedate"},
            f"{DOCS}/crm-deals-v3/guide",
        ),
        ObjectType.INTERACTIONS: ObjectSpec(
            ObjectType.INTERACTIONS, "engagements",
            (SyncMode.INPUT, SyncMode.TWO_WAYS, SyncMode.OUTPUT, SyncMode.DISABLED), SyncMode.DISABLED,
            doc_url=f"{DOCS}/crm-notes-v3/guide",
        ),
    }  # fmt: skip
    # The wizard's options (product.md §3): lifecycle stages, and a filter field when set.
    options = {
        ObjectType.CUSTOMERS: (
            Option("selection.lifecycle_stages", "Lifecycle stages", kind="multichoice",
                   choices_from="lifecycle_stages", default=["customer", "evangelist"]),
            Option("selection.filter_property", "Filter synchronized customers: HubSpot field", kind="field",
                   advanced=True, help="Only companies whose field holds one of the values below."),
            Option("selection.filter_values", "Filter values", kind="values", advanced=True),
            CHURN_ON_ABSENCE, PARENT_CHILD, MERGE_KEYS,
        ),
        ObjectType.AGREEMENTS: (
            Option("object", "HubSpot object", kind="choice", default="deals", choices=(("deals", "Deals"),)),
            Option("pipelines", "Pipelines", kind="multichoice", choices_from="pipelines", help="None chosen: all."),
            WON_ONLY,
        ),
        ObjectType.INTERACTIONS: (INTERACTION_KINDS,),
    }  # fmt: skip
    company_fields = ("name", "domain", "lifecyclestage", "hs_parent_company_id", "hs_lastmodifieddate")
    # Read on every page besides the mapped fields.
    contact_fields = ("email", "firstname", "lastname", "phone", "jobtitle", "hs_buying_role",
                      "associatedcompanyid", "lastmodifieddate")  # fmt: skip
    deal_fields = ("dealname", "amount", "closedate", "dealstage", "pipeline", "hs_is_closed_won",
                   "hs_lastmodifieddate")  # fmt: skip

    _won_stages: set[str] | None = None

    # -- identity and fields ----------------------------------------------------------------------------
    def identity(self) -> Identity:
        # https://developers.hubspot.com/docs/api/oauth/tokens: hub_id and the installing user's email.
        if self.http.tokens is None:
            raise ConnectorError("HubSpot identity needs the connection's access token.", permanent=True)
        info = self.http.get(f"/oauth/v1/access-tokens/{self.http.tokens.access_token()}")
        return Identity(account_id=str(info["hub_id"]), user_email=info.get("user") or "")

    _owner_emails: dict[str, str] | None = None  # per connector, hence per run

    def user_emails(self, user_ids: Sequence[str]) -> dict[str, str]:
        # https://developers.hubspot.com/docs/api/crm/owners: a user field (hubspot_owner_id) holds owner ids.
        if self._owner_emails is None:
            self._owner_emails, after = {}, None
            while True:
                body = self.http.get("/crm/v3/owners/", {"limit": 500, **({"after": after} if after else {})})
                self._owner_emails.update(
                    {str(o["id"]): o.get("email") or "" for o in body.get("results", [])}
                )
                after = (body.get("paging") or {}).get("next", {}).get("after")
                if not after:
                    break
        return {i: self._owner_emails[i] for i in user_ids if self._owner_emails.get(i)}

    def list_fields(self, object_type: ObjectType) -> list[CrmField]:
        if object_type == ObjectType.INTERACTIONS:
            return []  # interactions are normalised, nothing to map
        body = self.http.get(f"/crm/v3/properties/{self.objects[object_type].remote_name}")
        return [self._crm_field(prop) for prop in body.get("results", []) if not prop.get("hidden")]

    @staticmethod
    def _crm_field(prop: dict[str, Any]) -> CrmField:
        meta, kind, options = (
            prop.get("modificationMetadata") or {},
            prop.get("type", "string"),
            prop.get("options") or [],
        )
        return CrmField(
            name=prop["name"],
            label=prop.get("label") or prop["name"],
            type=kind
            if kind in ("string", "number", "date", "datetime", "enumeration", "bool")
            else "string",
            options=tuple((o["value"], o.get("label") or o["value"]) for o in options if not o.get("hidden")),
            writable=not (meta.get("readOnlyValue") or prop.get("calculated")),
        )

    def list_choices(self, kind: str) -> list[tuple[str, str]]:
        if kind == "lifecycle_stages":
            prop = self.http.get("/crm/v3/properties/companies/lifecyclestage")
            return [(o["value"], o["label"]) for o in prop.get("options", []) if not o.get("hidden")]
        if kind == "pipelines":
            return [(p["id"], p["label"]) for p in self._pipelines()]
        raise LookupError(f"HubSpot has no choice list {kind!r}.")

    def ensure_output_fields(self) -> dict[str, str]:
        """Create the two company properties once; later calls (or another install) reuse them."""
        existing = {p["name"] for p in self.http.get("/crm/v3/properties/companies").get("results", [])}
        for spec in OUTPUT_PROPERTIES.values():
            if spec["name"] in existing:
                continue
            # https://developers.hubspot.com/docs/api-reference/crm-properties-v3/guide
            body = {**spec, "type": "number", "fieldType": "number", "groupName": "companyinformation"}
            try:
                self.http.post("/crm/v3/properties/companies", body)
            except ConnectorError as error:
                if error.status != 409:  # 409: created meanwhile, which is what we wanted
                    raise
        return {key: spec["name"] for key, spec in OUTPUT_PROPERTIES.items()}

    def deleted_ids(self, object_type: ObjectType, since: dt.datetime | None) -> list[str]:
        # Search never returns archived records; the list endpoint does, with archivedAt (crm-apis.md §1.3).
        if object_type != ObjectType.CUSTOMERS:
            return []
        ids, after = [], None
        while True:
            params: dict[str, Any] = {"archived": "true", "limit": 100, "properties": "name"}
            if after:
                params["after"] = after
            body = self.http.get("/crm/v3/objects/companies", params)
            for row in body.get("results", []):
                archived_at = parse_datetime(row.get("archivedAt"))
                if since is None or archived_at is None or archived_at >= since:
                    ids.append(str(row["id"]))
            after = next_after(body)
            if not after:
                return ids

    # -- "Why isn't this customer in Skalin?" -----------------------------------------------------------
    def find_customers(self, text: str, limit: int = 20) -> list[Record]:
        groups = [[{"propertyName": "name", "operator": "CONTAINS_TOKEN", "value": f"*{text.strip()}*"}]]
        if text.strip().isdigit():
            groups.append([{"propertyName": "hs_object_id", "operator": "EQ", "value": text.strip()}])
        body = self.http.post(
            "/crm/v3/objects/companies/search",
            {"filterGroups": [{"filters": g} for g in groups], "properties": [*self.company_fields, "hubspot_owner_id"],
             "limit": min(limit, SEARCH_LIMIT)},
            idempotent=True,
        )  # fmt: skip
        return [self._company(r) for r in body.get("results", [])]

    def selection_excludes(self, record: Record, options: dict[str, Any]) -> str | None:
        filters = [
            *self._selection_filters(options),
            {"propertyName": "hs_object_id", "operator": "EQ", "value": record.external_id},
        ]
        body = self.http.post(
            "/crm/v3/objects/companies/search",
            {"filterGroups": [{"filters": filters}], "properties": ["hs_object_id"], "limit": 1},
            idempotent=True,
        )
        if body.get("results"):
            return None
        selection = options.get("selection") or {}
        stages = list(selection.get("lifecycle_stages") or DEFAULT_STAGES)
        stage = record.fields.get("lifecyclestage") or "(empty)"
        if stage not in stages:
            return f"Its lifecycle stage is '{stage}'; the selection takes {', '.join(stages)}."
        prop = selection.get("filter_property")
        if prop:
            values = ", ".join(str(v) for v in selection.get("filter_values") or [])
            return f"Its '{prop}' does not hold one of {values}, which the filter requires."
        return (
            "HubSpot's search does not return it for the selection (recently changed: search lags a little)."
        )

    # -- reads ------------------------------------------------------------------------------------------
    def read_page(self, request: ReadRequest) -> Page:
        if request.object_type == ObjectType.CUSTOMERS:
            return self._read_companies(request)
        parts = self._dependent_parts(request)
        cursor = DependentCursor.parse(request.cursor)
        if cursor.part >= len(parts):  # the kinds chosen changed while a listing was half-read
            return Page([], None)
        name = parts[cursor.part]
        if request.since is None or cursor.full:
            records, following, seen = self._linked_page(request, name, cursor)
        else:
            records, following, seen = self._changed_page(request, name, cursor, request.since)
        if following is None and cursor.part + 1 < len(parts):
            following = DependentCursor(part=cursor.part + 1)
        return Page(records, json.dumps(asdict(following)) if following else None, seen=seen)

    def _read_companies(self, request: ReadRequest) -> Page:
        if request.cursor:
            position = SearchPosition(**json.loads(request.cursor))
        else:
            position = SearchPosition(floor=ms(request.since) if request.since else None)
        properties = ["hs_lastmodifieddate"] if request.ids_only else [*self.company_fields, *request.fields]
        search = Search(
            "companies", "hs_lastmodifieddate", properties, self._selection_filters(request.options)
        )
        found = search.page(self.http, position)
        records = [self._company(r) for r in found.results]
        return Page(
            records, json.dumps(asdict(found.following)) if found.following else None, seen=found.newest
        )

    @staticmethod
    def _selection_filters(options: dict[str, Any]) -> list[dict[str, Any]]:
        selection = options.get("selection") or {}
        filters: list[dict[str, Any]] = [
            {"propertyName": "lifecyclestage", "operator": "IN",
             "values": list(selection.get("lifecycle_stages") or DEFAULT_STAGES)}
        ]  # fmt: skip
        if selection.get("filter_property") and selection.get("filter_values"):
            filters.append(
                {"propertyName": selection["filter_property"], "operator": "IN",
                 "values": [str(v) for v in selection["filter_values"]]}
            )  # fmt: skip
        return filters

    def _company(self, raw: dict[str, Any]) -> Record:
        props = raw.get("properties") or {}
        parent = props.get("hs_parent_company_id")
        return Record(
            external_id=str(raw["id"]),
            fields=dict(props),
            modified_at=moment(props.get("hs_lastmodifieddate")) or moment(raw.get("updatedAt")),
            links={"parent": [str(parent)]} if parent else {},
        )

    # -- contacts, deals, engagements: the records linked to synced companies ----------------------------
    def _dependent_parts(self, request: ReadRequest) -> list[str]:
        """The HubSpot objects one listing reads, one after the other."""
        if request.object_type == ObjectType.CONTACTS:
            return ["contacts"]
        if request.object_type == ObjectType.AGREEMENTS:
            return ["deals"]
        return [ENGAGEMENTS[kind].object for kind in request.options.get("kinds") or list(ENGAGEMENTS)]

    def _linked_page(
        self, request: ReadRequest, name: str, cursor: DependentCursor
    ) -> tuple[list[Record], DependentCursor | None, dt.datetime | None]:
        """A full read: the records linked to the next COMPANIES_PER_PAGE synced companies, read in batches
        of 100; the fewer than 100 left over wait for the next page, so only the listing's last batch is
        short. Also returns the newest stamp read, dropped records included."""
        scope = sorted(set(request.scope_ids or ()))
        start = bisect.bisect_right(scope, cursor.after) if cursor.after else 0
        chunk = scope[start : start + COMPANIES_PER_PAGE]
        linked = {record_id: list(companies) for record_id, companies in cursor.carry.items()}
        for company, related in self._associated("companies", name, chunk).items():
            for record_id in related:
                companies = linked.setdefault(record_id, [])
                if company not in companies:
                    companies.append(company)
        more = start + len(chunk) < len(scope)
        ids = list(linked)
        ready = ids[: len(ids) - len(ids) % BATCH_LIMIT] if more else ids
        read = self._batch_read(name, ready, self._properties(request, name))
        found = [r for r in read if self._keeps(request, r) and self._changed(request, name, r)]
        records = self._records(request, name, found, linked)
        seen = max(filter(None, (self._stamp(name, r) for r in read)), default=None)
        if not more:
            return records, None, seen
        carry = {i: linked[i] for i in ids[len(ready) :]}
        return records, DependentCursor(cursor.part, chunk[-1], carry, full=cursor.full), seen

    def _changed_page(
        self, request: ReadRequest, name: str, cursor: DependentCursor, since: dt.datetime
    ) -> tuple[list[Record], DependentCursor | None, dt.datetime | None]:
        """An incremental read: one page of the object's search on its modification time, kept when linked
        to a synced company (found through the v4 associations, 100 records a call). Also returns the
        newest stamp the search found: the changes dropped here need not be searched again."""
        position = SearchPosition(**cursor.search) if cursor.search else SearchPosition(floor=ms(since))
        stamp = STAMPS.get(name, "hs_lastmodifieddate")
        page = Search(name, stamp, self._properties(request, name)).page(self.http, position)
        if cursor.search is None and page.total > FULL_READ_FROM * len(request.scope_ids or ()):
            # A bulk change (an import, a workflow touching every contact): searching costs 1.5 calls per 100
            # changes wherever they are, reading what the synced companies hold costs less.
            return self._linked_page(request, name, DependentCursor(cursor.part, full=True))
        # Deals outside the pipelines or not won are dropped before their associations are read.
        changed = [r for r in page.results if self._keeps(request, r)]
        scope = set(request.scope_ids or ())
        companies = self._associated(name, "companies", [str(r["id"]) for r in changed])
        linked = {i: [c for c in related if c in scope] for i, related in companies.items()}
        found = [r for r in changed if linked.get(str(r["id"]))]
        records = self._records(request, name, found, linked)
        following = page.following
        return (
            records,
            DependentCursor(cursor.part, search=asdict(following)) if following else None,
            page.newest,
        )

    def _properties(self, request: ReadRequest, name: str) -> list[str]:
        if name == "contacts":
            return list(dict.fromkeys([*self.contact_fields, *request.fields]))
        if name == "deals":
            return list(dict.fromkeys([*self.deal_fields, *request.fields]))
        spec = ENGAGEMENTS[KIND_OF[name]]
        wanted = (spec.subject, spec.body, spec.time, spec.direction, "hs_timestamp", "hs_email_from_email",
                  "hs_lastmodifieddate")  # fmt: skip
        return list(dict.fromkeys(p for p in wanted if p))

    @staticmethod
    def _changed(request: ReadRequest, name: str, raw: dict[str, Any]) -> bool:
        """Whether a record read through the companies changed since the cursor (always, in a full read)."""
        if request.since is None:  # a full read; else an incremental one that found a bulk change
            return True
        modified = HubSpot._stamp(name, raw)
        return modified is None or modified >= request.since

    @staticmethod
    def _stamp(name: str, raw: dict[str, Any]) -> dt.datetime | None:
        return moment((raw.get("properties") or {}).get(STAMPS.get(name, "hs_lastmodifieddate")))

    def _keeps(self, request: ReadRequest, raw: dict[str, Any]) -> bool:
        """Deals: the chosen pipelines (none chosen: all), won ones only unless told otherwise."""
        if request.object_type != ObjectType.AGREEMENTS:
            return True
        props = raw.get("properties") or {}
        pipelines = {str(p) for p in request.options.get("pipelines") or []}
        if pipelines and props.get("pipeline") not in pipelines:
            return False
        if not request.options.get("won_only", True):
            return True
        return props.get("dealstage") in self._won_stage_ids() or props.get("hs_is_closed_won") == "true"

    def _records(
        self, request: ReadRequest, name: str, found: list[dict[str, Any]], linked: dict[str, list[str]]
    ) -> list[Record]:
        """Records from HubSpot objects and the synced companies each one is linked to."""
        if name == "contacts":
            scope = set(request.scope_ids or ())
            return [self._contact(raw, linked[str(raw["id"])], scope) for raw in found]
        if name == "deals":
            return [self._deal(raw, linked[str(raw["id"])]) for raw in found]
        contacts = self._associated(name, "contacts", [str(r["id"]) for r in found])
        return [self._engagement(KIND_OF[name], raw, linked[str(raw["id"])], contacts) for raw in found]

    @staticmethod
    def _contact(raw: dict[str, Any], companies: list[str], scope: set[str]) -> Record:
        props = raw.get("properties") or {}
        # A contact of synced companies on different pages is read once per page: its primary company leads
        # the links every time, so it lands on the same customer each time.
        primary = str(props.get("associatedcompanyid") or "")
        customers = [primary, *(c for c in companies if c != primary)] if primary in scope else companies
        return Record(str(raw["id"]), dict(props), HubSpot._stamp("contacts", raw), {"customers": customers})

    @staticmethod
    def _deal(raw: dict[str, Any], companies: list[str]) -> Record:
        props = raw.get("properties") or {}
        return Record(str(raw["id"]), dict(props), HubSpot._stamp("deals", raw), {"customers": companies})

    @staticmethod
    def _engagement(
        kind: str, raw: dict[str, Any], companies: list[str], contacts: dict[str, list[str]]
    ) -> Record:
        spec = ENGAGEMENTS[kind]
        props = raw.get("properties") or {}
        occurred = moment(props.get(spec.time)) or moment(props.get("hs_timestamp"))
        direction = DIRECTIONS.get(props.get(spec.direction) or "", "") if spec.direction else ""
        fields = {
            "subject": props.get(spec.subject) or "" if spec.subject else "",
            "body": props.get(spec.body) or "",
            "occurred_at": _iso(occurred) if occurred else "",
            "direction": direction,
            "author_email": props.get("hs_email_from_email") or "" if direction == "outgoing" else "",
        }
        links = {"customers": companies, "contacts": contacts.get(str(raw["id"]), [])}
        return Record(str(raw["id"]), fields, HubSpot._stamp(spec.object, raw), links, kind=kind)

    def _associated(self, from_type: str, to_type: str, ids: list[str]) -> dict[str, list[str]]:
        """v4 batch read (https://developers.hubspot.com/docs/api-reference/crm-associations-v4/guide),
        following each input's own paging. Ids without associations come back as 207 errors: no links."""
        found: dict[str, list[str]] = {}
        pending: list[dict[str, Any]] = [{"id": i} for i in dict.fromkeys(ids)]
        while pending:
            batch, pending = pending[:BATCH_LIMIT], pending[BATCH_LIMIT:]
            body = self.http.post(
                f"/crm/v4/associations/{from_type}/{to_type}/batch/read", {"inputs": batch}, idempotent=True
            )
            for result in body.get("results", []):
                source = str(result["from"]["id"])
                found.setdefault(source, []).extend(str(to["toObjectId"]) for to in result.get("to", []))
                if after := next_after(result):
                    pending.append({"id": source, "after": after})
        return found

    def _batch_read(self, object_name: str, ids: list[str], properties: list[str]) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        for chunk in _chunks(ids):
            body = self.http.post(
                f"/crm/v3/objects/{object_name}/batch/read",
                {"inputs": [{"id": i} for i in chunk], "properties": properties, "propertiesWithHistory": []},
                idempotent=True,
            )
            results.extend(body.get("results", []))
        return results

    def _pipelines(self) -> list[dict[str, Any]]:
        # https://developers.hubspot.com/docs/api-reference/crm-pipelines-v3/guide
        return self.http.get("/crm/v3/pipelines/deals").get("results", [])

    def _won_stage_ids(self) -> set[str]:
        """Stages that close a deal as won: metadata isClosed "true" with probability 1.0 (strings)."""
        if self._won_stages is None:
            self._won_stages = {
                stage["id"]
                for pipeline in self._pipelines()
                for stage in pipeline.get("stages", [])
                if str((stage.get("metadata") or {}).get("isClosed")).lower() == "true"
                and float((stage.get("metadata") or {}).get("probability") or 0) >= 1.0
            }
        return self._won_stages

    # -- writes -----------------------------------------------------------------------------------------
    def write(
        self,
        object_type: ObjectType,
        external_id: str | None,
        fields: dict[str, Any],
        links: dict[str, list[str]] | None = None,
    ) -> str:
        if object_type == ObjectType.INTERACTIONS and external_id is None:
            return self._create_engagement(fields, links or {})
        if object_type not in (ObjectType.CUSTOMERS, ObjectType.CONTACTS) or external_id is None:
            return super().write(object_type, external_id, fields, links)
        properties = {name: "" if value is None else value for name, value in fields.items()}
        name = self.objects[object_type].remote_name
        body = self.http.patch(f"/crm/v3/objects/{name}/{external_id}", {"properties": properties})
        return str(body["id"])

    def _create_engagement(self, fields: dict[str, Any], links: dict[str, list[str]]) -> str:
        kind = fields.get("kind") or "note"
        spec = ENGAGEMENTS[kind]
        subject, body = fields.get("subject") or "", fields.get("body") or ""
        occurred = moment(fields.get("occurred_at")) or dt.datetime.now(dt.UTC)
        properties: dict[str, Any] = {"hs_timestamp": _iso(occurred)}
        if spec.subject:
            properties[spec.subject] = subject
        elif subject:  # notes have no title: it leads the body
            body = f"<strong>{html.escape(subject)}</strong><br>{body}"
        properties[spec.body] = body
        properties[spec.time] = properties["hs_timestamp"]
        if kind == "meeting":
            properties["hs_meeting_end_time"] = properties["hs_timestamp"]
        if spec.direction and fields.get("direction") in spec.directions:
            properties[spec.direction] = spec.directions[fields["direction"]]
        associations = [
            {
                "to": {"id": str(target)},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
            }
            for key, type_id in (("customers", spec.to_company), ("contacts", spec.to_contact))
            for target in links.get(key, [])
        ]
        created = self.http.post(
            f"/crm/v3/objects/{spec.object}", {"properties": properties, "associations": associations}
        )
        return str(created["id"])

    def read_back(self, object_type: ObjectType, external_id: str, fields: Sequence[str]) -> dict[str, Any]:
        name = self.objects[object_type].remote_name
        body = self.http.get(f"/crm/v3/objects/{name}/{external_id}", {"properties": ",".join(fields)})
        props = body.get("properties") or {}
        return {name: props.get(name) for name in fields}

    # -- errors -----------------------------------------------------------------------------------------
    def error_from_response(self, status: int, body: Any, headers: dict[str, str]) -> ConnectorError:
        """HubSpot's error body: {status, message, correlationId, category, subCategory, errors[], ...};
        429s name their policy (https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines)."""
        data = body if isinstance(body, dict) else {}
        category = str(data.get("category") or data.get("policyName") or data.get("status") or "")
        message = f"HubSpot: {data.get('message') or str(body)[:200] or f'HTTP {status}'}"
        if status == 401:  # EXPIRED_AUTHENTICATION or INVALID_AUTHENTICATION: refresh once, then reconnect
            return ConnectorError(message, reconnect=True, status=status, code=category)
        if status == 403 and category == "MISSING_SCOPES":
            return ConnectorError(message, reconnect=True, status=status, code=category)
        if status == 429:
            policy = str(data.get("policyName") or "")
            if policy == "DAILY":
                now = dt.datetime.now(dt.UTC)
                midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
                wait: float = (midnight - now).total_seconds()
            else:
                wait = 1.0 if policy == "SECONDLY" else 10.0
            return ConnectorError(message, rate_limited=True, retry_after=wait, status=status, code=policy)
        if status in (423, 477) or status >= 500:
            return ConnectorError(
                message, retry_after=2.0 if status == 423 else None, status=status, code=category
            )
        return ConnectorError(
            message, permanent=400 <= status < 500 and status != 409, status=status, code=category
        )
