"""The fake Zoho CRM API (the token response's api_domain): /crm/v8/... with Zoho's JSON.

Get Records: https://www.zoho.com/crm/developer/docs/api/v8/get-records.html ("fields" required, per_page
<= 200, `page` up to 2,000 records then DISCRETE_PAGINATION_LIMIT_EXCEEDED, `page_token`, If-Modified-Since
answering 304, 204 when empty). Deleted records, COQL, field metadata and creation, record updates with
per-record results, tags, users and org."""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core import signing
from django.db.models import QuerySet, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from ..common import account_for, json_body, json_response, over_rate_limit, sandbox_only
from ..models import SandboxAccount, SandboxProperty, SandboxRecord, SandboxToken
from . import coql
from .store import (
    CRM,
    ID_BASE,
    ApiError,
    define,
    delete,
    field_defs,
    field_meta,
    parse_stamp,
    public,
    records,
    stamp,
    touch,
)
from .store import create as create_record

PER_PAGE = 200
DISCRETE_LIMIT = 2000
RECORD_MODULES = ("Accounts", "Contacts", "Deals", "Notes", "Calls", "Events")
# The lookup tying a module's records to an Account (related lists).
ACCOUNT_LINK = {"Contacts": "Account_Name", "Deals": "Account_Name", "Notes": "Parent_Id", "Calls": "What_Id",
                "Events": "What_Id"}  # fmt: skip
MANDATORY = {"Accounts": ("Account_Name",), "Contacts": ("Last_Name",), "Deals": ("Deal_Name", "Stage"),
             "Notes": ("Note_Content", "Parent_Id"), "Calls": ("Subject", "Call_Type", "Call_Start_Time"),
             "Events": ("Event_Title", "Start_DateTime", "End_DateTime")}  # fmt: skip
SORTS = {"id": "external_id", "Modified_Time": "updated_at", "Created_Time": "created_at"}
TOKEN_SALT = "sandbox-zoho-page-token"
READ_ONLY = ("id", "Modified_Time", "Created_Time", "Tag")


