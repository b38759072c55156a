"""Salesforce: Accounts, Contacts, won Opportunities or Contracts, and activities, over REST and SOQL.

REST API guide: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/
SOQL: https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/

Reads are SOQL queries followed through `nextRecordsUrl` until `done`. A read is a plan of queries (one per
object and per chunk of scope ids); the page cursor is {"q": query index, "n": plan size, "next": url}.

The Account selection is a list view. Its describe gives the view's SOQL; when that SOQL has the plain shape
`SELECT ... FROM Account [USING SCOPE s] [WHERE cond] [ORDER BY ...] [LIMIT n]`, its WHERE is reused inside
our own query (in parentheses, ANDed with SystemModstamp), so an incremental read asks only for changes. Any
other shape is not rewritten: the view's ids are read from its results (limit 2000 + offset) and intersected
with the records of a plain query, which always works but reads the whole view each run."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings

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
from ..http import CrmHttp
from ..models import ObjectType, SyncMode

IN, TWO, OUT, OFF = SyncMode.INPUT, SyncMode.TWO_WAYS, SyncMode.OUTPUT, SyncMode.DISABLED
FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*")
# Keep query URLs well under the ~16 KB Salesforce accepts for a GET.
MAX_QUERY_URL = 15_000
# Sforce-Limit-Info: api-usage=18/5000
# https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_api_usage.htm
API_USAGE = re.compile(r"(?<![\w-])api-usage=(\d+)/(\d+)")
# Codes worth another try later.
# https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm
TEMPORARY_CODES = frozenset(
    {"QUERY_TIMEOUT", "UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "INVALID_QUERY_LOCATOR"}
)
# USING SCOPE values SOQL knows.
# https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_using_scope.htm
SCOPES = frozenset(
    {"delegated", "everything", "mine", "mine_and_my_groups", "my_territory", "my_team_territory", "team"}
)
DESCRIBE_TYPES = {
    "double": "number", "currency": "number", "int": "number", "percent": "number", "long": "number",
    "date": "date", "datetime": "datetime", "boolean": "bool", "picklist": "enumeration",
    "multipicklist": "enumeration", "reference": "reference",
}  # fmt: skip


def soql_string(value: str, *, like: bool = False) -> str:
    """A quoted SOQL literal; escapes:
    https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_quotedstringescapes.htm"""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    if like:
        escaped = escaped.replace("%", "\\%").replace("_", "\\_")
    return f"'{escaped}'"


def soql_datetime(when: dt.datetime) -> str:
    """Datetimes are unquoted, in UTC: 2026-01-02T03:04:05Z."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(value: Any) -> dt.datetime | None:
    """Salesforce sends 2024-05-01T10:00:00.000+0000 for datetimes and 2024-05-01 for dates."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(dt.UTC) if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def iso(value: Any) -> str:
    parsed = parse_datetime(value)
    return parsed.isoformat().replace("+00:00", "Z") if parsed else ""


def list_view_filter(query: str, sobject: str) -> tuple[str, str] | None:
    """(scope, where) of a list view's SOQL, or None when its shape is not one we can safely reuse."""
    masked = _mask(query)
    if masked is None:
        return None
    shape = re.fullmatch(
        r"\s*SELECT\s.+?\sFROM\s+(\w+)(?:\s+USING\s+SCOPE\s+(\w+))?(?:\s+WHERE\s+(.+?))?"
        r"(?:\s+ORDER\s+BY\s+[\w\s,.()]+?)?(?:\s+LIMIT\s+\d+)?\s*",
        masked,
        re.IGNORECASE | re.DOTALL,
    )
    if shape is None or shape[1].lower() != sobject.lower():
        return None
    if shape[2] and shape[2].lower() not in SCOPES:
        return None
    where = query[shape.start(3) : shape.end(3)].strip() if shape[3] else ""
    return shape[2] or "", where


def _mask(query: str) -> str | None:
    """The query with string contents and parenthesised text blanked, so only top-level keywords remain;
    None when quotes or parentheses do not balance."""
    out, depth, index = [], 0, 0
    while index < len(query):
        char = query[index]
        if char == "'":
            end = index + 1
            while end < len(query) and query[end] != "'":
                end += 2 if query[end] == "\\" else 1
            if end >= len(query):
                return None
            out.append("'" + "_" * (end - index - 1) + "'")
            index = end + 1
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return None
        out.append(char if depth == 0 or char == "(" and depth == 1 else "_")
        index += 1
    return "".join(out) if depth == 0 else None


