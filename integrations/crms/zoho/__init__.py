"""Zoho CRM: Accounts, Contacts, Deals, Notes, Calls and Events over REST v8, COQL for the selection's ids.

API v8: https://www.zoho.com/crm/developer/docs/api/v8/
Reads go through Get Records (GET /crm/v8/{module}?fields=...), 200 a page, sorted by Modified_Time, with
`If-Modified-Since` for incremental runs (304 when nothing changed). `page` only reaches the first 2,000
records (DISCRETE_PAGINATION_LIMIT_EXCEEDED, crm-apis.md §7.4): the cursor follows `next_page_token`.
The list API cannot filter, so the selection (account types, filter values) is applied here, by the same
function that answers "Why isn't this customer in Skalin?". The full enumeration behind churn-on-absence
asks COQL for ids only, 2,000 a call, by keyset on id (COQL's offset stops at 100,000).
A deleted account is absent from that enumeration, so it is churned like one that left the types; the
recycle bin (GET /Accounts/deleted) tells "Why isn't this customer in Skalin?" that it was deleted."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

from ...base import (
    CHURN_ON_ABSENCE,
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
from ...http import CrmHttp, bearer
from ...models import ObjectType, SyncMode
from . import dc
from .values import (
    coql_string,
    field_name,
    flatten,
    iso,
    lookup_id,
    normal,
    parse_time,
    selection_excludes,
    type_condition,
    zoho_time,
)

IN, TWO, OUT, OFF = SyncMode.INPUT, SyncMode.TWO_WAYS, SyncMode.OUTPUT, SyncMode.DISABLED
API = "/crm/v8"
PER_PAGE = 200  # Get Records: per_page <= 200
DISCRETE_LIMIT = 2000  # `page` stops here; `page_token` goes on
COQL_LIMIT = 2000  # https://www.zoho.com/crm/developer/docs/api/v8/COQL-Overview.html
# Below this many scope ids, an account's related lists are cheaper than its module's whole listing.
RELATED_LIST_MAX = 10
WON_STAGE = "Closed Won"  # the standard Deals stage (orgs may rename it: crm-apis.md §4.2)
OUTPUT_FIELDS = {"health_score": "Skalin Healthscore", "csm_pulse": "Skalin CSM Pulse"}
PERMANENT_CODES = frozenset(
    {"INVALID_DATA", "MANDATORY_NOT_FOUND", "DUPLICATE_DATA", "NO_PERMISSION", "INVALID_MODULE",
     "INVALID_URL_PATTERN", "REQUIRED_PARAM_MISSING", "SYNTAX_ERROR", "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
     "RECORD_NOT_FOUND", "INVALID_QUERY", "LIMIT_EXCEEDED"}
)  # fmt: skip
FIELD_TYPES = {
    "integer": "number", "bigint": "number", "double": "number", "currency": "number", "decimal": "number",
    "percent": "number", "date": "date", "datetime": "datetime", "boolean": "bool", "picklist": "enumeration",
    "multiselectpicklist": "enumeration", "ownerlookup": "user", "userlookup": "user", "lookup": "reference",
}  # fmt: skip


def zoho_auth(token: str) -> dict[str, str]:
    # https://www.zoho.com/crm/developer/docs/api/v8/oauth-overview.html ("Zoho-oauthtoken", not Bearer)
    return {"Authorization": f"Zoho-oauthtoken {token}"}


class Zoho(Connector):
    key = "zoho"
    label = "Zoho CRM"
    # https://www.zoho.com/accounts/protocol/oauth/web-apps/authorization.html: access_type=offline gives a
    # refresh token on the first consent only, without prompt=consent: a reconnect keeps the one it has
    # (Zoho deletes a user's oldest refresh token when a 21st is minted).
    oauth = OAuthSpec(
        authorize_url_setting="accounts_url",
        authorize_path="/oauth/v2/auth?access_type=offline",
        token_url_setting="accounts_url",
        token_path="/oauth/v2/token",
        scopes=(
            "ZohoCRM.modules.accounts.ALL", "ZohoCRM.modules.contacts.ALL", "ZohoCRM.modules.deals.READ",
            "ZohoCRM.modules.notes.ALL", "ZohoCRM.modules.calls.ALL", "ZohoCRM.modules.events.ALL",
            "ZohoCRM.settings.fields.ALL", "ZohoCRM.settings.modules.READ", "ZohoCRM.users.READ",
            "ZohoCRM.org.READ", "ZohoCRM.coql.READ",
        ),
        client_auth="body",
        base_url_key="api_domain",
        scope_separator=",",
        revoked_errors=("invalid_grant", "invalid_code"),
    )  # fmt: skip
    auth_scheme = "Zoho-oauthtoken"

    @classmethod
    def oauth_callback_token_url(cls, params: dict[str, str]) -> str | None:
        """The callback names the account's data centre (`accounts-server`): only Zoho's own accounts hosts
        are accepted, and the code and every refresh go there."""
        if not params.get("accounts-server"):
            return None
        try:
            return dc.token_url(dc.accounts_server(params["accounts-server"]))
        except dc.UnknownAccountsServer as refused:
            raise ValueError(str(refused)) from refused
    requirements = (
        "A Zoho CRM user allowed to use the API and to create fields (Customize Zoho CRM permission), in an "
        "edition with API access (Standard or above)"
    )
    creates_output_fields = True
    objects = {
        ObjectType.CUSTOMERS: ObjectSpec(
            ObjectType.CUSTOMERS, "Accounts", (IN, TWO, OFF), IN,
            {"name": "Account_Name", "domain": "Website", "ref_id": "@id"},
            doc_url="https://www.zoho.com/crm/developer/docs/api/v8/get-records.html",
        ),
        ObjectType.CONTACTS: ObjectSpec(
            ObjectType.CONTACTS, "Contacts", (IN, TWO, OFF), IN,
            {"email": "Email", "first_name": "First_Name", "last_name": "Last_Name", "phone": "Phone",
             "title": "Title"},
        ),
        ObjectType.AGREEMENTS: ObjectSpec(
            ObjectType.AGREEMENTS, "Deals", (IN, OFF), OFF,
            {"plan_name": "Deal_Name", "amount": "Amount", "start_date": "Closing_Date"},
        ),
        ObjectType.INTERACTIONS: ObjectSpec(ObjectType.INTERACTIONS, "Notes", (IN, TWO, OUT, OFF), OFF),
    }  # fmt: skip
    options = {
        ObjectType.CUSTOMERS: (
            Option("selection.account_types", "Account types", kind="multichoice", choices_from="account_types",
                   help="None chosen: every type."),
            Option("selection.filter_field", "Filter synchronized customers: Zoho field", kind="field",
                   advanced=True),
            Option("selection.filter_values", "Filter values", kind="values", advanced=True,
                   help="One of them for a single-value field; all of them for a multi-value field."),
            CHURN_ON_ABSENCE, PARENT_CHILD, MERGE_KEYS,
        ),
        ObjectType.AGREEMENTS: (
            Option("ref_field", "Zoho field containing the contract's refId", kind="field",
                   help="Deals whose field is empty are not contracts. No field: every deal, by its id."),
            WON_ONLY,
        ),
        ObjectType.INTERACTIONS: (
            Option("kinds", "Interactions to sync", kind="multichoice", default=["meeting", "call", "note"],
                   choices=(("meeting", "Meetings"), ("call", "Calls"), ("note", "Notes"))),
        ),
    }  # fmt: skip
    block_warnings = {
        ObjectType.INTERACTIONS: "Zoho keeps emails per record only: they are not read from Zoho; connect "
        "the mailbox to Skalin for them.",
    }
    BASE_FIELDS = {
        "Accounts": ("Account_Name", "Website", "Account_Type", "Parent_Account", "Owner", "Modified_Time"),
        "Contacts": ("First_Name", "Last_Name", "Email", "Phone", "Title", "Account_Name", "Modified_Time"),
        "Deals": ("Deal_Name", "Stage", "Amount", "Closing_Date", "Account_Name", "Modified_Time"),
        "Notes": ("Note_Title", "Note_Content", "Parent_Id", "Owner", "Created_Time", "Modified_Time"),
        "Calls": ("Subject", "Description", "Call_Type", "Call_Start_Time", "What_Id", "Who_Id", "Owner",
                  "Modified_Time"),
        "Events": ("Event_Title", "Description", "Start_DateTime", "What_Id", "Who_Id", "Owner",
                   "Modified_Time"),
    }  # fmt: skip
    # The lookup tying each module to its Account.
    ACCOUNT_LINK = {"Contacts": "Account_Name", "Deals": "Account_Name"}
    KIND_MODULES = {"note": "Notes", "call": "Calls", "meeting": "Events", "email": "Notes"}

    def __init__(self, http: CrmHttp) -> None:
        super().__init__(http)
        if http.auth_header is bearer:
            http.auth_header = zoho_auth
        self._users: dict[str, str] | None = None

    # -- identity, fields, pickers ----------------------------------------------------------------------
    def identity(self) -> Identity:
        # https://www.zoho.com/crm/developer/docs/api/v8/get-org-data.html, .../get-users.html
        org = (self.http.get(f"{API}/org").get("org") or [{}])[0]
        users = (self.http.get(f"{API}/users", {"type": "CurrentUser"}) or {}).get("users") or [{}]
        return Identity(str(org["id"]), users[0].get("email") or "", users[0].get("full_name") or "")

    def user_emails(self, user_ids: Sequence[str]) -> dict[str, str]:
        if self._users is None:
            self._users, page = {}, 1
            while True:
                body = (
                    self.http.get(f"{API}/users", {"type": "AllUsers", "page": page, "per_page": 200}) or {}
                )
                self._users.update({str(u["id"]): u.get("email") or "" for u in body.get("users") or ()})
                if not (body.get("info") or {}).get("more_records"):
                    break
                page += 1
        return {i: self._users[i] for i in user_ids if self._users.get(i)}

    def _fields_meta(self, module: str) -> list[dict[str, Any]]:
        # https://www.zoho.com/crm/developer/docs/api/v8/field-meta.html
        return list((self.http.get(f"{API}/settings/fields", {"module": module}) or {}).get("fields") or ())

    def list_fields(self, object_type: ObjectType) -> list[CrmField]:
        module = self.objects[object_type].remote_name
        return [
            CrmField(
                name=f["api_name"],
                label=f.get("field_label") or f.get("display_label") or f["api_name"],
                type=FIELD_TYPES.get(f.get("data_type", ""), "string"),
                options=tuple(
                    (str(v.get("actual_value")), str(v.get("display_value") or v.get("actual_value")))
                    for v in f.get("pick_list_values") or ()
                ),
                writable=not (f.get("read_only") or f.get("field_read_only")),
            )
            for f in self._fields_meta(module)
        ]

    def list_choices(self, kind: str) -> list[tuple[str, str]]:
        """Wizard pickers: "account_types" (the Account_Type picklist)."""
        if kind == "account_types":
            for meta in self._fields_meta("Accounts"):
                if meta.get("api_name") == "Account_Type":
                    return [
                        (str(v["actual_value"]), str(v.get("display_value") or v["actual_value"]))
                        for v in meta.get("pick_list_values") or ()
                        if v.get("actual_value") not in (None, "", "-None-")
                    ]
            return []
        raise LookupError(f"Zoho CRM has no choice list {kind!r}.")

    def ensure_output_fields(self) -> dict[str, str]:
        """Create "Skalin Healthscore" and "Skalin CSM Pulse" (integer) once; found by label afterwards.
        https://www.zoho.com/crm/developer/docs/api/v8/create-custom-fields.html"""
        found = self._output_field_names()
        for key, field_label in OUTPUT_FIELDS.items():
            if key in found:
                continue
            body = {"fields": [{"field_label": field_label, "data_type": "integer", "length": 2}]}
            try:
                answer = self.http.post(f"{API}/settings/fields?module=Accounts", body) or {}
            except ConnectorError as error:
                if error.code != "DUPLICATE_DATA":  # made meanwhile: found below
                    raise
                answer = {}
            details = ((answer.get("fields") or [{}])[0].get("details")) or {}
            if details.get("api_name"):
                found[key] = details["api_name"]
        if len(found) < len(OUTPUT_FIELDS):
            found = {**self._output_field_names(), **found}
        missing = [OUTPUT_FIELDS[k] for k in OUTPUT_FIELDS if k not in found]
        if missing:
            raise ConnectorError(f"Zoho did not create the fields {', '.join(missing)}.", permanent=True)
        return found

    def _output_field_names(self) -> dict[str, str]:
        by_label = {
            (f.get("field_label") or f.get("display_label")): f["api_name"]
            for f in self._fields_meta("Accounts")
        }
        return {key: by_label[name] for key, name in OUTPUT_FIELDS.items() if name in by_label}

    # -- "Why isn't this customer in Skalin?" -------------------------------------------------------------
    def find_customers(self, text: str, limit: int = 20) -> list[Record]:
        text = text.strip()
        where = f"Account_Name like {coql_string('%' + text + '%')}"
        if text.isdigit():
            where = f"(id = {coql_string(text)} or {where})"
        query = f"select id, Account_Name, Website, Account_Type, Parent_Account, Modified_Time from Accounts where {where} limit {int(limit)}"
        rows = (self.http.post(f"{API}/coql", {"select_query": query}, idempotent=True) or {}).get(
            "data"
        ) or []
        return [self._customer(row) for row in rows]

    def selection_excludes(self, record: Record, options: dict[str, Any]) -> str | None:
        selection = options.get("selection") or {}
        names = {
            "Account_Type",
            *([field_name(selection["filter_field"])] if selection.get("filter_field") else []),
        }
        body = self.http.get(f"{API}/Accounts/{record.external_id}", {"fields": ",".join(sorted(names))})
        rows = (body or {}).get("data") or []
        if not rows:
            return (
                "It was deleted in Zoho."
                if self.deleted_accounts([record.external_id])
                else "Zoho does not know it."
            )
        return selection_excludes(rows[0], selection)

    def deleted_ids(self, object_type: ObjectType, since: dt.datetime | None) -> list[str]:
        """Deleted accounts, for the engine's tombstones (R8)."""
        return sorted(self.deleted_accounts(since=since)) if object_type == ObjectType.CUSTOMERS else []

    def deleted_accounts(self, ids: Sequence[str] = (), since: dt.datetime | None = None) -> set[str]:
        """Accounts in the recycle bin or deleted for good (GET /Accounts/deleted, 200 a page), optionally
        only those deleted since `since`; restricted to `ids` when given.
        https://www.zoho.com/crm/developer/docs/api/v8/get-deleted-records.html"""
        found: set[str] = set()
        page = 1
        headers = {"If-Modified-Since": zoho_time(since)} if since else {}
        while True:
            params = {"type": "all", "page": page, "per_page": PER_PAGE}
            body = self.http.request("GET", f"{API}/Accounts/deleted", params=params, headers=headers) or {}
            found.update(str(row["id"]) for row in body.get("data") or ())
            if not (body.get("info") or {}).get("more_records") or page * PER_PAGE >= DISCRETE_LIMIT:
                break
            page += 1
        return found & set(ids) if ids else found

    # -- reads ------------------------------------------------------------------------------------------
    def read_page(self, request: ReadRequest) -> Page:
        kind = request.object_type
        if kind == ObjectType.CUSTOMERS:
            if request.ids_only:
                return self._selection_ids(request)
            selection = (request.options or {}).get("selection") or {}
            extra = [field_name(selection["filter_field"])] if selection.get("filter_field") else []
            return self._listing(
                request, ["Accounts"], extra,
                lambda row: None if selection_excludes(row, selection) else self._customer(row),
            )  # fmt: skip
        if kind == ObjectType.CONTACTS:
            return self._listing(request, ["Contacts"], [], self._linked(request, "Contacts"))
        if kind == ObjectType.AGREEMENTS:
            return self._listing(request, ["Deals"], self._agreement_fields(request), self._deal(request))
        if kind == ObjectType.INTERACTIONS:
            kinds = set((request.options or {}).get("kinds") or ("meeting", "call", "note"))
            modules = [
                m for k, m in (("note", "Notes"), ("call", "Calls"), ("meeting", "Events")) if k in kinds
            ]
            return self._listing(request, modules, [], self._interaction(request))
        raise ConnectorError(f"Zoho CRM cannot read {kind}.", permanent=True)

    def _agreement_fields(self, request: ReadRequest) -> list[str]:
        ref = (request.options or {}).get("ref_field") or ""
        return [field_name(ref)] if ref else []

    def _plan(self, request: ReadRequest, modules: list[str]) -> list[tuple[str, str]]:
        """(module, path) listings of a read: each module whole, or an account's related lists when the
        scope is a handful of accounts (the engine's "contacts of customers new to this run")."""
        scope = request.scope_ids
        if scope is not None and len(scope) <= RELATED_LIST_MAX and modules != ["Accounts"]:
            return [(m, f"{API}/Accounts/{account}/{m}") for account in scope for m in modules]
        return [(m, f"{API}/{m}") for m in modules]

    def _listing(
        self,
        request: ReadRequest,
        modules: list[str],
        extra: list[str],
        convert: Callable[[dict[str, Any]], Record | None],
    ) -> Page:
        """One page of a plan of Get Records listings; the cursor is {"i": listing, "page" | "token"}."""
        if request.scope_ids is not None and not request.scope_ids:
            return Page([], None)
        plan = self._plan(request, modules)
        state = json.loads(request.cursor) if request.cursor else {"i": 0}
        index = int(state["i"])
        if index >= len(plan):
            return Page([], None)
        module, path = plan[index]
        names = dict.fromkeys([*self.BASE_FIELDS[module], *extra, *map(field_name, request.fields)])
        params: dict[str, Any] = {"fields": ",".join(names), "per_page": PER_PAGE}
        if "/Accounts/" not in path:  # related lists do not sort
            params.update(sort_by="Modified_Time", sort_order="asc")
        if state.get("token"):
            params["page_token"] = state["token"]
        else:
            params["page"] = int(state.get("page", 1))
        headers = {"If-Modified-Since": zoho_time(request.since)} if request.since else {}
        # 304 (nothing changed since) and 204 (nothing at all) both come back as None.
        body = self.http.request("GET", path, params=params, headers=headers) or {}
        rows = body.get("data") or []
        records = [r for r in (convert({**row, "$module": module}) for row in rows) if r]
        # Rows `convert` drops (outside the scope, not won) still move the cursor past them.
        seen = max(filter(None, (parse_time(row.get("Modified_Time")) for row in rows)), default=None)
        info = body.get("info") or {}
        following: dict[str, Any] | None = None
        if info.get("more_records"):
            if info.get("next_page_token"):
                following = {"i": index, "token": info["next_page_token"]}
            else:
                page = int(info.get("page") or params.get("page") or 1) + 1
                if (page - 1) * PER_PAGE >= DISCRETE_LIMIT:
                    raise ConnectorError(
                        "Zoho sent no page_token past 2,000 records (DISCRETE_PAGINATION_LIMIT_EXCEEDED); "
                        "the listing stopped here and will start over."
                    )
                following = {"i": index, "page": page}
        elif index + 1 < len(plan):
            following = {"i": index + 1}
        return Page(records, json.dumps(following) if following else None, seen=seen)

    def _selection_ids(self, request: ReadRequest) -> Page:
        """Every account id of the selection, by COQL keyset on id (the enumeration behind churn)."""
        selection = (request.options or {}).get("selection") or {}
        filter_field = field_name(selection["filter_field"]) if selection.get("filter_field") else ""
        after = json.loads(request.cursor)["after"] if request.cursor else ""
        where = type_condition([str(t) for t in selection.get("account_types") or () if str(t).strip()])
        if after:
            where += f" and id > {coql_string(after)}"
        select = ", ".join(dict.fromkeys(["id", "Account_Type", *([filter_field] if filter_field else [])]))
        query = f"select {select} from Accounts where {where} order by id asc limit {COQL_LIMIT}"
        body = self.http.post(f"{API}/coql", {"select_query": query}, idempotent=True) or {}
        rows = body.get("data") or []
        records = [Record(str(r["id"]), {}) for r in rows if not selection_excludes(r, selection)]
        more = (body.get("info") or {}).get("more_records") and rows
        return Page(records, json.dumps({"after": str(rows[-1]["id"])}) if more else None)

    # -- records ----------------------------------------------------------------------------------------
    def _customer(self, row: dict[str, Any]) -> Record:
        record = Record(str(row["id"]), self._fields(row), modified_at=parse_time(row.get("Modified_Time")))
        parent = lookup_id(row.get("Parent_Account"))
        if parent:
            record.links["parent"] = [parent]
        return record

    @staticmethod
    def _fields(row: dict[str, Any]) -> dict[str, Any]:
        return flatten({k: v for k, v in row.items() if k != "$module"})

    def _linked(self, request: ReadRequest, module: str) -> Callable[[dict[str, Any]], Record | None]:
        scope = set(request.scope_ids) if request.scope_ids is not None else None
        link = self.ACCOUNT_LINK[module]

        def convert(row: dict[str, Any]) -> Record | None:
            account = lookup_id(row.get(link))
            if scope is not None and account not in scope:
                return None
            record = Record(
                str(row["id"]), self._fields(row), modified_at=parse_time(row.get("Modified_Time"))
            )
            record.links["customers"] = [account] if account else []
            return record

        return convert

    def _deal(self, request: ReadRequest) -> Callable[[dict[str, Any]], Record | None]:
        options = request.options or {}
        ref_field = options.get("ref_field") or ""
        won_only = options.get("won_only", True)
        linked = self._linked(request, "Deals")

        def convert(row: dict[str, Any]) -> Record | None:
            if won_only and row.get("Stage") != WON_STAGE:
                return None
            record = linked(row)
            if record is None or not ref_field:
                return record
            ref = record.fields.get(ref_field)
            if ref in (None, ""):
                return None  # no refId: not a contract
            record.external_id = str(ref)
            return record

        return convert

    def _interaction(self, request: ReadRequest) -> Callable[[dict[str, Any]], Record | None]:
        scope = set(request.scope_ids) if request.scope_ids is not None else None

        def convert(row: dict[str, Any]) -> Record | None:
            module = row["$module"]
            if module == "Notes":
                parent = row.get("Parent_Id") or {}
                parent_module = ((parent.get("module") or {}).get("api_name")) or row.get("$se_module") or ""
            else:
                parent = row.get("What_Id") or {}
                parent_module = row.get("$se_module") or ""
            account = lookup_id(parent) if parent_module == "Accounts" else ""
            if not account or (scope is not None and account not in scope):
                return None
            contact = lookup_id(row.get("Who_Id"))
            kind, fields = self._activity(module, row)
            record = Record(
                str(row["id"]), fields, modified_at=parse_time(row.get("Modified_Time")), kind=kind
            )
            record.links = {"customers": [account], "contacts": [contact] if contact else []}
            return record

        return convert

    @staticmethod
    def _activity(module: str, row: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        author = (row.get("Owner") or {}).get("email") if isinstance(row.get("Owner"), dict) else ""
        if module == "Calls":
            direction = {"Inbound": "incoming", "Outbound": "outgoing"}.get(row.get("Call_Type") or "", "")
            when = iso(row.get("Call_Start_Time"))
            return "call", normal(row.get("Subject"), row.get("Description"), when, direction, author)
        if module == "Events":
            when = iso(row.get("Start_DateTime"))
            return "meeting", normal(row.get("Event_Title"), row.get("Description"), when, "", author)
        when = iso(row.get("Created_Time"))
        return "note", normal(row.get("Note_Title"), row.get("Note_Content"), when, "", author)

    # -- writes -----------------------------------------------------------------------------------------
    def write(
        self,
        object_type: ObjectType,
        external_id: str | None,
        fields: dict[str, Any],
        links: dict[str, list[str]] | None = None,
    ) -> str:
        if object_type in (ObjectType.CUSTOMERS, ObjectType.CONTACTS) and external_id:
            module = self.objects[object_type].remote_name
            values = dict(fields)
            if "Tag" in values:
                self._set_tags(module, external_id, values.pop("Tag"))
            if values:
                # https://www.zoho.com/crm/developer/docs/api/v8/update-specific-record.html
                self._check(self.http.put(f"{API}/{module}/{external_id}", {"data": [values]}))
            return external_id
        if object_type == ObjectType.INTERACTIONS:
            module, body = self._activity_body(fields, links or {})
            if external_id:
                self._check(self.http.put(f"{API}/{module}/{external_id}", {"data": [body]}))
                return external_id
            # https://www.zoho.com/crm/developer/docs/api/v8/insert-records.html (201)
            answer = self._check(self.http.post(f"{API}/{module}", {"data": [body]}))
            return str(answer["details"]["id"])
        return super().write(object_type, external_id, fields, links)

    def _set_tags(self, module: str, record_id: str, value: Any) -> None:
        """The Tag field mirrors the mapped tags: missing ones added, others removed.
        https://www.zoho.com/crm/developer/docs/api/v8/add-tags.html and remove-tags.html"""
        wanted = {
            t.strip()
            for t in (value if isinstance(value, list) else str(value or "").split(";"))
            if t.strip()
        }
        rows = (self.http.get(f"{API}/{module}/{record_id}", {"fields": "Tag"}) or {}).get("data") or [{}]
        current = {str(t.get("name")) for t in rows[0].get("Tag") or ()}
        for action, names in (("add_tags", wanted - current), ("remove_tags", current - wanted)):
            if names:
                body = {"tags": [{"name": n} for n in sorted(names)]}
                self.http.post(f"{API}/{module}/{record_id}/actions/{action}", body, idempotent=True)

    @staticmethod
    def _check(answer: Any) -> dict[str, Any]:
        """Zoho answers each record of a write inside data[] (HTTP 200 even when one is refused)."""
        first = ((answer or {}).get("data") or [{}])[0]
        if first.get("status") != "success":
            code = first.get("code") or ""
            raise ConnectorError(
                f"Zoho CRM refused the write: {code} {first.get('message') or ''} {first.get('details') or ''}".strip(),
                permanent=True,
                code=code,
            )
        return first

    def _activity_body(
        self, fields: dict[str, Any], links: dict[str, list[str]]
    ) -> tuple[str, dict[str, Any]]:
        kind = fields.get("kind") or "note"
        module = self.KIND_MODULES.get(kind, "Notes")
        when = parse_time(fields.get("occurred_at")) or dt.datetime.now(dt.UTC)
        account = (links.get("customers") or [""])[0]
        contact = (links.get("contacts") or [""])[0]
        subject, text = str(fields.get("subject") or "")[:255], str(fields.get("body") or "")
        if module == "Notes":
            body: dict[str, Any] = {"Note_Title": subject, "Note_Content": text}
            if account:
                body["Parent_Id"] = {"module": {"api_name": "Accounts"}, "id": account}
            return module, body
        body = {"Description": text, "$se_module": "Accounts"} if account else {"Description": text}
        if account:
            body["What_Id"] = {"id": account}
        if contact:
            body["Who_Id"] = {"id": contact}
        if module == "Calls":
            direction = {"incoming": "Inbound", "outgoing": "Outbound"}.get(
                fields.get("direction") or "", "Outbound"
            )
            body.update(
                Subject=subject, Call_Type=direction, Call_Start_Time=zoho_time(when), Call_Duration="00:30"
            )
            return module, body
        end = when + dt.timedelta(minutes=int(fields.get("duration_minutes") or 30))
        body.update(Event_Title=subject, Start_DateTime=zoho_time(when), End_DateTime=zoho_time(end))
        return module, body

    def read_back(self, object_type: ObjectType, external_id: str, fields: Sequence[str]) -> dict[str, Any]:
        module = self.objects[object_type].remote_name
        names = ",".join(dict.fromkeys(map(field_name, fields)))
        rows = (self.http.get(f"{API}/{module}/{external_id}", {"fields": names}) or {}).get("data") or [{}]
        flat = flatten(rows[0])
        return {name: flat.get(name) for name in fields}

    # -- errors -----------------------------------------------------------------------------------------
    def error_from_response(self, status: int, body: Any, headers: dict[str, str]) -> ConnectorError:
        """{"code", "details", "message", "status": "error"}, or per record inside data[].
        https://www.zoho.com/crm/developer/docs/api/v8/status-codes.html"""
        first = body if isinstance(body, dict) else {"message": str(body)[:300]}
        if isinstance(first.get("data"), list) and first["data"] and isinstance(first["data"][0], dict):
            first = first["data"][0]
        code = str(first.get("code") or first.get("error") or "")
        message = str(first.get("message") or "")
        details = first.get("details") or ""
        text = f"Zoho CRM answered HTTP {status} {code}: {message} {details}".strip()
        if status == 401 or code in ("INVALID_TOKEN", "AUTHENTICATION_FAILURE", "OAUTH_SCOPE_MISMATCH"):
            return ConnectorError(text, reconnect=True, status=status, code=code)
        if status == 429 or code in ("TOO_MANY_REQUESTS", "LIMIT_REACHED"):
            # Credits are per rolling 24 h; a spent day is not worth waiting for inline.
            wait = 3600.0 if code == "LIMIT_REACHED" else None
            return ConnectorError(text, rate_limited=True, retry_after=wait, status=status, code=code)
        temporary = status >= 500 or status in (408, 423) or code == "RECORD_LOCKED"
        permanent = not temporary and (code in PERMANENT_CODES or 400 <= status < 500)
        return ConnectorError(text, permanent=permanent, status=status, code=code)
