"""Pipedrive: API v1 and v2 on the company's own `api_domain`, OAuth 2 with HTTP Basic client auth
(crm-apis.md §3, https://pipedrive.readme.io/docs/marketplace-oauth-authorization).

Customers are organizations with at least one won deal; the reads live in `reads.py`. Writes: v2 PATCH of
organizations and persons (custom fields under `custom_fields`), v1 notes and v2 activities for pushed
interactions, and the two output fields created through v1 /organizationFields. Every call spends the
company's daily token budget (https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting): a spent
budget ends the run as rate limited until the reset, never in a retry loop."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, ClassVar

from ...base import (
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
from ...models import ObjectType, SyncMode
from .reads import V1, V2, Reader, flatten, is_custom_key, moment, ref_id, v1_all

DOCS = "https://developers.pipedrive.com/docs/api/v1"
IN, TWO, OUT, OFF = SyncMode.INPUT, SyncMode.TWO_WAYS, SyncMode.OUTPUT, SyncMode.DISABLED
OUTPUT_FIELDS = {"health_score": "Skalin Healthscore", "csm_pulse": "Skalin CSM Pulse"}
# v1 field lists per object (GET /v1/organizationFields...), and the v2 record paths.
FIELD_LISTS = {ObjectType.CUSTOMERS: "organizationFields", ObjectType.CONTACTS: "personFields",
               ObjectType.AGREEMENTS: "dealFields"}  # fmt: skip
RECORDS = {ObjectType.CUSTOMERS: "organizations", ObjectType.CONTACTS: "persons"}
FIELD_TYPES = {"double": "number", "monetary": "number", "int": "number", "date": "date", "enum": "enumeration",
               "set": "enumeration", "user": "user", "org": "reference", "people": "reference",
               "status": "enumeration", "stage": "enumeration"}  # fmt: skip
READ_ONLY = {"id", "add_time", "update_time", "won_deals_count", "lost_deals_count", "open_deals_count",
             "people_count", "activities_count", "notes_count", "next_activity_date", "last_activity_date",
             "email_messages_count", "followers_count", "files_count", "won_time", "close_time", "lost_time",
             "first_won_time", "cc_email"}  # fmt: skip
BURST_WAIT = 2.0  # the burst window is 2 seconds


def seconds_to_midnight(now: dt.datetime | None = None) -> float:
    now = now or dt.datetime.now(dt.UTC)
    tomorrow = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return (tomorrow - now).total_seconds()


class Pipedrive(Connector):
    key = "pipedrive"
    label = "Pipedrive"
    # Scopes live on the app, not in the URL (crm-apis.md §3.1); listed for the record.
    oauth = OAuthSpec(
        authorize_url_setting="auth_url",
        authorize_path="/oauth/authorize",
        token_url_setting="auth_url",
        token_path="/oauth/token",
        scopes=(),
        client_auth="basic",
        base_url_key="api_domain",
    )
    requirements = (
        "A Pipedrive user with sufficient rights: read organizations, persons, deals, activities and notes, "
        "and create organization fields (for Healthscore and CSM Pulse; your plan's custom-field cap applies)"
    )
    creates_output_fields = True
    objects: ClassVar[dict[ObjectType, ObjectSpec]] = {
        ObjectType.CUSTOMERS: ObjectSpec(
            ObjectType.CUSTOMERS, "organizations", (IN, TWO, OFF), IN,
            {"name": "name", "domain": "website", "ref_id": "@id"}, f"{DOCS}/Organizations",
        ),
        ObjectType.CONTACTS: ObjectSpec(
            ObjectType.CONTACTS, "persons", (IN, TWO, OFF), IN,
            {"email": "email", "first_name": "first_name", "last_name": "last_name", "phone": "phone",
             "title": "job_title", "ref_id": "@id"},
            f"{DOCS}/Persons",
        ),
        ObjectType.AGREEMENTS: ObjectSpec(
            ObjectType.AGREEMENTS, "deals", (IN, OFF), OFF,
            {"plan_name": "title", "amount": "value", "start_date": "won_time"}, f"{DOCS}/Deals",
        ),
        ObjectType.INTERACTIONS: ObjectSpec(
            ObjectType.INTERACTIONS, "activities", (IN, TWO, OUT, OFF), OFF, doc_url=f"{DOCS}/Activities",
        ),
    }  # fmt: skip
    # product.md §3: the selection is fixed (organizations with a won deal); churn, parent/child, merge keys.
    options = {
        ObjectType.CUSTOMERS: (CHURN_ON_ABSENCE, PARENT_CHILD, MERGE_KEYS),
        ObjectType.AGREEMENTS: (
            Option("object", "Contracts come from", kind="choice", default="deals",
                   choices=(("deals", "Deals (one or more pipelines)"), ("organizations", "Companies (organization fields)"))),
            Option("pipelines", "Pipelines", kind="multichoice", choices_from="pipelines", help="None chosen: all."),
            WON_ONLY,
        ),
        ObjectType.INTERACTIONS: (INTERACTION_KINDS,),
    }  # fmt: skip
    block_warnings = {
        ObjectType.INTERACTIONS: (
            "Pipedrive does not store the message and meeting ids Google or Microsoft give. Do not sync Emails "
            "and Meetings if your mailbox or calendar is already connected to Skalin: they would be duplicated."
        )
    }

    def __init__(self, http: Any) -> None:
        super().__init__(http)
        self.reader = Reader(http)
        self._users: dict[str, str] | None = None

    # -- identity, fields, pickers --------------------------------------------------------------------------
    def identity(self) -> Identity:
        # GET /v1/users/me: the signed-in user and their company (https://developers.pipedrive.com/docs/api/v1/Users)
        me = (self.http.get(f"{V1}/users/me") or {}).get("data") or {}
        return Identity(str(me.get("company_id") or ""), me.get("email") or "", me.get("name") or "")

    def user_emails(self, user_ids: Sequence[str]) -> dict[str, str]:
        if self._users is None:
            users = (self.http.get(f"{V1}/users") or {}).get("data") or []
            self._users = {str(u["id"]): u.get("email") or "" for u in users}
        return {i: self._users[str(i)] for i in user_ids if self._users.get(str(i))}

    def list_fields(self, object_type: ObjectType) -> list[CrmField]:
        if object_type not in FIELD_LISTS:
            return []
        return [self._crm_field(f) for f in v1_all(self.http, f"{V1}/{FIELD_LISTS[object_type]}")]

    @staticmethod
    def _crm_field(raw: dict[str, Any]) -> CrmField:
        options = tuple(
            (str(o["id"]), str(o.get("label") or o["id"])) for o in raw.get("options") or [] if "id" in o
        )
        return CrmField(
            name=raw["key"],
            label=raw.get("name") or raw["key"],
            type=FIELD_TYPES.get(str(raw.get("field_type")), "string"),
            options=options,
            writable=raw["key"] not in READ_ONLY and raw.get("bulk_edit_allowed", True) is not False,
        )

    def list_choices(self, kind: str) -> list[tuple[str, str]]:
        if kind == "pipelines":
            rows = (self.http.get(f"{V1}/pipelines") or {}).get("data") or []
            return [(str(p["id"]), p.get("name") or str(p["id"])) for p in rows]
        raise LookupError(f"Pipedrive has no choice list {kind!r}.")

    def ensure_output_fields(self) -> dict[str, str]:
        """Find the two organization fields by name, else create them (v1 POST /organizationFields, type
        double); their generated 40-character keys are what writes use."""
        existing = {
            str(f.get("name")).casefold(): f["key"] for f in v1_all(self.http, f"{V1}/organizationFields")
        }
        keys = {}
        for output, name in OUTPUT_FIELDS.items():
            key = existing.get(name.casefold())
            if key is None:
                created = self.http.post(
                    f"{V1}/organizationFields",
                    {"name": name, "field_type": "double", "add_visible_flag": True},
                )
                key = ((created or {}).get("data") or {})["key"]
            keys[output] = key
        return keys

    # -- reads ----------------------------------------------------------------------------------------------
    def read_page(self, request: ReadRequest) -> Page:
        return self.reader.read(request)

    def find_customers(self, text: str, limit: int = 20) -> list[Record]:
        text = text.strip()
        if text.isdigit():
            rows = (self.http.get(f"{V2}/organizations", {"ids": text}) or {}).get("data") or []
        else:  # the search API: at least 2 characters, 40 tokens a call
            body = self.http.get(f"{V2}/organizations/search", {"term": text, "limit": limit}) or {}
            ids = [str(i["item"]["id"]) for i in (body.get("data") or {}).get("items", [])]
            rows = (
                (self.http.get(f"{V2}/organizations", {"ids": ",".join(ids)}) or {}).get("data")
                if ids
                else []
            )
        return [Record(str(r["id"]), flatten(r), moment(r.get("update_time"))) for r in (rows or [])[:limit]]

    def selection_excludes(self, record: Record, options: dict[str, Any]) -> str | None:
        body = self.http.get(f"{V2}/deals", {"org_id": record.external_id, "status": "won", "limit": 1}) or {}
        if body.get("data"):
            return None
        return "It has no won deal in Pipedrive; only organizations with at least one won deal are synced."

    # -- writes ---------------------------------------------------------------------------------------------
    def write(
        self,
        object_type: ObjectType,
        external_id: str | None,
        fields: dict[str, Any],
        links: dict[str, list[str]] | None = None,
    ) -> str:
        if object_type == ObjectType.INTERACTIONS and external_id is None:
            return self._create_interaction(fields, links or {})
        if object_type not in RECORDS or external_id is None:
            return super().write(object_type, external_id, fields, links)
        # v2 PATCH (crm-apis.md §3.2): custom fields by key under custom_fields, the others at the top.
        body: dict[str, Any] = {}
        for name, value in fields.items():
            value = None if value == "" else value
            if is_custom_key(name):
                body.setdefault("custom_fields", {})[name] = value
            elif name in ("email", "phone") and object_type == ObjectType.CONTACTS:
                body[f"{name}s"] = [{"value": value, "primary": True, "label": "work"}] if value else []
            else:
                body[name] = value
        answer = self.http.patch(f"{V2}/{RECORDS[object_type]}/{external_id}", body) or {}
        return str((answer.get("data") or {}).get("id") or external_id)

    def _create_interaction(self, fields: dict[str, Any], links: dict[str, list[str]]) -> str:
        kind = fields.get("kind") or "note"
        org = next(iter(links.get("customers") or []), None)
        contacts = [c for c in links.get("contacts") or [] if c]
        occurred = (moment(fields.get("occurred_at")) or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        subject, text = fields.get("subject") or "", fields.get("body") or ""
        if kind == "note":
            # v1 POST /notes: one of org_id / person_id / deal_id... is required.
            body: dict[str, Any] = {"content": f"<b>{subject}</b><br>{text}" if subject else text,
                                    "org_id": int(org) if org else None, "add_time": occurred.strftime("%Y-%m-%d %H:%M:%S"),
                                    "pinned_to_organization_flag": 0}  # fmt: skip
            if contacts:
                body["person_id"] = int(contacts[0])
            created = self.http.post(f"{V1}/notes", body) or {}
            return f"note-{created['data']['id']}"
        body = {"subject": subject or kind.capitalize(), "type": kind, "org_id": int(org) if org else None,
                "due_date": occurred.strftime("%Y-%m-%d"), "due_time": occurred.strftime("%H:%M"), "done": True,
                "note": text}  # fmt: skip
        if contacts:
            body["participants"] = [{"person_id": int(c), "primary": n == 0} for n, c in enumerate(contacts)]
        created = self.http.post(f"{V2}/activities", body) or {}
        return f"activity-{created['data']['id']}"

    def read_back(self, object_type: ObjectType, external_id: str, fields: Sequence[str]) -> dict[str, Any]:
        raw = (self.http.get(f"{V2}/{RECORDS[object_type]}/{external_id}") or {}).get("data") or {}
        values = flatten(raw)
        return {name: values.get(name) for name in fields}

    # -- errors ---------------------------------------------------------------------------------------------
    def error_from_response(self, status: int, body: Any, headers: dict[str, str]) -> ConnectorError:
        """Pipedrive's error body: {"success": false, "error", "error_info", "data", "additional_data",
        "code"?} (crm-apis.md §3.5); OAuth errors answer RFC 6749 bodies."""
        data = body if isinstance(body, dict) else {}
        text = data.get("error") or data.get("message") or data.get("error_description") or str(body)[:200]
        code = str(data.get("code") or data.get("errorCode") or "")
        message = f"Pipedrive: {text or f'HTTP {status}'}"
        if status == 401:
            return ConnectorError(message, reconnect=True, status=status, code=code)
        if status == 403:
            why = ("your Pipedrive plan's cap is reached" if code.startswith("feature_capping")
                   else "the connected Pipedrive user lacks the rights for this")  # fmt: skip
            return ConnectorError(f"{message} ({why}).", permanent=True, status=status, code=code)
        if status == 429:
            return self._rate_limit(message, headers)
        if status >= 500:
            return ConnectorError(message, status=status, code=code)
        return ConnectorError(message, permanent=status != 409, status=status, code=code)

    @staticmethod
    def _rate_limit(message: str, headers: dict[str, str]) -> ConnectorError:
        """The burst window (2 s) or the daily token budget. A spent budget says so with x-daily-requests-left
        0 (or a reset far off); it comes back at the reset, midnight UTC when the headers do not tell."""
        try:
            reset = float(headers.get("x-ratelimit-reset") or "")
        except ValueError:
            reset = None
        daily = str(headers.get("x-daily-requests-left", "")).strip() == "0" or (reset or 0) > 60
        if daily:
            wait = reset if reset and reset > 60 else seconds_to_midnight()
            return ConnectorError(f"{message} (daily API token budget spent)", rate_limited=True, retry_after=wait,
                                  status=429, code="daily_budget")  # fmt: skip
        return ConnectorError(
            message, rate_limited=True, retry_after=reset or BURST_WAIT, status=429, code="burst"
        )


__all__ = ["Pipedrive", "ref_id", "seconds_to_midnight"]