def chunks(ids: Sequence[str], budget: int) -> Iterable[list[str]]:
    """Ids in groups whose encoded `'id',` list stays within `budget` URL characters."""
    group: list[str] = []
    used = 0
    for external_id in ids:
        cost = len(quote(soql_string(external_id) + ",", safe=""))
        if group and used + cost > budget:
            yield group
            group, used = [], 0
        group.append(external_id)
        used += cost
    if group:
        yield group


class Salesforce(Connector):
    key = "salesforce"
    label = "Salesforce"
    # https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_web_server_flow.htm (PKCE supported)
    oauth = OAuthSpec(
        authorize_url_setting="login_url",
        authorize_path="/services/oauth2/authorize",
        token_url_setting="login_url",
        token_path="/services/oauth2/token",
        scopes=("api", "refresh_token"),
        pkce=True,
        client_auth="body",
        base_url_key="instance_url",
    )
    requirements = "API access rights on your Salesforce user (API Enabled permission)"
    objects = {
        ObjectType.CUSTOMERS: ObjectSpec(
            ObjectType.CUSTOMERS,
            "Account",
            (IN, TWO, OFF),
            IN,
            {"name": "Name", "domain": "Website", "ref_id": "Id"},
        ),
        ObjectType.CONTACTS: ObjectSpec(
            ObjectType.CONTACTS,
            "Contact",
            (IN, TWO, OFF),
            IN,
            {
                "email": "Email",
                "first_name": "FirstName",
                "last_name": "LastName",
                "phone": "Phone",
                "title": "Title",
            },
        ),
        ObjectType.AGREEMENTS: ObjectSpec(
            ObjectType.AGREEMENTS,
            "Opportunity",
            (IN, OFF),
            OFF,
            {"plan_name": "Name", "amount": "Amount", "start_date": "CloseDate"},
        ),
        ObjectType.INTERACTIONS: ObjectSpec(ObjectType.INTERACTIONS, "Task", (IN, TWO, OUT, OFF), OFF),
    }
    # The wizard's options (product.md §3): everything starts from an Account list view.
    options = {
        ObjectType.CUSTOMERS: (
            Option("selection.list_view_id", "Account view", kind="choice", choices_from="account_list_views",
                   help="The view holding every account Skalin should see, usually your active customers."),
            CHURN_ON_ABSENCE, PARENT_CHILD, MERGE_KEYS,
        ),
        ObjectType.CONTACTS: (
            Option("contact_list_view_id", "Contact view", kind="choice", choices_from="contact_list_views",
                   help="No view: every contact of the synced accounts."),
        ),
        ObjectType.AGREEMENTS: (
            Option("object", "Salesforce object", kind="choice", default="Opportunity",
                   choices=(("Opportunity", "Opportunities"), ("Contract", "Contracts"))),
            Option("pipelines", "Record types (sales processes)", kind="multichoice", choices_from="pipelines",
                   help="None chosen: all."),
            WON_ONLY,
        ),
        ObjectType.INTERACTIONS: (INTERACTION_KINDS,),
    }  # fmt: skip
    block_warnings = {
        ObjectType.INTERACTIONS: "Salesforce does not keep the meeting ids of Google or Microsoft calendars: "
        "leave Meetings off if a calendar is already connected, or meetings will appear twice.",
    }
    # What each read selects besides the mapped fields (object reference:
    # https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/).
    BASE_FIELDS = {
        sobject: tuple(names.split())
        for sobject, names in {
            "Account": "Id Name Website ParentId SystemModstamp",
            "Contact": "Id FirstName LastName Email Phone Title AccountId SystemModstamp",
            "Opportunity": "Id Name AccountId Amount CloseDate StageName IsWon SystemModstamp",
            "Contract": "Id ContractNumber AccountId StartDate EndDate ContractTerm Status SystemModstamp",
            "Task": "Id Subject Description ActivityDate TaskSubtype CallType WhatId WhoId AccountId OwnerId "
            "CreatedDate SystemModstamp",
            "Event": "Id Subject Description StartDateTime WhatId WhoId AccountId OwnerId SystemModstamp",
            "EmailMessage": "Id Subject TextBody MessageDate Incoming FromAddress RelatedToId SystemModstamp",
            "Note": "Id Title Body ParentId OwnerId CreatedDate SystemModstamp",
        }.items()
    }
    # The field tying each object to its Account.
    ACCOUNT_LINK = {
        "Account": "Id",
        "Contact": "AccountId",
        "Opportunity": "AccountId",
        "Contract": "AccountId",
        "Task": "AccountId",
        "Event": "AccountId",
        "EmailMessage": "RelatedToId",
        "Note": "ParentId",
    }
    # Task subtypes per Skalin kind (Task.TaskSubtype in the object reference).
    TASK_SUBTYPES = {"email": "Email", "call": "Call", "note": "Task"}

    def __init__(self, http: CrmHttp) -> None:
        super().__init__(http)
        # The seam returns bodies only; the usage header is read off each response as it passes.
        self.api_usage: tuple[int, int] | None = None
        http.session.hooks.setdefault("response", []).append(self._note_api_usage)
        # Per run (one connector serves one run): list view filters and ids, owners' emails.
        self._view_filters: dict[tuple[str, str], tuple[str, str] | None] = {}
        self._view_ids: dict[str, set[str]] = {}
        self._user_emails: dict[str, str] = {}

    def _note_api_usage(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        match = API_USAGE.search(response.headers.get("Sforce-Limit-Info", ""))
        if match:
            self.api_usage = (int(match[1]), int(match[2]))

    @staticmethod
    def path(rest: str) -> str:
        return f"/services/data/{settings.CRM_SETTINGS['salesforce']['api_version']}/{rest}"

    # -- identity, fields, pickers -------------------------------------------------------------------------
    def identity(self) -> Identity:
        # https://help.salesforce.com/s/articleView?id=sf.remoteaccess_using_userinfo_endpoint.htm
        info = self.http.get("/services/oauth2/userinfo")
        return Identity(str(info["organization_id"]), info.get("email") or "", info.get("name") or "")

    def user_emails(self, user_ids: Sequence[str]) -> dict[str, str]:
        # A User reference field (OwnerId, CSM__c) holds 005... ids.
        self._load_user_emails({i for i in user_ids if i})
        return {i: self._user_emails[i] for i in user_ids if self._user_emails.get(i)}

    def list_fields(self, object_type: ObjectType) -> list[CrmField]:
        describe = self.http.get(self.path(f"sobjects/{self.objects[object_type].remote_name}/describe"))
        return [
            CrmField(
                name=field["name"],
                label=field.get("label") or field["name"],
                type="user"
                if field.get("referenceTo") == ["User"]
                else DESCRIBE_TYPES.get(field["type"], "string"),
                options=tuple(
                    (value["value"], value.get("label") or value["value"])
                    for value in field.get("picklistValues") or ()
                    if value.get("active", True)
                ),
                writable=bool(field.get("updateable")),
            )
            for field in describe["fields"]
        ]

    def list_choices(self, kind: str) -> list[tuple[str, str]]:
        """Wizard pickers: "account_list_views", "contact_list_views", "pipelines" (Opportunity record types)."""
        if kind in ("account_list_views", "contact_list_views"):
            sobject = "Account" if kind == "account_list_views" else "Contact"
            data = self.http.get(self.path(f"sobjects/{sobject}/listviews"))
            views = list(data.get("listviews") or [])
            while data.get("nextRecordsUrl"):
                data = self.http.get(data["nextRecordsUrl"])
                views.extend(data.get("listviews") or [])
            return [(view["id"], view["label"]) for view in views]
        if kind == "pipelines":
            soql = "SELECT Id, Name FROM RecordType WHERE SobjectType = 'Opportunity' AND IsActive = true"
            return [(row["Id"], row["Name"]) for row in self._query_all(soql)]
        raise LookupError(f"Salesforce has no choice list {kind!r}.")

    def find_customers(self, text: str, limit: int = 20) -> list[Record]:
        """Accounts whose id is `text` or whose name contains it, for "Why isn't this customer in Skalin?"."""
        pattern = soql_string(text, like=True)[1:-1]
        where = f"Name LIKE '%{pattern}%'"
        if re.fullmatch(r"[a-zA-Z0-9]{15}|[a-zA-Z0-9]{18}", text.strip()):
            where = f"Id = {soql_string(text.strip())} OR {where}"
        soql = f"SELECT Id, Name, Website, ParentId, SystemModstamp FROM Account WHERE {where} ORDER BY Name LIMIT {int(limit)}"
        return [self._record(row, ObjectType.CUSTOMERS) for row in self._query_all(soql)]

    def selection_excludes(self, record: Record, options: dict[str, Any]) -> str | None:
        view_id = (options.get("selection") or {}).get("list_view_id") or ""
        if not view_id:
            return None  # no view: every account
        found = self._view_where("Account", view_id)
        if found is None:
            if record.external_id in self._view_member_ids("Account", view_id):
                return None
        else:
            scope, where = found
            request = ReadRequest(
                object_type=ObjectType.CUSTOMERS, since=None, cursor=None, options=options, ids_only=True
            )
            conditions = [f"({where})"] if where else []
            soql = self._soql(
                "Account", request, [*conditions, f"Id = {soql_string(record.external_id)}"], scope
            )
            if self._query_all(soql):
                return None
        labels = dict(self.list_choices("account_list_views"))
        return f"It is not in the Account view '{labels.get(view_id, view_id)}' chosen for the sync."

    # -- reads -------------------------------------------------------------------------------------------
    def read_page(self, request: ReadRequest) -> Page:
        # Cursor: {"q": query index, "n": plan size, "next": nextRecordsUrl, "x": intersect with view ids}.
        state = json.loads(request.cursor) if request.cursor else {"q": 0}
        plan: list[str] | None = None
        seen: dt.datetime | None = None  # rows left out of the list view move the cursor too (Page.seen)
        while True:
            if state.get("next"):
                data = self.http.get(state["next"])
            else:
                if plan is None:
                    plan, state["x"] = self._plan(request)
                    state["n"] = len(plan)
                if state["q"] >= len(plan):
                    return Page([], None, seen=seen)
                data = self.http.get(self.path("query"), {"q": plan[state["q"]]})
            rows = data.get("records") or []
            seen = max(
                filter(None, [seen, *(parse_datetime(row.get("SystemModstamp")) for row in rows)]),
                default=None,
            )
            if state.get("x"):
                allowed = self._view_member_ids(*self._view_of(request))
                rows = [row for row in rows if row.get("Id") in allowed]
            records = self._records(rows, request.object_type)
            if not data.get("done", True) and data.get("nextRecordsUrl"):
                state = {**state, "next": data["nextRecordsUrl"]}
            elif state["q"] + 1 < state["n"]:
                state = {"q": state["q"] + 1, "n": state["n"], "x": state.get("x")}
            else:
                return Page(records, None, seen=seen)
            if records:
                return Page(records, json.dumps(state), seen=seen)

    @staticmethod
    def _view_of(request: ReadRequest) -> tuple[str, str]:
        """(object, list view id) restricting this read; the id is "" when there is none."""
        options = request.options or {}
        if request.object_type == ObjectType.CUSTOMERS:
            return "Account", (options.get("selection") or {}).get("list_view_id") or ""
        if request.object_type == ObjectType.CONTACTS:
            return "Contact", options.get("contact_list_view_id") or ""
        if request.object_type == ObjectType.AGREEMENTS:
            return options.get("object") or "Opportunity", options.get("list_view_id") or ""
        return "", ""

    def _plan(self, request: ReadRequest) -> tuple[list[str], bool]:
        """The SOQL queries of a read, and whether their rows must be intersected with a list view's ids."""
        options, kind = request.options or {}, request.object_type
        sobject, view_id = self._view_of(request)
        scope, conditions, intersect = "", [], False
        if view_id:
            found = self._view_where(sobject, view_id)
            if found is None:
                intersect = True
            else:
                scope, where = found
                conditions = [f"({where})"] if where else []
        if kind == ObjectType.CUSTOMERS:
            return [self._soql("Account", request, conditions, scope)], intersect
        if kind == ObjectType.CONTACTS:
            return self._scoped("Contact", request, conditions, scope), intersect
        if kind == ObjectType.AGREEMENTS:
            if sobject == "Opportunity":
                if options.get("won_only", True):
                    conditions.append("IsWon = true")
                if options.get("pipelines"):
                    conditions.append(
                        f"RecordTypeId IN ({', '.join(soql_string(p) for p in options['pipelines'])})"
                    )
            if sobject not in self.ACCOUNT_LINK:
                raise ConnectorError(
                    f"Salesforce agreements cannot be read from {sobject!r}.", permanent=True
                )
            return self._scoped(sobject, request, conditions, scope), intersect
        if kind == ObjectType.INTERACTIONS:
            kinds = set(options.get("kinds") or ("email", "meeting", "call", "note"))
            plan: list[str] = []
            subtypes = [soql_string(self.TASK_SUBTYPES[k]) for k in ("email", "call", "note") if k in kinds]
            if subtypes:
                plan += self._scoped("Task", request, [f"TaskSubtype IN ({', '.join(subtypes)})"])
            if "meeting" in kinds:
                plan += self._scoped("Event", request, [])
            if "email" in kinds:
                # Enhanced Email also logs each message as a Task (ActivityId): read those once, as Tasks.
                plan += self._scoped("EmailMessage", request, ["ActivityId = null"])
            if "note" in kinds:
                plan += self._scoped("Note", request, [])
            return plan, False
        raise ConnectorError(f"Salesforce cannot read {kind}.", permanent=True)

    def _fields(self, sobject: str, request: ReadRequest) -> list[str]:
        names: dict[str, str] = {}
        for name in (*self.BASE_FIELDS[sobject], *request.fields):
            if not FIELD_NAME.fullmatch(name):
                raise ConnectorError(f"{name!r} is not a Salesforce field name.", permanent=True)
            names.setdefault(name.lower(), name)  # SOQL refuses a field selected twice
        return list(names.values())

    def _soql(self, sobject: str, request: ReadRequest, conditions: Sequence[str], scope: str = "") -> str:
        conditions = list(conditions)
        incremental = request.since is not None and not request.ids_only
        if request.since is not None and incremental:
            conditions.append(f"SystemModstamp >= {soql_datetime(request.since)}")
        soql = f"SELECT {', '.join(self._fields(sobject, request))} FROM {sobject}"
        if scope:
            soql += f" USING SCOPE {scope}"
        if conditions:
            soql += " WHERE " + " AND ".join(conditions)
        # Sorting a large scan risks QUERY_TIMEOUT (crm-apis.md §7): only incremental reads, small, are sorted.
        return soql + (" ORDER BY SystemModstamp" if incremental else "")

    def _scoped(
        self, sobject: str, request: ReadRequest, conditions: Sequence[str], scope: str = ""
    ) -> list[str]:
        """One query per chunk of scope ids (None: not scoped; empty: nothing to read)."""
        if request.scope_ids is None:
            return [self._soql(sobject, request, conditions, scope)]
        link = self.ACCOUNT_LINK[sobject]
        base = self._soql(sobject, request, [*conditions, f"{link} IN (@ids)"], scope)
        budget = MAX_QUERY_URL - len(self.http.base_url) - len(quote(base, safe="")) - 100
        return [
            base.replace("@ids", ", ".join(soql_string(i) for i in group))
            for group in chunks(request.scope_ids, budget)
        ]

    def _view_where(self, sobject: str, view_id: str) -> tuple[str, str] | None:
        # https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_listviewdescribe.htm
        if (sobject, view_id) not in self._view_filters:
            path = self.path(f"sobjects/{sobject}/listviews/{quote(view_id, safe='')}/describe")
            query = self.http.get(path).get("query") or ""
            self._view_filters[sobject, view_id] = list_view_filter(query, sobject)
        return self._view_filters[sobject, view_id]

    def _view_member_ids(self, sobject: str, view_id: str) -> set[str]:
        """Every id a list view shows, read once per connector from its results, 2000 at a time."""
        # https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_listviewresults.htm
        if view_id not in self._view_ids:
            path = self.path(f"sobjects/{sobject}/listviews/{quote(view_id, safe='')}/results")
            ids: set[str] = set()
            while True:
                page = self.http.get(path, {"limit": 2000, "offset": len(ids)})
                rows = page.get("records") or []
                for row in rows:
                    ids.update(c["value"] for c in row.get("columns", ()) if c.get("fieldNameOrPath") == "Id")
                if page.get("done", True) or not rows:
                    break
            self._view_ids[view_id] = ids
        return self._view_ids[view_id]

    def deleted_ids(self, object_type: ObjectType, since: dt.datetime | None) -> list[str]:
        # queryAll also returns deleted rows (crm-apis.md §2.3); the recycle bin keeps them about 15 days.
        if object_type != ObjectType.CUSTOMERS:
            return []
        soql = "SELECT Id FROM Account WHERE IsDeleted = true"
        if since is not None:
            soql += f" AND SystemModstamp >= {soql_datetime(since)}"
        return [str(row["Id"]) for row in self._query_all(soql, endpoint="queryAll")]

    def _query_all(self, soql: str, endpoint: str = "query") -> list[dict]:
        data = self.http.get(self.path(endpoint), {"q": soql})
        rows = list(data.get("records") or [])
        while not data.get("done", True) and data.get("nextRecordsUrl"):
            data = self.http.get(data["nextRecordsUrl"])
            rows.extend(data.get("records") or [])
        return rows

    # -- records ------------------------------------------------------------------------------------------
    def _records(self, rows: list[dict], object_type: ObjectType) -> list[Record]:
        if object_type == ObjectType.INTERACTIONS:
            self._load_user_emails({row["OwnerId"] for row in rows if row.get("OwnerId")})
        return [self._record(row, object_type) for row in rows]

    def _record(self, row: dict, object_type: ObjectType) -> Record:
        sobject = (row.get("attributes") or {}).get("type", "")
        fields = {name: value for name, value in _flatten(row).items()}
        record = Record(str(row["Id"]), fields, modified_at=parse_datetime(row.get("SystemModstamp")))
        account = row.get(self.ACCOUNT_LINK.get(sobject, "AccountId"))
        if object_type == ObjectType.CUSTOMERS:
            if row.get("ParentId"):
                record.links["parent"] = [row["ParentId"]]
        elif object_type == ObjectType.INTERACTIONS:
            record.kind, record.fields = self._activity(sobject, row)
            record.links = {"customers": [account] if account else [], "contacts": []}
            if str(row.get("WhoId") or "").startswith("003"):
                record.links["contacts"] = [row["WhoId"]]
        elif account:
            record.links["customers"] = [account]
        return record

    def _activity(self, sobject: str, row: dict) -> tuple[str, dict[str, Any]]:
        """Task / Event / EmailMessage / Note as Skalin's subject, body, occurred_at, direction, author_email."""
        author = self._user_emails.get(row.get("OwnerId") or "", "")
        if sobject == "Task":
            kind = {"Email": "email", "Call": "call"}.get(row.get("TaskSubtype") or "", "note")
            direction = {"Inbound": "incoming", "Outbound": "outgoing"}.get(row.get("CallType") or "", "")
            when = iso(row.get("ActivityDate")) or iso(row.get("CreatedDate"))
            return kind, _normal(row.get("Subject"), row.get("Description"), when, direction, author)
        if sobject == "Event":
            return "meeting", _normal(
                row.get("Subject"), row.get("Description"), iso(row.get("StartDateTime")), "", author
            )
        if sobject == "EmailMessage":
            direction = "incoming" if row.get("Incoming") else "outgoing"
            fields = _normal(
                row.get("Subject"),
                row.get("TextBody"),
                iso(row.get("MessageDate")),
                direction,
                row.get("FromAddress") or "",
            )
            return "email", fields
        return "note", _normal(row.get("Title"), row.get("Body"), iso(row.get("CreatedDate")), "", author)

    def _load_user_emails(self, user_ids: set[str]) -> None:
        missing = sorted(user_ids - self._user_emails.keys())
        for group in chunks(missing, 10_000):
            soql = f"SELECT Id, Email FROM User WHERE Id IN ({', '.join(soql_string(i) for i in group)})"
            self._user_emails.update({row["Id"]: row.get("Email") or "" for row in self._query_all(soql)})
        self._user_emails.update({user_id: "" for user_id in missing if user_id not in self._user_emails})

    # -- writes -------------------------------------------------------------------------------------------
    def write(
        self,
        object_type: ObjectType,
        external_id: str | None,
        fields: dict[str, Any],
        links: dict[str, list[str]] | None = None,
    ) -> str:
        if object_type in (ObjectType.CUSTOMERS, ObjectType.CONTACTS) and external_id:
            # https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_update_fields.htm (204)
            self.http.patch(
                self.path(f"sobjects/{self.objects[object_type].remote_name}/{external_id}"), fields
            )
            return external_id
        if object_type == ObjectType.INTERACTIONS:
            sobject, body = self._activity_body(fields, links or {})
            if external_id:
                body = {k: v for k, v in body.items() if k != "TaskSubtype"}  # set on create only
                sobject = "Event" if external_id.startswith("00U") else "Task"  # key prefixes
                self.http.patch(self.path(f"sobjects/{sobject}/{external_id}"), body)
                return external_id
            # https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_sobject_create.htm (201)
            created = self.http.post(self.path(f"sobjects/{sobject}"), body)
            if not created or not created.get("success"):
                raise ConnectorError(f"Salesforce did not create the {sobject}: {created}", permanent=True)
            return str(created["id"])
        return super().write(object_type, external_id, fields, links)

    @classmethod
    def _activity_body(
        cls, fields: dict[str, Any], links: dict[str, list[str]]
    ) -> tuple[str, dict[str, Any]]:
        kind = fields.get("kind") or "note"
        when = parse_datetime(fields.get("occurred_at")) or dt.datetime.now(dt.UTC)
        body: dict[str, Any] = {
            "Subject": str(fields.get("subject") or "")[:255],
            "Description": str(fields.get("body") or "")[:32000],
        }
        if links.get("customers"):
            body["WhatId"] = links["customers"][0]
        if links.get("contacts"):
            body["WhoId"] = links["contacts"][0]
        if kind == "meeting":
            body["StartDateTime"] = soql_datetime(when)
            body["DurationInMinutes"] = int(fields.get("duration_minutes") or 30)
            return "Event", body
        body.update(
            ActivityDate=when.date().isoformat(),
            Status="Completed",
            TaskSubtype=cls.TASK_SUBTYPES.get(kind, "Task"),
        )
        if kind == "call" and fields.get("direction") in ("incoming", "outgoing"):
            body["CallType"] = "Inbound" if fields["direction"] == "incoming" else "Outbound"
        return "Task", body

    def read_back(self, object_type: ObjectType, external_id: str, fields: Sequence[str]) -> dict[str, Any]:
        sobject = (
            self.objects[object_type].remote_name
            if object_type != ObjectType.INTERACTIONS
            else ("Event" if external_id.startswith("00U") else "Task")
        )
        data = self.http.get(self.path(f"sobjects/{sobject}/{external_id}"), {"fields": ",".join(fields)})
        return {name: (data or {}).get(name) for name in fields}

    # -- errors -------------------------------------------------------------------------------------------
    def error_from_response(self, status: int, body: Any, headers: dict[str, str]) -> ConnectorError:
        """Errors come as arrays: [{"message", "errorCode", "fields"}]; OAuth ones as {"error", "error_description"}."""
        first = body[0] if isinstance(body, list) and body and isinstance(body[0], dict) else body
        first = first if isinstance(first, dict) else {"message": str(body)[:300]}
        code = str(first.get("errorCode") or first.get("error") or "")
        message = str(first.get("message") or first.get("error_description") or "")
        text = f"Salesforce answered HTTP {status} {code}: {message}".strip()
        if status == 401 or code == "INVALID_SESSION_ID":
            return ConnectorError(text, reconnect=True, status=status, code=code)
        if code == "REQUEST_LIMIT_EXCEEDED":
            # The daily allocation is a rolling 24 h: retry in an hour; concurrency limits clear sooner.
            wait = 60.0 if "concurrent" in message.lower() else 3600.0
            return ConnectorError(text, rate_limited=True, retry_after=wait, status=status, code=code)
        temporary = status >= 500 or status in (408, 429) or code in TEMPORARY_CODES
        return ConnectorError(text, permanent=not temporary, status=status, code=code)


def _flatten(row: dict, prefix: str = "") -> dict[str, Any]:
    """Raw values by field path (Owner.Email for relationship fields), without the `attributes` blocks."""
    out: dict[str, Any] = {}
    for name, value in row.items():
        if name == "attributes":
            continue
        if isinstance(value, dict) and "attributes" in value:
            out.update(_flatten(value, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = value
    return out


def _normal(subject: Any, body: Any, occurred_at: str, direction: str, author: str) -> dict[str, Any]:
    return {
        "subject": subject or "",
        "body": body or "",
        "occurred_at": occurred_at,
        "direction": direction,
        "author_email": author or "",
    }
