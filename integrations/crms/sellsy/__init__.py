"""Sellsy: API v2 (https://api.sellsy.com/doc/v2/), OAuth 2 with PKCE (crm-apis.md §5).

Sellsy is read-only for Skalin (Input only or Disabled for every object, product.md §3); the only writes
are Healthscore and CSM Pulse, into company custom fields Skalin creates once through /custom-fields.
Customers are companies of type client, walked by the companies search; contacts, won opportunities and
interactions hang off the synced companies. The reads live in `reads.py`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, ClassVar

from ...base import (
    CHURN_ON_ABSENCE,
    INTERACTION_KINDS,
    MERGE_KEYS,
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
from . import reads
from .reads import API, CF_PREFIX, cf_id, paged

DOCS = "https://api.sellsy.com/doc/v2/"
IN, OFF = SyncMode.INPUT, SyncMode.DISABLED
# Auto-created company custom fields (crm-integrations.txt "Data transfert from Skalin to Sellsy").
# The create body is **unverified** (crm-apis.md §5.2): name, code, type, related objects, bounds.
OUTPUT_FIELDS: dict[str, dict[str, Any]] = {
    "health_score": {"name": "Skalin Healthscore", "code": "skalin-healthscore", "min": 1, "max": 10,
                     "description": "Healthscore computed by Skalin, 1 to 10."},
    "csm_pulse": {"name": "Skalin CSM Pulse", "code": "skalin-csm-pulse", "min": 1, "max": 5,
                  "description": "CSM Pulse set in Skalin, 1 to 5."},
}  # fmt: skip
# Company custom fields apply to these related objects (custom-field search filter `related_object`).
COMPANY_OBJECTS = ("client", "prospect", "supplier")
FIELD_TYPES = {"numeric": "number", "amount": "number", "numeric-with-unit": "number", "date": "date",
               "time": "datetime", "select": "enumeration", "radio": "enumeration", "checkbox": "enumeration",
               "boolean": "bool", "staff": "user"}  # fmt: skip
# Standard fields offered by the wizard (the company / contact / opportunity schemas of the v2 spec).
STANDARD_FIELDS: dict[ObjectType, tuple[tuple[str, str, str], ...]] = {
    ObjectType.CUSTOMERS: (
        ("id", "Sellsy ID", "string"), ("name", "Name", "string"), ("website", "Website", "string"),
        ("email", "Email", "string"), ("phone_number", "Phone", "string"), ("reference", "Reference", "string"),
        ("owner.id", "Owner", "user"), ("business_segment.label", "Business segment", "string"),
        ("number_of_employees.label", "Number of employees", "string"), ("legal_france.siren", "SIREN", "string"),
        ("note", "Note", "string"), ("updated_at", "Last update", "datetime"),
    ),
    ObjectType.CONTACTS: (
        ("id", "Sellsy ID", "string"), ("email", "Email", "string"), ("first_name", "First name", "string"),
        ("last_name", "Last name", "string"), ("phone_number", "Phone", "string"),
        ("mobile_number", "Mobile", "string"), ("position", "Position", "string"),
    ),
    ObjectType.AGREEMENTS: (
        ("id", "Sellsy ID", "string"), ("name", "Name", "string"), ("number", "Number", "string"),
        ("amount.value", "Amount", "number"), ("due_date", "Due date", "date"), ("created", "Created", "datetime"),
        ("pipeline.name", "Pipeline", "string"), ("step.name", "Step", "string"), ("status", "Status", "string"),
    ),
}  # fmt: skip
CUSTOM_FIELD_OBJECTS = {
    ObjectType.CUSTOMERS: COMPANY_OBJECTS,
    ObjectType.CONTACTS: ("contact",),
    ObjectType.AGREEMENTS: ("opportunity",),
}


class Sellsy(Connector):
    key = "sellsy"
    label = "Sellsy"
    # https://api.sellsy.com/doc/v2/#section/Authentication: authorization code with PKCE (S256). The token
    # endpoint takes a JSON body (crm-apis.md §5.1, §8).
    oauth = OAuthSpec(
        authorize_url_setting="auth_url",
        authorize_path="/oauth2/authorization",
        token_url_setting="auth_url",
        token_path="/oauth2/access-tokens",
        scopes=(
            "companies.read", "companies.write", "contacts.read", "opportunities.read", "custom-fields.read",
            "custom-fields.write", "comments.read", "phonecalls.read", "calendars.read", "emails.read",
            "activities.read", "staffs.read",
        ),
        pkce=True,
        token_body="json",
    )  # fmt: skip
    requirements = (
        "A Sellsy user allowed to read clients, contacts, opportunities and the CRM timeline, and to create "
        "custom fields (for Healthscore and CSM Pulse; your plan's custom-field quota applies)"
    )
    creates_output_fields = True
    objects: ClassVar[dict[ObjectType, ObjectSpec]] = {
        ObjectType.CUSTOMERS: ObjectSpec(
            ObjectType.CUSTOMERS, "companies", (IN, OFF), IN,
            {"name": "name", "domain": "website", "ref_id": "@id"}, f"{DOCS}#tag/Companies",
        ),
        ObjectType.CONTACTS: ObjectSpec(
            ObjectType.CONTACTS, "contacts", (IN, OFF), IN,
            {"email": "email", "first_name": "first_name", "last_name": "last_name", "phone": "phone_number",
             "title": "position", "ref_id": "@id"},
            f"{DOCS}#tag/Contacts",
        ),
        ObjectType.AGREEMENTS: ObjectSpec(
            ObjectType.AGREEMENTS, "opportunities", (IN, OFF), OFF,
            {"plan_name": "name", "amount": "amount.value", "start_date": "due_date"}, f"{DOCS}#tag/Opportunities",
        ),
        ObjectType.INTERACTIONS: ObjectSpec(
            ObjectType.INTERACTIONS, "activities", (IN, OFF), OFF, doc_url=f"{DOCS}#tag/CRM-Activities",
        ),
    }  # fmt: skip
    # product.md §3: companies of type client (no other selection), churn, merge fields; no parent/child.
    options = {
        ObjectType.CUSTOMERS: (
            Option(CHURN_ON_ABSENCE.key, "Make customers become churner if they are not Sellsy clients anymore",
                   advanced=True, default=False, help=CHURN_ON_ABSENCE.help),
            MERGE_KEYS,
        ),
        ObjectType.CONTACTS: (
            Option("exclude_own_domain", "Exclude contacts whose email is on your own domains", default=True,
                   help="Your domains are set in Settings > General."),
        ),
        ObjectType.AGREEMENTS: (
            Option("object", "Sellsy object", kind="choice", default="opportunities",
                   choices=(("opportunities", "Opportunities"),)),
            Option("pipelines", "Pipelines", kind="multichoice", choices_from="pipelines", help="None chosen: all."),
            WON_ONLY,
        ),
        ObjectType.INTERACTIONS: (INTERACTION_KINDS,),
    }  # fmt: skip

    _staff_emails: dict[str, str] | None = None

    # -- identity, fields, pickers --------------------------------------------------------------------------
    def identity(self) -> Identity:
        # GET /v2/me (**unverified** path and keys): the signed-in staff and their account (corporation).
        me = self.http.get(f"{API}/me")
        corporation = me.get("corporation_id") or (me.get("corporation") or {}).get("id") or me.get("id")
        name = " ".join(p for p in (me.get("firstname"), me.get("lastname")) if p)
        return Identity(account_id=str(corporation), user_email=me.get("email") or "", user_name=name)

    def user_emails(self, user_ids: Sequence[str]) -> dict[str, str]:
        # Owners are staff ids (https://api.sellsy.com/doc/v2/#tag/Staffs), listed once per run.
        if self._staff_emails is None:
            self._staff_emails = {
                str(s["id"]): s.get("email") or "" for s in paged(self.http, "GET", f"{API}/staffs")
            }
        return {i: self._staff_emails[i] for i in user_ids if self._staff_emails.get(i)}

    def list_fields(self, object_type: ObjectType) -> list[CrmField]:
        if object_type == ObjectType.INTERACTIONS:
            return []
        fields = [CrmField(n, label, kind, writable=False) for n, label, kind in STANDARD_FIELDS[object_type]]
        wanted = set(CUSTOM_FIELD_OBJECTS[object_type])
        for definition in self._custom_fields():
            if wanted & set(definition.get("related_objects") or []):
                fields.append(self._crm_field(definition))
        return fields

    @staticmethod
    def _crm_field(definition: dict[str, Any]) -> CrmField:
        items = (definition.get("parameters") or {}).get("items") or []
        return CrmField(
            name=f"{CF_PREFIX}{definition['id']}",
            label=definition.get("name") or str(definition["id"]),
            type=FIELD_TYPES.get(str(definition.get("type")), "string"),
            options=tuple((str(i["id"]), i.get("label") or str(i["id"])) for i in items if "id" in i),
        )

    def _custom_fields(self) -> list[dict[str, Any]]:
        return list(paged(self.http, "GET", f"{API}/custom-fields"))

    def list_choices(self, kind: str) -> list[tuple[str, str]]:
        if kind == "pipelines":
            # https://api.sellsy.com/doc/v2/#tag/Opportunities: GET /opportunities/pipelines
            return [(str(p["id"]), p.get("name") or str(p["id"]))
                    for p in paged(self.http, "GET", f"{API}/opportunities/pipelines")]  # fmt: skip
        raise LookupError(f"Sellsy has no choice list {kind!r}.")

    def ensure_output_fields(self) -> dict[str, str]:
        """Create the two company custom fields once; later calls (or another install) find them by code or
        name and reuse them. A plan without custom-field quota answers 402: permanent, with Sellsy's words."""
        existing = {}
        for definition in self._custom_fields():
            for key in (definition.get("code"), definition.get("name")):
                if key:
                    existing[str(key).casefold()] = definition
        names = {}
        for output, spec in OUTPUT_FIELDS.items():
            found = existing.get(spec["code"]) or existing.get(spec["name"].casefold())
            if found is None:
                found = self.http.post(
                    f"{API}/custom-fields",
                    {"type": "numeric", "name": spec["name"], "code": spec["code"],
                     "description": spec["description"], "mandatory": False,
                     "related_objects": list(COMPANY_OBJECTS),
                     "parameters": {"min": spec["min"], "max": spec["max"], "decimals": 0}},
                )  # fmt: skip
            names[output] = f"{CF_PREFIX}{found['id']}"
        return names

    # -- reads ------------------------------------------------------------------------------------------------
    def read_page(self, request: ReadRequest) -> Page:
        return reads.READERS[request.object_type](self.http, request)

    def find_customers(self, text: str, limit: int = 20) -> list[Record]:
        """Companies of any type whose id is `text` or whose name contains it (search filters `id`, `name`)."""
        text = text.strip()
        filters: dict[str, Any] = {"id": [int(text)]} if text.isdigit() else {"name": text}
        rows, _ = reads.list_page(self.http, "POST", f"{API}/companies/search", None,
                                  body={"filters": filters})  # fmt: skip
        return [
            Record(str(r["id"]), reads.flatten(r), reads.moment(r.get("updated_at"))) for r in rows[:limit]
        ]

    def selection_excludes(self, record: Record, options: dict[str, Any]) -> str | None:
        """The same rule as the reads: a client that is not archived."""
        kind = record.fields.get("type") or "(none)"
        if kind != "client":
            return f"Its Sellsy type is '{kind}'; only clients are synced."
        if record.fields.get("is_archived"):
            return "It is archived in Sellsy; archived clients are not synced."
        return None

    # -- writes: only the scores (and any mapped standard field) on companies -----------------------------------
    def write(
        self,
        object_type: ObjectType,
        external_id: str | None,
        fields: dict[str, Any],
        links: dict[str, list[str]] | None = None,
    ) -> str:
        if object_type != ObjectType.CUSTOMERS or external_id is None:
            return super().write(object_type, external_id, fields, links)
        custom = {name: value for name, value in fields.items() if cf_id(name) is not None}
        standard = {name: value for name, value in fields.items() if name not in custom}
        if custom:
            # PUT /companies/{id}/custom-fields [{"id", "value"}]: numbers travel as strings (§5.2).
            self.http.put(
                f"{API}/companies/{external_id}/custom-fields",
                [
                    {"id": cf_id(name), "value": "" if value is None else _text(value)}
                    for name, value in custom.items()
                ],
            )
        if standard:
            body = self.http.put(f"{API}/companies/{external_id}", standard)
            return str((body or {}).get("id") or external_id)
        return str(external_id)

    def read_back(self, object_type: ObjectType, external_id: str, fields: Sequence[str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if any(cf_id(name) is not None for name in fields):
            for item in paged(self.http, "GET", f"{API}/companies/{external_id}/custom-fields"):
                values[f"{CF_PREFIX}{item['id']}"] = item.get("value")
        if any(cf_id(name) is None for name in fields):
            company = self.http.get(f"{API}/companies/{external_id}")
            values.update(reads.flatten(company))
        return {name: values.get(name) for name in fields}

    # -- errors -------------------------------------------------------------------------------------------------
    def error_from_response(self, status: int, body: Any, headers: dict[str, str]) -> ConnectorError:
        """Sellsy's error body: {"error": {"code", "message", "context", "details"}} (v2 spec, "Errors")."""
        error = (body.get("error") if isinstance(body, dict) else None) or {}
        if not isinstance(error, dict):
            error = {"message": str(error)}
        details = error.get("details")
        detail = "; ".join(f"{k}: {v}" for k, v in details.items()) if isinstance(details, dict) else ""
        text = error.get("message") or (str(body)[:200] if body else f"HTTP {status}")
        message = f"Sellsy: {text}" + (f" ({detail})" if detail else "")
        code = str(error.get("context") or "")
        if status == 401:
            return ConnectorError(message, reconnect=True, status=status, code=code)
        if status == 429:
            wait, spent = quota_wait(headers)
            return ConnectorError(f"{message} ({spent} quota spent)", rate_limited=True, retry_after=wait,
                                  status=status, code=spent)  # fmt: skip
        if status == 402:
            return ConnectorError(f"{message}: the Sellsy plan's quota or feature limit is reached.",
                                  permanent=True, status=status, code=code)  # fmt: skip
        if status >= 500 or status in (408, 409, 423):
            return ConnectorError(message, status=status, code=code)
        return ConnectorError(message, permanent=400 <= status < 500, status=status, code=code)


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# https://api.sellsy.com/doc/v2/#section/Quotas: a 429 once any quota reaches zero; the headers tell which.
QUOTA_HEADERS = ("second", "minute", "day", "month")


def quota_wait(headers: dict[str, str], now: dt.datetime | None = None) -> tuple[float, str]:
    """(seconds until the spent quota refills, which quota). Per-day and per-month quotas are assumed to reset
    at midnight UTC and on the 1st (**unverified**: Sellsy may count in Paris time)."""
    now = now or dt.datetime.now(dt.UTC)
    spent = next(
        (period for period in reversed(QUOTA_HEADERS)
         if str(headers.get(f"x-quota-remaining-by-{period}", "")).strip() in ("0", "-1")),
        "second",
    )  # fmt: skip
    if spent == "second":
        return 1.0, spent
    if spent == "minute":
        return 60.0 - now.second - now.microsecond / 1e6 + 0.5, spent
    tomorrow = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    if spent == "day":
        return (tomorrow - now).total_seconds(), spent
    first = dt.datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=dt.UTC)
    return (first - now).total_seconds(), spent
