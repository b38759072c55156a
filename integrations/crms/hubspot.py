"""HubSpot: CRM v3 objects and search, v4 associations, OAuth v1 (crm-apis.md §1).

Companies come from the search endpoint, walked by keyset on the modification time rather than by the
`after` offset alone: an offset shifts when a record read earlier changes during the walk, and search stops
at 10,000 results (https://developers.hubspot.com/docs/api-reference/search/guide#limitations).
Contacts, deals and engagements hang off the synced companies through v4 associations, 100 companies a page.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

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
from ..mapping import ValueMappingError, parse_datetime
from ..models import ObjectType, SyncMode

# https://developers.hubspot.com/docs/api-reference/search/guide#limitations: 200 a page, 10,000 a query.
SEARCH_LIMIT = 200
SEARCH_CAP = 10_000
# Batch reads take 100 inputs; so does the v4 association batch read since January 2024
# (https://developers.hubspot.com/changelog/bug-fix-batch-read-limit-for-hubspot-associations-api).
BATCH_LIMIT = 100
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
DIRECTIONS = {"INCOMING_EMAIL": "incoming", "EMAIL": "outgoing", "FORWARDED_EMAIL": "outgoing",
              "INBOUND": "incoming", "OUTBOUND": "outgoing"}  # fmt: skip

OUTPUT_PROPERTIES = {
    "health_score": {"name": "skalin_healthscore", "label": "Skalin Healthscore",
                     "description": "Healthscore computed by Skalin, 1 to 10."},
    "csm_pulse": {"name": "skalin_csm_pulse", "label": "Skalin CSM Pulse",
                  "description": "CSM Pulse set in Skalin, 1 to 5."},
}  # fmt: skip


@dataclass
class SearchPosition:
    """Where a company search resumes (the opaque page cursor, as JSON).

    Each page restarts the search at the last modification time seen (`floor`), skipping the ids already
    returned at exactly that time. When a whole page shares one millisecond (bulk imports), the records of
    that millisecond are walked by `hs_object_id` keyset (`tie`), then the walk goes on strictly after it."""

    floor: int | None = None  # epoch ms
    strict: bool = False
    skip: list[str] = field(default_factory=list)
    tie: bool = False
    last_id: str = ""
    after: int = 0


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _ms(moment: dt.datetime) -> int:
    """Epoch milliseconds, exactly (float timestamps can land one millisecond short)."""
    return (moment - EPOCH) // dt.timedelta(milliseconds=1)


def _moment(value: Any) -> dt.datetime | None:
    """HubSpot dates come as ISO strings or epoch milliseconds in strings."""
    try:
        return parse_datetime(value)
    except ValueMappingError:
        return None


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _stamp(raw: dict[str, Any]) -> int | None:
    moment = _moment((raw.get("properties") or {}).get("hs_lastmodifieddate"))
    return _ms(moment) if moment else None


def _next_after(body: dict[str, Any]) -> str | None:
    return ((body.get("paging") or {}).get("next") or {}).get("after")


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
            after = _next_after(body)
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
            *self._company_filters(options, SearchPosition()),
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
        readers = {
            ObjectType.CONTACTS: self._contacts,
            ObjectType.AGREEMENTS: self._deals,
            ObjectType.INTERACTIONS: self._engagements,
        }
        # Dependent objects: one page per 100 synced companies.
        scope = list(request.scope_ids or [])
        offset = int(request.cursor or 0)
        chunk = scope[offset : offset + BATCH_LIMIT]
        records = readers[request.object_type](request, chunk) if chunk else []
        if request.since is not None:
            records = [r for r in records if r.modified_at is None or r.modified_at >= request.since]
        more = offset + BATCH_LIMIT < len(scope)
        return Page(records, str(offset + BATCH_LIMIT) if more else None)

    def _read_companies(self, request: ReadRequest) -> Page:
        if request.cursor:
            position = SearchPosition(**json.loads(request.cursor))
        else:
            position = SearchPosition(floor=_ms(request.since) if request.since else None)
        properties = ["hs_lastmodifieddate"] if request.ids_only else [*self.company_fields, *request.fields]
        sort = "hs_object_id" if position.tie else "hs_lastmodifieddate"
        body = self.http.post(
            "/crm/v3/objects/companies/search",
            {
                "filterGroups": [{"filters": self._company_filters(request.options, position)}],
                "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
                "properties": list(dict.fromkeys(properties)),
                "limit": SEARCH_LIMIT,
                "after": str(position.after),
            },
            idempotent=True,
        )
        raw = body.get("results", [])
        records = [self._company(r) for r in raw if str(r["id"]) not in position.skip]
        following = self._next_position(position, raw, _next_after(body))
        return Page(records, json.dumps(asdict(following)) if following else None)

    @staticmethod
    def _company_filters(options: dict[str, Any], position: SearchPosition) -> list[dict[str, Any]]:
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
        if position.floor is not None:
            operator = "EQ" if position.tie else ("GT" if position.strict else "GTE")
            filters.append(
                {"propertyName": "hs_lastmodifieddate", "operator": operator, "value": str(position.floor)}
            )
        if position.tie and position.last_id:
            # Ids compare as strings: GT on the raw id leaves no gap (airbyte PR #79666, crm-apis.md §7).
            filters.append({"propertyName": "hs_object_id", "operator": "GT", "value": position.last_id})
        return filters

    @staticmethod
    def _next_position(
        position: SearchPosition, raw: list[dict[str, Any]], after: str | None
    ) -> SearchPosition | None:
        if after is None:
            # The end of this query; a walk through one crowded millisecond goes on strictly after it.
            return SearchPosition(floor=position.floor, strict=True) if position.tie else None
        stamps = [_stamp(r) for r in raw]
        if not stamps or stamps[-1] is None:
            # A page may be empty yet announce more (airbyte PR #80745): follow the offset, within the cap.
            if int(after) + SEARCH_LIMIT > SEARCH_CAP:
                raise ConnectorError(
                    "HubSpot search announced results past its 10,000 cap; listing incomplete."
                )
            return SearchPosition(**{**asdict(position), "after": int(after)})
        if position.tie:
            return SearchPosition(
                floor=position.floor, tie=True, last_id=str(raw[-1]["id"]), skip=position.skip
            )
        floor = stamps[-1]
        if floor == position.floor:
            # The whole page shares the floor's millisecond: walk that millisecond by id instead.
            return SearchPosition(floor=floor, tie=True, skip=[*position.skip, *(str(r["id"]) for r in raw)])
        return SearchPosition(
            floor=floor, skip=[str(r["id"]) for r, ms in zip(raw, stamps, strict=True) if ms == floor]
        )

    def _company(self, raw: dict[str, Any]) -> Record:
        props = raw.get("properties") or {}
        parent = props.get("hs_parent_company_id")
        return Record(
            external_id=str(raw["id"]),
            fields=dict(props),
            modified_at=_moment(props.get("hs_lastmodifieddate")) or _moment(raw.get("updatedAt")),
            links={"parent": [str(parent)]} if parent else {},
        )

    def _contacts(self, request: ReadRequest, companies: list[str]) -> list[Record]:
        by_contact = self._linked(companies, "contacts")
        properties = list(dict.fromkeys([*self.contact_fields, *request.fields]))
        scope = set(request.scope_ids or ())
        records = []
        for raw in self._batch_read("contacts", list(by_contact), properties):
            props = raw.get("properties") or {}
            # A contact of several synced companies shows up once per page of companies: its primary company
            # leads the links on every page, so it lands on the same customer each time.
            primary = str(props.get("associatedcompanyid") or "")
            linked = by_contact[str(raw["id"])]
            customers = [primary, *(c for c in linked if c != primary)] if primary in scope else linked
            modified = _moment(props.get("lastmodifieddate"))
            records.append(Record(str(raw["id"]), dict(props), modified, {"customers": customers}))
        return records

    def _deals(self, request: ReadRequest, companies: list[str]) -> list[Record]:
        by_deal = self._linked(companies, "deals")
        pipelines = {str(p) for p in request.options.get("pipelines") or []}
        won_only = request.options.get("won_only", True)
        won = self._won_stage_ids() if won_only else set()
        properties = list(dict.fromkeys([*self.deal_fields, *request.fields]))
        records = []
        for raw in self._batch_read("deals", list(by_deal), properties):
            props = raw.get("properties") or {}
            if pipelines and props.get("pipeline") not in pipelines:
                continue
            if won_only and props.get("dealstage") not in won and props.get("hs_is_closed_won") != "true":
                continue
            records.append(
                Record(str(raw["id"]), dict(props), _moment(props.get("hs_lastmodifieddate")),
                       {"customers": by_deal[str(raw["id"])]})
            )  # fmt: skip
        return records

    def _engagements(self, request: ReadRequest, companies: list[str]) -> list[Record]:
        records = []
        for kind in request.options.get("kinds") or list(ENGAGEMENTS):
            spec = ENGAGEMENTS[kind]
            by_engagement = self._linked(companies, spec.object)
            props_wanted = [p for p in (spec.subject, spec.body, spec.time, spec.direction, "hs_timestamp",
                                        "hs_email_from_email", "hs_lastmodifieddate") if p]  # fmt: skip
            found = self._batch_read(spec.object, list(by_engagement), list(dict.fromkeys(props_wanted)))
            contacts = self._associated(spec.object, "contacts", [str(r["id"]) for r in found])
            for raw in found:
                props = raw.get("properties") or {}
                occurred = _moment(props.get(spec.time)) or _moment(props.get("hs_timestamp"))
                direction = DIRECTIONS.get(props.get(spec.direction) or "", "") if spec.direction else ""
                fields = {
                    "subject": props.get(spec.subject) or "" if spec.subject else "",
                    "body": props.get(spec.body) or "",
                    "occurred_at": _iso(occurred) if occurred else "",
                    "direction": direction,
                    "author_email": props.get("hs_email_from_email") or "" if direction == "outgoing" else "",
                }
                links = {
                    "customers": by_engagement[str(raw["id"])],
                    "contacts": contacts.get(str(raw["id"]), []),
                }
                modified = _moment(props.get("hs_lastmodifieddate"))
                records.append(Record(str(raw["id"]), fields, modified, links, kind=kind))
        return records

    def _linked(self, companies: list[str], to_type: str) -> dict[str, list[str]]:
        """{related id: [company ids of this chunk]} through the v4 associations."""
        linked: dict[str, list[str]] = {}
        for company, related in self._associated("companies", to_type, companies).items():
            for other in related:
                linked.setdefault(other, []).append(company)
        return linked

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
                if after := _next_after(result):
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
        occurred = _moment(fields.get("occurred_at")) or dt.datetime.now(dt.UTC)
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
