"""The fake org's instance_url: REST API resources under /services/data/vXX.X/.

REST API guide: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/
Errors are arrays: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm
Limits header: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_api_usage.htm"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse

from ..common import (
    account_for,
    bearer_token,
    json_body,
    json_response,
    over_daily_limit,
    over_rate_limit,
    sandbox_only,
)
from ..models import SandboxAccount
from . import soql, store
from .oauth import instance_url, login_url
from .schema import CRM, LABELS, PREFIXES, Org, fields_of, parse_datetime

VERSION = re.compile(r"v(\d{2})\.0")
SUPPORTED_VERSIONS = range(31, 63)
# What an Enterprise org gets per 24 h before licences (the header's denominator when no limit is set).
DEFAULT_ALLOCATION = 100_000


def sf_error(code: str, message: str, status: int = 400, fields: tuple[str, ...] = ()) -> HttpResponse:
    return json_response([{"message": message, "errorCode": code, "fields": list(fields)}], status=status)


def no_content() -> HttpResponse:
    return HttpResponse(status=204)


# Calls of accounts without a daily limit, counted in memory for the Sforce-Limit-Info header: a read must not
# write to the database (a plan holding a transaction on SQLite would lock the sandbox out).
_UNLIMITED_CALLS: Counter[str] = Counter()


def _count_call(account: SandboxAccount) -> bool:
    """Count the call against the daily allocation; True when it is spent."""
    if account.daily_limit:
        return over_daily_limit(account)
    _UNLIMITED_CALLS[account.account_id] += 1
    account.calls_today += _UNLIMITED_CALLS[account.account_id]
    return False


def api(*methods: str) -> Callable[..., Callable[..., HttpResponse]]:
    """Token check, daily allocation, method and version checks, error arrays, Sforce-Limit-Info."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @sandbox_only
        @wraps(view)
        def wrapper(request: HttpRequest, version: str = "v60.0", **kwargs: Any) -> HttpResponse:
            token = bearer_token(request, CRM)
            if token is None:
                return sf_error("INVALID_SESSION_ID", "Session expired or invalid", status=401)
            account = account_for(CRM, token.account_id)
            too_fast = over_rate_limit(account, path=request.path)
            if _count_call(account):
                response = sf_error("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", status=403)
            elif too_fast:
                response = sf_error(
                    "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.", status=403
                )
            elif request.method not in methods:
                response = sf_error(
                    "METHOD_NOT_ALLOWED",
                    f"HTTP Method '{request.method}' not allowed. Allowed are {','.join(methods)}",
                    status=405,
                )
            elif not (match := VERSION.fullmatch(version)) or int(match[1]) not in SUPPORTED_VERSIONS:
                response = sf_error("NOT_FOUND", "The requested resource does not exist", status=404)
            else:
                org = store.org_for_token(token)
                org.version = version
                try:
                    response = view(request, org, **kwargs)
                except soql.SoqlError as error:
                    response = sf_error(error.code, error.message)
                except store.ApiError as error:
                    response = sf_error(error.code, error.message, error.status, error.fields)
            limit = account.daily_limit or DEFAULT_ALLOCATION
            response["Sforce-Limit-Info"] = f"api-usage={account.calls_today}/{limit}"
            return response

        return wrapper

    return decorate


@sandbox_only
def versions(request: HttpRequest) -> HttpResponse:
    # Needs no session, like the real one.
    return json_response(
        [
            {"label": f"v{n}.0", "url": f"/services/data/v{n}.0", "version": f"{n}.0"}
            for n in SUPPORTED_VERSIONS
        ]
    )


def _batch_size(request: HttpRequest) -> int:
    # Sforce-Query-Options: batchSize=N, 200..2000; Salesforce treats it as a hint.
    match = re.search(r"batchSize=(\d+)", request.headers.get("Sforce-Query-Options", ""))
    return min(2000, max(200, int(match[1]))) if match else store.DEFAULT_BATCH