def api(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Token check (Authorization: Zoho-oauthtoken), rate limit, and ApiError -> Zoho's error body."""

    @sandbox_only
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Zoho-oauthtoken "):
            error = ApiError("AUTHENTICATION_FAILURE", "Authentication failed", status=401)
            return json_response(error.body(), status=401)
        token = SandboxToken.objects.filter(
            crm=CRM, kind=SandboxToken.Kind.ACCESS, value=header.removeprefix("Zoho-oauthtoken ").strip(),
            revoked=False,
        ).first()  # fmt: skip
        if token is None or (token.expires_at is not None and token.expires_at <= timezone.now()):
            return json_response(
                ApiError("INVALID_TOKEN", "invalid oauth token", status=401).body(), status=401
            )
        account = account_for(CRM, token.account_id)
        if over_rate_limit(account, path=request.path):
            error = ApiError("TOO_MANY_REQUESTS", "too many requests continuously", status=429)
            return json_response(error.body(), status=429)
        try:
            return view(request, token, account, *args, **kwargs)
        except ApiError as error:
            return json_response(error.body(), status=error.status)

    return wrapper


def _module(name: str) -> str:
    if name not in RECORD_MODULES:
        raise ApiError(
            "INVALID_MODULE", "the module name given seems to be invalid", details={"module": name}
        )
    return name


def _fields_param(request: HttpRequest, module: str) -> list[str]:
    raw = request.GET.get("fields", "")
    if not raw:
        raise ApiError("REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
                       details={"param": "fields"})  # fmt: skip
    names = [n.strip() for n in raw.split(",") if n.strip()]
    known = field_defs(module)
    for name in names:
        if name not in known and name != "id":
            raise ApiError("INVALID_DATA", "invalid data", details={"api_name": name})
    return names


def _if_modified_since(request: HttpRequest) -> dt.datetime | None:
    value = request.headers.get("If-Modified-Since")
    if not value:
        return None
    when = parse_stamp(value)
    if when is None:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
    if when is None:
        raise ApiError("INVALID_DATA", "invalid If-Modified-Since header", details={"header": value})
    return when


def _info(rows: int, page: int, per_page: int, more: bool, token: str | None, sort: tuple[str, str]) -> dict:
    return {
        "per_page": per_page,
        "count": rows,
        "page": page,
        "sort_by": sort[0],
        "sort_order": sort[1],
        "more_records": more,
        "next_page_token": token,
        "previous_page_token": None,
        "page_token_expiry": (timezone.now() + dt.timedelta(days=1)).isoformat() if token else None,
    }


def _paged(request: HttpRequest, queryset: QuerySet, scope: str, fields: list[str] | None) -> HttpResponse:
    """page / per_page / page_token over a queryset, Zoho's way."""
    try:
        per_page = min(int(request.GET.get("per_page") or PER_PAGE), PER_PAGE)
        page = int(request.GET.get("page") or 1)
    except ValueError:
        raise ApiError("INVALID_DATA", "invalid data", details={"param": "page"}) from None
    sort_by = request.GET.get("sort_by") or "id"
    if sort_by not in SORTS:
        raise ApiError("INVALID_DATA", "invalid data", details={"param_name": "sort_by"})
    order = "desc" if request.GET.get("sort_order") == "desc" else "asc"
    column = SORTS[sort_by]
    queryset = queryset.order_by(f"{'-' if order == 'desc' else ''}{column}", "external_id")
    if request.GET.get("page_token"):
        if request.GET.get("page"):
            raise ApiError("INVALID_DATA", "page and page_token cannot be given together")
        try:
            position = signing.loads(request.GET["page_token"], salt=TOKEN_SALT, max_age=86400)
        except signing.BadSignature:
            raise ApiError("INVALID_DATA", "invalid page_token", details={"param": "page_token"}) from None
        if position["scope"] != scope:
            raise ApiError("INVALID_DATA", "the page_token belongs to another listing")
        offset = position["offset"]
        page = offset // per_page + 1
    else:
        if page * per_page > DISCRETE_LIMIT:
            raise ApiError(
                "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                "Cannot fetch more than 2000 records. Use page_token instead.",
                details={"limit": DISCRETE_LIMIT},
            )
        offset = (page - 1) * per_page
    rows = list(queryset.values_list("properties", flat=True)[offset : offset + per_page + 1])
    more = len(rows) > per_page
    rows = rows[:per_page]
    if not rows:
        return HttpResponse(status=204)
    token = signing.dumps({"scope": scope, "offset": offset + per_page}, salt=TOKEN_SALT) if more else None
    data = [public(row, fields) for row in rows]
    return json_response(
        {"data": data, "info": _info(len(data), page, per_page, more, token, (sort_by, order))}
    )


def _linked_to(queryset: QuerySet, link: str, account_id: str) -> QuerySet:
    text = Cast(KeyTextTransform("id", KeyTextTransform(link, "properties")), output_field=TextField())
    return queryset.alias(_account=text).filter(_account=account_id)


# ---- records --------------------------------------------------------------------------------------------


@api
def module_root(
    request: HttpRequest, token: SandboxToken, account: SandboxAccount, module: str
) -> HttpResponse:
    module = _module(module)
    if request.method == "POST":
        return _create(token, account, module, json_body(request))
    if request.method == "PUT":
        return _update_many(account, module, json_body(request))
    fields = _fields_param(request, module)
    queryset = records(account.account_id, module)
    since = _if_modified_since(request)
    if since is not None:
        queryset = queryset.filter(updated_at__gt=since)
        if not queryset.exists():
            return HttpResponse(status=304)
    scope = (
        f"{account.account_id}:{module}:{since}:{request.GET.get('sort_by')}:{request.GET.get('sort_order')}"
    )
    return _paged(request, queryset, scope, fields)


@api
def related(request: HttpRequest, token: SandboxToken, account: SandboxAccount, module: str, record_id: str,
            related_list: str) -> HttpResponse:  # fmt: skip
    if module != "Accounts" or related_list not in ACCOUNT_LINK:
        raise ApiError(
            "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one", 404
        )
    fields = _fields_param(request, related_list)
    queryset = _linked_to(records(account.account_id, related_list), ACCOUNT_LINK[related_list], record_id)
    since = _if_modified_since(request)
    if since is not None:
        queryset = queryset.filter(updated_at__gt=since)
        if not queryset.exists():
            return HttpResponse(status=304)
    return _paged(request, queryset, f"{account.account_id}:{record_id}:{related_list}:{since}", fields)


@api
def one_record(request: HttpRequest, token: SandboxToken, account: SandboxAccount, module: str,
               record_id: str) -> HttpResponse:  # fmt: skip
    module = _module(module)
    record = records(account.account_id, module).filter(external_id=record_id).first()
    if request.method == "PUT":
        body = json_body(request)
        if record is None:
            raise ApiError(
                "INVALID_DATA", "the related id given seems to be invalid", details={"id": record_id}
            )
        rows = (body or {}).get("data") if isinstance(body, dict) else None
        if not rows or not isinstance(rows[0], dict):
            raise ApiError("INVALID_DATA", "invalid data", details={"expected_data_type": "jsonarray"})
        result = _update(account, module, record, rows[0])
        return json_response({"data": [result]}, status=200 if result["status"] == "success" else 400)
    if request.method == "DELETE":
        if record is None:
            raise ApiError(
                "INVALID_DATA", "the related id given seems to be invalid", details={"id": record_id}
            )
        delete(record, by=_user(account))
        return json_response({"data": [{"code": "SUCCESS", "details": {"id": record_id},
                                        "message": "record deleted", "status": "success"}]})  # fmt: skip
    if record is None:
        return HttpResponse(status=204)
    fields = request.GET.get("fields")
    names = _fields_param(request, module) if fields else None
    return json_response({"data": [public(record.properties, names)]})


def _user(account: SandboxAccount) -> dict[str, Any]:
    user = records(account.account_id, "users").filter(properties__email=account.user_email).first()
    if user is None:
        return {"name": account.user_email, "id": str(ID_BASE + 1)}
    return {"name": user.properties.get("full_name"), "id": user.external_id, "email": account.user_email}


def _coerce(
    module: str, values: dict[str, Any], account: SandboxAccount
) -> tuple[dict[str, Any], dict | None]:
    """Values as stored, or an error entry (INVALID_DATA with the field and expected type)."""
    defs = field_defs(module)
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name in ("id", "$se_module"):
            if name == "$se_module":
                out[name] = value
            continue
        prop = defs.get(name)
        if prop is None or name in READ_ONLY:
            return {}, _failure("INVALID_DATA", "invalid data", {"api_name": name})
        kind = prop.type
        if value in (None, ""):
            out[name] = None
        elif kind in ("integer", "bigint"):
            if isinstance(value, bool) or not re.fullmatch(r"-?\d+(\.0+)?", str(value)):
                return {}, _failure(
                    "INVALID_DATA", "invalid data", {"expected_data_type": kind, "api_name": name}
                )
            out[name] = int(float(value))
        elif kind in ("double", "currency", "decimal", "percent"):
            try:
                out[name] = float(value)
            except (TypeError, ValueError):
                return {}, _failure(
                    "INVALID_DATA", "invalid data", {"expected_data_type": kind, "api_name": name}
                )
        elif kind == "multiselectpicklist":
            out[name] = (
                value if isinstance(value, list) else [v.strip() for v in str(value).split(";") if v.strip()]
            )
        elif kind in ("lookup", "ownerlookup"):
            target = value.get("id") if isinstance(value, dict) else value
            found = SandboxRecord.objects.filter(crm=CRM, external_id=str(target)).first()
            if found is None:
                return {}, _failure("INVALID_DATA", "invalid data", {"api_name": name, "id": str(target)})
            shown = found.properties.get("Account_Name") or found.properties.get("full_name") or ""
            out[name] = {"name": shown, "id": found.external_id}
            if isinstance(value, dict) and "module" in value:
                out[name]["module"] = value["module"]
        else:
            out[name] = value
    return out, None


def _failure(code: str, message: str, details: dict[str, Any]) -> dict[str, Any]:
    return {"code": code, "details": details, "message": message, "status": "error"}


def _success(record: SandboxRecord, account: SandboxAccount, message: str) -> dict[str, Any]:
    by = _user(account)
    return {
        "code": "SUCCESS",
        "details": {"Modified_Time": record.properties.get("Modified_Time"), "Modified_By": by,
                    "Created_Time": record.properties.get("Created_Time"), "id": record.external_id,
                    "Created_By": by},
        "message": message,
        "status": "success",
    }  # fmt: skip


def _update(account: SandboxAccount, module: str, record: SandboxRecord, values: dict[str, Any]) -> dict:
    changes, failure = _coerce(module, values, account)
    if failure:
        return failure
    touch(record, changes)
    return _success(record, account, "record updated")


def _update_many(account: SandboxAccount, module: str, body: Any) -> HttpResponse:
    rows = (body or {}).get("data") if isinstance(body, dict) else None
    if not rows or len(rows) > 100:
        raise ApiError("INVALID_DATA", "invalid data", details={"maximum_length": 100})
    results = []
    for row in rows:
        record = records(account.account_id, module).filter(external_id=str(row.get("id"))).first()
        if record is None:
            results.append(_failure("INVALID_DATA", "the id given seems to be invalid", {"api_name": "id"}))
            continue
        results.append(_update(account, module, record, row))
    return json_response({"data": results})


def _create(token: SandboxToken, account: SandboxAccount, module: str, body: Any) -> HttpResponse:
    rows = (body or {}).get("data") if isinstance(body, dict) else None
    if not rows or not isinstance(rows[0], dict):
        raise ApiError("INVALID_DATA", "invalid data", details={"expected_data_type": "jsonarray"})
    results, created = [], False
    for row in rows[:100]:
        missing = [name for name in MANDATORY[module] if row.get(name) in (None, "")]
        if missing:
            results.append(
                _failure("MANDATORY_NOT_FOUND", "required field not found", {"api_name": missing[0]})
            )
            continue
        values, failure = _coerce(module, row, account)
        if failure:
            results.append(failure)
            continue
        record = create_record(account.account_id, module, values, owner=_user(account))
        results.append(_success(record, account, "record added"))
        created = True
    return json_response({"data": results}, status=201 if created else 400)


@api
def tags(request: HttpRequest, token: SandboxToken, account: SandboxAccount, module: str, record_id: str,
         action: str) -> HttpResponse:  # fmt: skip
    record = records(account.account_id, _module(module)).filter(external_id=record_id).first()
    if request.method != "POST" or action not in ("add_tags", "remove_tags") or record is None:
        raise ApiError(
            "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one", 404
        )
    names = [str(t.get("name")) for t in (json_body(request) or {}).get("tags") or () if t.get("name")]
    current = {t["name"]: t for t in record.properties.get("Tag") or ()}
    if action == "add_tags":
        for name in names:
            current.setdefault(name, {"name": name, "id": str(ID_BASE + 900_000 + abs(hash(name)) % 99_999)})
    else:
        for name in names:
            current.pop(name, None)
    touch(record, {"Tag": list(current.values())})
    details = {"id": record_id, "tags": [t["name"] for t in current.values()]}
    return json_response({"data": [{"code": "SUCCESS", "details": details, "message": "tags updated successfully",
                                    "status": "success"}]})  # fmt: skip


@api
def deleted(request: HttpRequest, token: SandboxToken, account: SandboxAccount, module: str) -> HttpResponse:
    module = _module(module)
    queryset = records(account.account_id, module, deleted=True)
    since = _if_modified_since(request)
    if since is not None:
        queryset = queryset.filter(archived_at__gt=since)
        if not queryset.exists():
            return HttpResponse(status=304)
    response = _paged(request, queryset.order_by("archived_at"), f"deleted:{module}:{since}", None)
    if response.status_code != 200:
        return response
    import json

    body = json.loads(response.content)
    by_id = {r.external_id: r for r in queryset.filter(external_id__in=[row["id"] for row in body["data"]])}
    body["data"] = [
        {
            "id": row["id"],
            "display_name": row.get("Account_Name") or row.get("Deal_Name") or row.get("Last_Name") or "",
            "type": "recycle",
            "deleted_by": by_id[row["id"]].properties.get("_deleted_by") or None,
            "created_by": row.get("Owner"),
            "deleted_time": stamp(by_id[row["id"]].archived_at),
        }
        for row in body["data"]
    ]
    return json_response(body)


@api
def coql_query(request: HttpRequest, token: SandboxToken, account: SandboxAccount) -> HttpResponse:
    body = json_body(request)
    text = body.get("select_query") if isinstance(body, dict) else None
    if request.method != "POST" or not text:
        raise ApiError(
            "INVALID_QUERY", "the query given seems to be invalid", details={"param": "select_query"}
        )
    query = coql.Parser(text).query()
    module = _module(query.module)
    defs = field_defs(module)
    for name in query.fields:
        if name.split(".")[0] not in defs and name != "id":
            raise ApiError("INVALID_QUERY", "invalid column given", details={"column_name": name})
    queryset = records(account.account_id, module)
    needed = query.offset + query.limit + 1
    if query.order and query.order[0] == "id" and not query.order[1]:
        # Streamed in id order: a keyset walk reads only what it returns.
        hits = []
        for row in (
            queryset.order_by("external_id").values_list("properties", flat=True).iterator(chunk_size=2000)
        ):
            if coql.matches(row, query.where):
                hits.append(row)
                if len(hits) >= needed:
                    break
    else:
        hits = [
            row for row in queryset.values_list("properties", flat=True) if coql.matches(row, query.where)
        ]
        if query.order:
            name, descending = query.order
            hits.sort(key=lambda row: coql.sort_key(row, name), reverse=descending)
    window = hits[query.offset : query.offset + query.limit]
    if not window:
        return HttpResponse(status=204)
    more = len(hits) > query.offset + query.limit
    data = [coql.project(row, query.fields) for row in window]
    return json_response({"data": data, "info": {"count": len(data), "more_records": more}})


# ---- settings, users, org --------------------------------------------------------------------------------


@api
def fields(request: HttpRequest, token: SandboxToken, account: SandboxAccount) -> HttpResponse:
    module = _module(request.GET.get("module", ""))
    if request.method == "POST":
        body = json_body(request)
        specs = (body or {}).get("fields") if isinstance(body, dict) else None
        if not specs:
            raise ApiError("INVALID_DATA", "invalid data", details={"expected_data_type": "jsonarray"})
        results = []
        for spec in specs:
            label = str(spec.get("field_label") or "").strip()
            kind = spec.get("data_type") or ""
            if not label or kind not in (
                "text",
                "integer",
                "double",
                "picklist",
                "boolean",
                "date",
                "datetime",
            ):
                raise ApiError("INVALID_DATA", "invalid data", details={"api_name": "data_type"})
            existing = SandboxProperty.objects.filter(crm=CRM, object_type=module, label=label).first()
            if existing is not None:
                raise ApiError("DUPLICATE_DATA", "duplicate data", details={"api_name": existing.name})
            name = re.sub(r"\W+", "_", label).strip("_")
            while name in field_defs(module):
                name += "1"
            prop = define(module, name, label, kind, spec.get("pick_list_values"), custom=True, by_api=True)
            results.append({"code": "SUCCESS", "details": {"id": field_meta(prop)["id"], "api_name": prop.name},
                            "message": "field created", "status": "success"})  # fmt: skip
        return json_response({"fields": results}, status=201)
    return json_response({"fields": [field_meta(p) for p in field_defs(module).values()]})


@api
def users(
    request: HttpRequest, token: SandboxToken, account: SandboxAccount, user_id: str = ""
) -> HttpResponse:
    queryset = records(account.account_id, "users")
    if user_id:
        queryset = queryset.filter(external_id=user_id)
    elif request.GET.get("type") == "CurrentUser":
        queryset = queryset.filter(properties__email=token.user_email)
    rows = [public(p) for p in queryset.order_by("external_id").values_list("properties", flat=True)]
    if not rows:
        return HttpResponse(status=204)
    return json_response({"users": rows, "info": {"per_page": 200, "count": len(rows), "page": 1,
                                                  "more_records": False}})  # fmt: skip


@api
def org(request: HttpRequest, token: SandboxToken, account: SandboxAccount) -> HttpResponse:
    return json_response(
        {"org": [{"id": account.account_id, "company_name": "Sandbox SaaS Ltd", "primary_email": account.user_email,
                  "time_zone": "Europe/Paris", "currency": "EUR", "zgid": f"7{account.account_id}",
                  "domain_name": f"org{account.account_id}"}]}
    )  # fmt: skip