@api("GET")
def query(request: HttpRequest, org: Org) -> HttpResponse:
    text = request.GET.get("q", "")
    if not text.strip():
        raise soql.malformed("A query string has to be specified")
    return json_response(store.run_query(org, text, batch=_batch_size(request)))


@api("GET")
def query_all(request: HttpRequest, org: Org) -> HttpResponse:
    text = request.GET.get("q", "")
    if not text.strip():
        raise soql.malformed("A query string has to be specified")
    return json_response(store.run_query(org, text, batch=_batch_size(request), include_deleted=True))


@api("GET")
def query_more(request: HttpRequest, org: Org, locator: str) -> HttpResponse:
    return json_response(store.query_more(org, locator))


@api("GET")
def limits(request: HttpRequest, org: Org) -> HttpResponse:
    account = account_for(CRM, org.org_id)
    allowed = account.daily_limit or DEFAULT_ALLOCATION
    return json_response(
        {"DailyApiRequests": {"Max": allowed, "Remaining": max(0, allowed - account.calls_today)}}
    )


@api("GET")
def userinfo(request: HttpRequest, org: Org) -> HttpResponse:
    """https://help.salesforce.com/s/articleView?id=sf.remoteaccess_using_userinfo_endpoint.htm"""
    user = store.user_record(org)
    return json_response(
        {
            "sub": f"{login_url()}/id/{org.org_id}/{org.user_id}",
            "user_id": org.user_id,
            "organization_id": org.org_id,
            "preferred_username": user.get("Username") or org.user_email,
            "nickname": (user.get("FirstName") or "admin").lower(),
            "name": user.get("Name") or "Sandbox Admin",
            "email": org.user_email,
            "email_verified": True,
            "given_name": user.get("FirstName") or "Sandbox",
            "family_name": user.get("LastName") or "Admin",
            "zoneinfo": "Europe/Paris",
            "active": True,
            "user_type": "STANDARD",
            "language": "en_US",
            "locale": "en_US",
            "utcOffset": 3600000,
            "urls": {"rest": f"{instance_url()}/services/data/v{{version}}/"},
        }
    )


@api("GET")
def describe(request: HttpRequest, org: Org, sobject: str) -> HttpResponse:
    name = store.resolve_sobject(sobject)
    base = f"/services/data/{org.version}/sobjects/{name}"
    return json_response(
        {
            "name": name,
            "label": name,
            "labelPlural": LABELS.get(name, f"{name}s"),
            "keyPrefix": PREFIXES[name],
            "custom": False,
            "createable": True,
            "updateable": True,
            "queryable": True,
            "fields": [fdef.describe() for fdef in fields_of(name).values()],
            "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
        }
    )


def _view_body(org: Org, view: store.ListView) -> dict[str, Any]:
    base = f"/services/data/{org.version}/sobjects/{view.sobject}/listviews/{view.id}"
    return {
        "describeUrl": f"{base}/describe",
        "developerName": view.developer_name,
        "id": view.id,
        "label": view.label,
        "resultsUrl": f"{base}/results",
        "soqlCompatible": True,
        "url": base,
    }


def _columns(org: Org, view: store.ListView) -> list[dict[str, Any]]:
    fields = fields_of(view.sobject)
    return [
        {
            "ascendingLabel": "Z-A",
            "descendingLabel": "A-Z",
            "fieldNameOrPath": fields[name.lower()].name,
            "hidden": name in ("Id", "CreatedDate", "LastModifiedDate", "SystemModstamp"),
            "label": fields[name.lower()].label,
            "selectListItem": name,
            "sortDirection": "ascending" if name == "Name" else None,
            "sortIndex": 0 if name == "Name" else None,
            "sortable": True,
            "type": fields[name.lower()].type,
        }
        for name in view.columns
    ]


@api("GET")
def listviews(request: HttpRequest, org: Org, sobject: str) -> HttpResponse:
    name = store.resolve_sobject(sobject)
    views = store.list_views(org, name)
    return json_response(
        {
            "done": True,
            "listviews": [_view_body(org, view) for view in views],
            "nextRecordsUrl": None,
            "size": len(views),
            "sobjectType": name,
        }
    )


@api("GET")
def listview_describe(request: HttpRequest, org: Org, sobject: str, view_id: str) -> HttpResponse:
    """https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_listviewdescribe.htm"""
    view = store.list_view(org, store.resolve_sobject(sobject), view_id)
    where: dict[str, Any] = {"conditions": [], "conjunction": "and"}
    if view.where:
        # Only the simple "Field = 'value'" / "Field != null" filters the seed makes are described field by field.
        match = re.fullmatch(r"(\w+) (=|!=) (?:'([^']*)'|null)", view.where)
        if match:
            operator = "equals" if match[2] == "=" else "notEqual"
            where = {
                "field": match[1],
                "operator": operator,
                "values": [f"'{match[3]}'" if match[3] else "null"],
            }
    return json_response(
        {
            "columns": _columns(org, view),
            "id": view.id,
            "orderBy": [
                {"fieldNameOrPath": "Name", "nullsPosition": "first", "sortDirection": "ascending"},
                {"fieldNameOrPath": "Id", "nullsPosition": "first", "sortDirection": "ascending"},
            ],
            "query": view.query,
            "relatedEntityId": None,
            "scope": "everything",
            "scopeEntityId": None,
            "sobjectType": view.sobject,
            "whereCondition": where,
        }
    )


def _display(value: Any) -> Any:
    """List view results show datetimes the way the UI does: Fri Aug 01 21:15:46 GMT 2014."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}T.*\+0000", value):
        return parse_datetime(value).astimezone(dt.UTC).strftime("%a %b %d %H:%M:%S GMT %Y")
    return value


@api("GET")
def listview_results(request: HttpRequest, org: Org, sobject: str, view_id: str) -> HttpResponse:
    """https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_listviewresults.htm"""
    view = store.list_view(org, store.resolve_sobject(sobject), view_id)
    try:
        limit = min(2000, max(1, int(request.GET.get("limit", 25))))
        offset = max(0, int(request.GET.get("offset", 0)))
    except ValueError:
        raise store.ApiError("INVALID_QUERY_FILTER_OPERATOR", "limit and offset must be numbers") from None
    plan, rows = store.select_rows(org, view.query)
    page = rows[offset : offset + limit]
    return json_response(
        {
            "columns": _columns(org, view),
            "developerName": view.developer_name,
            "done": offset + len(page) >= len(rows),
            "id": view.id[:15],
            "label": view.label,
            "records": [
                {
                    "columns": [
                        {"fieldNameOrPath": f.name, "value": _display(row.get(f.name))} for f in plan.select
                    ]
                }
                for row in page
            ],
            "size": len(rows),
        }
    )


@api("GET", "POST")
def sobject_root(request: HttpRequest, org: Org, sobject: str) -> HttpResponse:
    name = store.resolve_sobject(sobject)
    if request.method == "GET":
        return json_response(
            {"objectDescribe": {"name": name, "keyPrefix": PREFIXES[name]}, "recentItems": []}
        )
    if name in ("User", "RecordType"):
        raise store.ApiError("INVALID_TYPE_FOR_OPERATION", f"entity type {name} does not support insert")
    new_id = store.create(org, name, json_body(request))
    return json_response({"id": new_id, "success": True, "errors": []}, status=201)


@api("GET", "PATCH", "DELETE")
def sobject_record(request: HttpRequest, org: Org, sobject: str, record_id: str) -> HttpResponse:
    name = store.resolve_sobject(sobject)
    record = store.get_record(org, name, record_id)
    if request.method == "PATCH":
        store.update(org, name, record, json_body(request))
        return no_content()
    if request.method == "DELETE":
        store.delete(record)
        return no_content()
    fields = fields_of(name)
    wanted = [n.strip() for n in request.GET.get("fields", "").split(",") if n.strip()]
    select = [soql.resolve(n, name, fields) for n in wanted] if wanted else list(fields.values())
    if wanted and fields["id"] not in select:
        select.insert(0, fields["id"])
    return json_response(store.project(org, name, select, record.properties))
