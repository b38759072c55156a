"""Fake Pipedrive endpoints, wire-compatible with what the connector calls (crm-apis.md §3).

oauth.pipedrive.com: the consent page of /oauth/authorize and /oauth/token (HTTP Basic client auth, form
body; the answer names the company's `api_domain`, here SANDBOX_BASE_URL + /sandbox/pipedrive).
{api_domain}/api/v1 and /api/v2: organizations, persons, deals, activities (v2, cursor paging), notes,
relationships, fields, pipelines and users (v1, start/limit paging). Every call spends the company's daily
token budget (SandboxAccount.daily_limit, in tokens; v2 lists cost less than v1 ones); a spent budget or a
burst over the account's rate limit answers 429 with Pipedrive's body and x-ratelimit-* headers."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.db.models import F, Q
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.utils import timezone
from django.utils.html import format_html

from ..common import (
    acceptable_redirect,
    bearer_token,
    issue_code,
    issue_pair,
    json_body,
    json_response,
    over_rate_limit,
    sandbox_only,
)
from ..models import SandboxAccount, SandboxCall, SandboxRecord, SandboxToken
from . import store
from .store import CRM, ApiError, v1_json, v2_json

View = Callable[..., HttpResponse]
# Approximate token costs (crm-apis.md §3.5: single GET 2, list 20, write 10, search 40; v2 costs less).
COSTS = {"v1-get": 2, "v1-list": 20, "v2-get": 1, "v2-list": 10, "search": 40, "write": 10}
ACTIVITY_TYPES = ("call", "meeting", "task", "deadline", "email", "lunch")
ORG_KEYS = {"name", "owner_id", "visible_to", "label_ids", "address", "website", "custom_fields"}
PERSON_KEYS = {"name", "first_name", "last_name", "owner_id", "org_id", "emails", "phones", "job_title",
               "visible_to", "label_ids", "custom_fields"}  # fmt: skip
DEAL_KEYS = {"title", "value", "currency", "status", "pipeline_id", "stage_id", "org_id", "person_id",
             "custom_fields", "owner_id"}  # fmt: skip
FIELD_LISTS = {"organizationFields": "organizations", "personFields": "persons", "dealFields": "deals"}
CUSTOM_FIELD_CAP = 30  # the plan's cap on custom fields per object (403 feature_capping_*)


def account(account_id: str) -> SandboxAccount:
    found, _ = SandboxAccount.objects.get_or_create(
        crm=CRM, account_id=account_id, defaults={"user_email": store.DEFAULT_USER}
    )
    return found


def api_domain() -> str:
    return f"{settings.SANDBOX_BASE_URL}/sandbox/pipedrive"


# -- OAuth -------------------------------------------------------------------------------------------------
def _with_query(uri: str, **params: str) -> str:
    return f"{uri}{'&' if urlsplit(uri).query else '?'}{urlencode(params)}"


@sandbox_only
def authorize(request: HttpRequest) -> HttpResponse:
    """GET shows the consent page; its Allow form posts back to this same URL (query string kept)."""
    query = request.GET
    redirect_uri, state = query.get("redirect_uri", ""), query.get("state", "")
    if query.get("client_id") != settings.CRM_SETTINGS["pipedrive"]["client_id"]:
        return HttpResponseBadRequest("Invalid client_id")
    if not acceptable_redirect(redirect_uri):
        return HttpResponseBadRequest("Invalid redirect_uri: it does not match the app's callback URL")
    signed_in = account(query.get("company") or store.DEFAULT_ACCOUNT)
    if request.method == "POST":
        if request.POST.get("decision") != "allow":
            return HttpResponseRedirect(_with_query(redirect_uri, error="user_denied", state=state))
        code = issue_code(crm=CRM, account=signed_in, redirect_uri=redirect_uri)
        return HttpResponseRedirect(_with_query(redirect_uri, code=code.value, state=state))
    return HttpResponse(
        format_html(
            "<!doctype html><html><head><meta charset='utf-8'><title>Pipedrive sandbox: authorize</title></head>"
            "<body><main><h1>Allow Skalin to access the Pipedrive company {} ({})?</h1><p>Signed in as {}.</p>"
            "<form method='post'><button name='decision' value='allow' type='submit'>Allow and install</button> "
            "<button name='decision' value='deny' type='submit'>Cancel</button></form></main></body></html>",
            store.COMPANY_DOMAIN,
            signed_in.account_id,
            signed_in.user_email,
        )
    )


def _oauth_error(error: str, description: str, status: int = 400) -> HttpResponse:
    return json_response({"error": error, "error_description": description}, status)


def _basic_client(request: HttpRequest) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    try:
        client_id, _, secret = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return client_id, secret


@sandbox_only
def token(request: HttpRequest) -> HttpResponse:
    """POST /oauth/token, form body, client credentials in HTTP Basic (crm-apis.md §3.1): both the code
    exchange and the refresh. Credentials in the body alone are refused."""
    if request.method != "POST":
        return _oauth_error("invalid_request", "Use POST.", 405)
    conf = settings.CRM_SETTINGS["pipedrive"]
    client = _basic_client(request)
    if (
        client is None
        or client[0] != conf["client_id"]
        or not hmac.compare_digest(client[1], conf["client_secret"])
    ):
        return _oauth_error(
            "invalid_client", "Client authentication failed: use HTTP Basic with client_id:client_secret", 401
        )
    live = SandboxToken.objects.filter(crm=CRM, revoked=False)
    grant = request.POST.get("grant_type")
    kept = ""
    if grant == "authorization_code":
        code = live.filter(kind=SandboxToken.Kind.CODE, value=request.POST.get("code", "")).first()
        if code is None or (code.expires_at and code.expires_at <= timezone.now()):
            return _oauth_error("invalid_grant", "Invalid or expired authorization code")
        if request.POST.get("redirect_uri") != code.redirect_uri:
            return _oauth_error("invalid_grant", "redirect_uri does not match")
        SandboxToken.objects.filter(pk=code.pk).update(revoked=True)
        account_id, email = code.account_id, code.user_email
    elif grant == "refresh_token":
        old = live.filter(kind=SandboxToken.Kind.REFRESH, value=request.POST.get("refresh_token", "")).first()
        if old is None:
            return _oauth_error("invalid_grant", "Invalid refresh token")
        account_id, email = old.account_id, old.user_email
        kept = old.value  # Pipedrive keeps the refresh token (it expires after 60 days unused)
    else:
        return _oauth_error("unsupported_grant_type", f"Unsupported grant_type {grant!r}")
    access, refresh = issue_pair(
        crm=CRM, account_id=account_id, user_email=email, ttl_seconds=store.ACCESS_TOKEN_SECONDS
    )
    if kept:
        SandboxToken.objects.filter(pk=refresh.pk).delete()
    return json_response({"access_token": access.value, "token_type": "Bearer", "refresh_token": kept or refresh.value,
                          "scope": "base,contacts:full,deals:read,activities:full,admin", "expires_in": store.ACCESS_TOKEN_SECONDS,
                          "api_domain": api_domain()})  # fmt: skip


# -- the gate every API call passes ----------------------------------------------------------------------------
def seconds_to_midnight() -> int:
    now = timezone.now()
    tomorrow = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return max(1, int((tomorrow - now).total_seconds()))


def _start_of_day(acct: SandboxAccount) -> None:
    """The budget resets at midnight UTC: the day's first call (no call recorded since) finds the counter
    from an earlier day."""
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    if (
        acct.calls_today
        and not SandboxCall.objects.filter(crm=CRM, account_id=acct.account_id, at__gte=midnight).exists()
    ):
        SandboxAccount.objects.filter(pk=acct.pk).update(calls_today=0)
        acct.calls_today = 0


def _headers(acct: SandboxAccount) -> dict[str, str]:
    limit = acct.rate_limit or 80
    headers = {"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": str(limit - 1),
               "x-ratelimit-reset": str(acct.rate_window_seconds or 2)}  # fmt: skip
    if acct.daily_limit:
        headers["x-daily-requests-left"] = str(max(0, acct.daily_limit - acct.calls_today))
    return headers


def _over_limit(error: str) -> dict[str, Any]:
    return {"success": False, "error": error, "errorCode": 429,
            "error_info": "Please check developers.pipedrive.com for more information about Pipedrive API.",
            "data": None, "additional_data": None}  # fmt: skip


def api(kind: str) -> Callable[[View], View]:
    """`kind` is the GET cost class (v1-list, v2-get, ...); other methods cost a write."""

    def decorate(view: View) -> View:
        @sandbox_only
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            found = bearer_token(request, CRM)
            if found is None:
                return json_response({"success": False, "error": "unauthorized access", "errorCode": 401,
                                      "error_info": "Please check developers.pipedrive.com for more information about Pipedrive API."}, 401)  # fmt: skip
            acct = account(found.account_id)
            if acct.daily_limit:
                _start_of_day(acct)
            if over_rate_limit(acct, path=request.path):
                window = str(acct.rate_window_seconds or 2)
                return json_response(_over_limit("Request over limit"), 429, {
                    "x-ratelimit-limit": str(acct.rate_limit), "x-ratelimit-remaining": "0",
                    "x-ratelimit-reset": window, "Retry-After": window})  # fmt: skip
            cost = COSTS[kind] if request.method == "GET" else COSTS["write"]
            if acct.daily_limit and acct.calls_today + cost > acct.daily_limit:
                return json_response(_over_limit("Request over limit"), 429, {
                    "x-ratelimit-limit": str(acct.daily_limit), "x-ratelimit-remaining": "0",
                    "x-ratelimit-reset": str(seconds_to_midnight()), "x-daily-requests-left": "0"})  # fmt: skip
            if acct.daily_limit:
                # Only a budgeted account writes on a read (a plan's open transaction must not lock SQLite).
                SandboxAccount.objects.filter(pk=acct.pk).update(calls_today=F("calls_today") + cost)
                acct.calls_today += cost
                if not acct.rate_limit and not settings.SANDBOX_RECORD_CALLS:
                    SandboxCall.objects.create(
                        crm=CRM, account_id=acct.account_id, at=timezone.now(), path=request.path[:300]
                    )
            try:
                response = view(request, found, *args, **kwargs)
            except ApiError as error:
                response = json_response(error.body, error.status)
            for key, value in _headers(acct).items():
                response[key] = value
            return response

        return wrapper

    return decorate


def _methods(request: HttpRequest, *allowed: str) -> None:
    if request.method not in allowed:
        raise ApiError(405, f"Method {request.method} not allowed")


def _body(request: HttpRequest) -> dict[str, Any]:
    body = json_body(request) if "json" in (request.content_type or "") else request.POST.dict()
    if not isinstance(body, dict):
        raise ApiError(
            400, "Validation failed: the request body must be a JSON object", "ERR_SCHEMA_VALIDATION_FAILED"
        )
    return body


def ok(data: Any, additional: dict[str, Any] | None = None, status: int = 200) -> HttpResponse:
    body: dict[str, Any] = {"success": True, "data": data}
    if additional is not None:
        body["additional_data"] = additional
    return json_response(body, status)


def _v2_list(request: HttpRequest, object_type: str, rows: Any = None) -> HttpResponse:
    rows = store.records(object_type) if rows is None else rows
    chosen, following = store.v2_page(rows.filter(store.list_filter(object_type, request.GET)), request.GET)
    extra_counts: dict[int, int] | None = None
    includes = set(filter(None, (request.GET.get("include_fields") or "").split(",")))
    if object_type == "organizations" and includes & {"won_deals_count", "related_won_deals_count"}:
        extra_counts = store.won_deal_counts([int(r.external_id) for r in chosen])
    data = []
    for record in chosen:
        extra = None
        if extra_counts is not None:
            extra = {
                name: extra_counts.get(int(record.external_id), 0) for name in includes if "won_deals" in name
            }
        data.append(v2_json(record, extra))
    return ok(data, {"next_cursor": following})


def _v1_list(request: HttpRequest, rows: Any, order: tuple[str, ...] = ("pk",)) -> HttpResponse:
    chosen, pagination = store.v1_page(rows, request.GET, order)
    org_ids = {r.properties.get("org_id") for r in chosen if r.properties.get("org_id")}
    names = store._names("organizations", org_ids) if org_ids else {}
    return ok([v1_json(r, names) for r in chosen], {"pagination": pagination})


# -- users ----------------------------------------------------------------------------------------------------
def _user_json(record: SandboxRecord, company_id: str) -> dict[str, Any]:
    return {"id": int(record.external_id), **record.properties, "company_id": int(company_id),
            "company_name": "Demo SaaS", "company_domain": store.COMPANY_DOMAIN}  # fmt: skip


@api("v1-get")
def users_me(request: HttpRequest, found: SandboxToken) -> HttpResponse:
    _methods(request, "GET")
    user = store.records("users").filter(properties__email=found.user_email).first()
    if user is None:
        user = store.new_record("users", 1, {"name": "Anna Admin", "email": found.user_email, "active_flag": True,
                                             "is_admin": 1}, created=store.now(), modified=store.now())  # fmt: skip
    return ok(_user_json(user, found.account_id))


@api("v1-list")
def users(request: HttpRequest, found: SandboxToken) -> HttpResponse:
    _methods(request, "GET")
    return ok([_user_json(u, found.account_id) for u in store.records("users").order_by("pk")])


# -- organizations ---------------------------------------------------------------------------------------------
@api("v2-list")
def organizations(request: HttpRequest, found: SandboxToken) -> HttpResponse:
    _methods(request, "GET")
    return _v2_list(request, "organizations")


def _custom_values(object_type: str, values: Any) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise ApiError(
            400, "Validation failed: custom_fields: must be object", "ERR_SCHEMA_VALIDATION_FAILED"
        )
    definitions = {
        f.properties["key"]: f.properties
        for f in store.records({v: k for k, v in FIELD_LISTS.items()}[object_type])
    }
    for key, value in values.items():
        definition = definitions.get(key)
        if definition is None or not definition.get("edit_flag"):
            raise ApiError(
                400,
                f"Validation failed: custom_fields: unknown custom field {key}",
                "ERR_SCHEMA_VALIDATION_FAILED",
            )
        if (
            definition["field_type"] in ("double", "int")
            and value is not None
            and not isinstance(value, int | float)
        ):
            raise ApiError(
                400, f"Validation failed: custom_fields.{key}: must be number", "ERR_SCHEMA_VALIDATION_FAILED"
            )
    return values


def _update(record: SandboxRecord, body: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(body) - allowed
    if unknown:
        raise ApiError(
            400, f"Validation failed: unknown parameter {sorted(unknown)[0]}", "ERR_SCHEMA_VALIDATION_FAILED"
        )
    props = dict(record.properties)
    for key, value in body.items():
        if key == "custom_fields":
            props["custom_fields"] = {
                **(props.get("custom_fields") or {}),
                **_custom_values(record.object_type, value),
            }
        else:
            props[key] = value
    if (
        record.object_type == "persons"
        and ("first_name" in body or "last_name" in body)
        and "name" not in body
    ):
        props["name"] = " ".join(p for p in (props.get("first_name"), props.get("last_name")) if p)
    record.properties, record.updated_at = (
        props,
        max(store.now(), record.updated_at + dt.timedelta(seconds=1)),
    )
    record.save(update_fields=["properties", "updated_at"])


def _one_v2(request: HttpRequest, object_type: str, record_id: str, allowed: set[str]) -> HttpResponse:
    _methods(request, "GET", "PATCH", "DELETE")
    record = store.get_record(object_type, record_id)
    if request.method == "PATCH":
        _update(record, _body(request), allowed)
    elif request.method == "DELETE":
        record.archived, record.archived_at, record.updated_at = True, timezone.now(), store.now()
        record.save(update_fields=["archived", "archived_at", "updated_at"])
        return ok({"id": int(record.external_id)})
    return ok(v2_json(record))


@api("v2-get")
def organization(request: HttpRequest, found: SandboxToken, org_id: str) -> HttpResponse:
    return _one_v2(request, "organizations", org_id, ORG_KEYS)


@api("v1-get")
def organization_v1(request: HttpRequest, found: SandboxToken, org_id: str) -> HttpResponse:
    """v1 GET / PUT /organizations/{id}: custom fields by key at the top level."""
    _methods(request, "GET", "PUT")
    record = store.get_record("organizations", org_id)
    if request.method == "PUT":
        body = _body(request)
        custom = {k: v for k, v in body.items() if len(k) == 40}
        plain = {k: v for k, v in body.items() if k not in custom}
        _update(record, {**plain, **({"custom_fields": custom} if custom else {})}, ORG_KEYS)
    return ok(v1_json(record))


@api("search")
def organizations_search(request: HttpRequest, found: SandboxToken) -> HttpResponse:
    _methods(request, "GET")
    term = (request.GET.get("term") or "").strip()
    if len(term) < 2:
        raise ApiError(
            400, "Validation failed: term: must be at least 2 characters", "ERR_SCHEMA_VALIDATION_FAILED"
        )
    rows = store.records("organizations").filter(properties__name__icontains=term)
    chosen, following = store.v2_page(rows, request.GET)
    items = [{"result_score": 1.0, "item": {"id": int(r.external_id), "type": "organization", "name": r.properties.get("name"),
              "address": r.properties.get("address"), "visible_to": 3, "owner": {"id": r.properties.get("owner_id")},
              "custom_fields": [], "notes": []}} for r in chosen]  # fmt: skip
    return ok({"items": items}, {"next_cursor": following})


@api("v1-list")
def relationships(request: HttpRequest, found: SandboxToken) -> HttpResponse:
    """v1 /organizationRelationships?org_id= (every relationship the organization is part of); POST adds one."""
    _methods(request, "GET", "POST")
    if request.method == "POST":
        body = _body(request)
        if body.get("type") not in ("parent", "related"):
            raise ApiError(400, "type must be parent or related")
        owner, linked = (
            store.get_record("organizations", body.get(k)) for k in ("rel_owner_org_id", "rel_linked_org_id")
        )
        record = store.new_record("organizationRelationships", store.next_id("organizationRelationships"),
                                  {"type": body["type"], "rel_owner_org_id": int(owner.external_id),
                                   "rel_linked_org_id": int(linked.external_id)}, created=store.now(), modified=store.now())  # fmt: skip
        record.save()
        return ok(_relationship(record, int(owner.external_id)), status=201)
    if not request.GET.get("org_id"):
        raise ApiError(400, "org_id is required")
    org_id = int(store.get_record("organizations", request.GET["org_id"]).external_id)
    rows = (
        store.records("organizationRelationships")
        .filter(Q(properties__rel_owner_org_id=org_id) | Q(properties__rel_linked_org_id=org_id))
        .order_by("pk")
    )
    return ok(
        [_relationship(r, org_id) for r in rows],
        {"pagination": {"start": 0, "limit": 100, "more_items_in_collection": False}},
    )


def _relationship(record: SandboxRecord, viewer: int) -> dict[str, Any]:
    props = record.properties
    owner, linked = props["rel_owner_org_id"], props["rel_linked_org_id"]
    names = store._names("organizations", {owner, linked})
    other = linked if viewer == owner else owner
    calculated = "related" if props["type"] == "related" else ("parent" if viewer == linked else "daughter")
    return {"id": int(record.external_id), "type": props["type"],
            "rel_owner_org_id": {"name": names.get(owner, ""), "value": owner, "active_flag": True},
            "rel_linked_org_id": {"name": names.get(linked, ""), "value": linked, "active_flag": True},
            "add_time": store.v1_time(record.created_at), "update_time": store.v1_time(record.updated_at),
            "active_flag": True, "calculated_type": calculated, "calculated_related_org_id": other,
            "related_organization_name": names.get(other, "")}  # fmt: skip


# -- fields and pipelines ----------------------------------------------------------------------------------------
@api("v1-list")
def fields(request: HttpRequest, found: SandboxToken, list_name: str) -> HttpResponse:
    """v1 GET /organizationFields (personFields, dealFields), and POST to create a custom field: its key is
    a new 40-character hash. Pipedrive does not stop duplicate names; the plan caps the number."""
    if list_name not in FIELD_LISTS:
        raise ApiError(404, "Unknown field list")
    _methods(request, "GET", "POST")
    rows = store.records(list_name)
    if request.method == "GET":
        return _v1_list(request, rows, ("properties__order_nr", "pk"))
    body = _body(request)
    name, kind = str(body.get("name") or "").strip(), body.get("field_type")
    if not name or kind not in (
        "varchar",
        "text",
        "double",
        "monetary",
        "date",
        "enum",
        "set",
        "user",
        "phone",
        "int",
    ):
        raise ApiError(
            400, "Validation failed: name and a valid field_type are required", "ERR_SCHEMA_VALIDATION_FAILED"
        )
    if sum(1 for r in rows if r.properties.get("edit_flag")) >= CUSTOM_FIELD_CAP:
        raise ApiError(
            403, "Couldn't add the field. Custom fields limit reached.", "feature_capping_custom_fields_limit"
        )
    new_id = store.next_id(list_name)
    options = [
        {"id": n + 1, "label": str(o.get("label") if isinstance(o, dict) else o)}
        for n, o in enumerate(body.get("options") or [])
    ]
    record = store.new_record(list_name, new_id, {
        "key": store.field_key(f"{list_name}:{name}:{new_id}"), "name": name, "field_type": kind, "edit_flag": True,
        "options": options or None, "mandatory_flag": False, "bulk_edit_allowed": True, "order_nr": new_id,
        "add_visible_flag": bool(body.get("add_visible_flag", True))}, created=store.now(), modified=store.now())  # fmt: skip
    record.save()
    return ok(v1_json(record), status=201)


@api("v1-list")
def pipelines(request: HttpRequest, found: SandboxToken) -> HttpResponse:
    _methods(request, "GET")
    return ok([v1_json(p) for p in store.records("pipelines").order_by("pk")])


# -- persons, deals ----------------------------------------------------------------------------------------------
@api("v2-list")
def persons(request: HttpRequest, found: SandboxToken) -> HttpResponse:
    _methods(request, "GET")
    return _v2_list(request, "persons")


@api("v2-get")
def person(request: HttpRequest, found: SandboxToken, person_id: str) -> HttpResponse:
    return _one_v2(request, "persons", person_id, PERSON_KEYS)


@api("v2-list")
def deals(request: HttpRequest, found: SandboxToken) -> HttpResponse:
    _methods(request, "GET")
    if request.GET.get("status") == "deleted":
        rows = SandboxRecord.objects.filter(crm=CRM, object_type="deals", archived=True,
                                            archived_at__gte=timezone.now() - dt.timedelta(days=30))  # fmt: skip
        return _v2_list(request, "deals", rows)
    return _v2_list(request, "deals")


@api("v2-get")
def deal(request: HttpRequest, found: SandboxToken, deal_id: str) -> HttpResponse:
    return _one_v2(request, "deals", deal_id, DEAL_KEYS)


# -- activities, notes --------------------------------------------------------------------------------------------
def _org_of(body: dict[str, Any], *, required: bool) -> int | None:
    org = body.get("org_id")
    if org in (None, ""):
        if required:
            raise ApiError(400, "Validation failed: one of org_id, person_id, deal_id, lead_id is required")
        return None
    return int(store.get_record("organizations", org).external_id)


@api("v2-list")
def activities(request: HttpRequest, found: SandboxToken) -> HttpResponse:
    _methods(request, "GET", "POST")
    if request.method == "GET":
        return _v2_list(request, "activities")
    body = _body(request)
    if body.get("type", "task") not in ACTIVITY_TYPES:
        raise ApiError(
            400,
            f"Validation failed: type: unknown activity type {body.get('type')}",
            "ERR_SCHEMA_VALIDATION_FAILED",
        )
    has_person = bool(body.get("person_id") or body.get("participants"))
    props = {"subject": body.get("subject") or "", "type": body.get("type", "task"), "owner_id": 1,
             "org_id": _org_of(body, required=not has_person and not body.get("deal_id")),
             "person_id": body.get("person_id") or next((p["person_id"] for p in body.get("participants") or []), None),
             "deal_id": body.get("deal_id"), "due_date": body.get("due_date"), "due_time": body.get("due_time"),
             "duration": body.get("duration"), "done": bool(body.get("done")), "note": body.get("note") or "",
             "participants": body.get("participants") or [], "marked_as_done_time": store.rfc3339(store.now()) if body.get("done") else None}  # fmt: skip
    record = store.new_record(
        "activities", store.next_id("activities"), props, created=store.now(), modified=store.now()
    )
    record.save()
    return ok(v2_json(record))


@api("v1-list")
def notes(request: HttpRequest, found: SandboxToken) -> HttpResponse:
    _methods(request, "GET", "POST")
    if request.method == "GET":
        sort = (request.GET.get("sort") or "id ASC").split()
        column = {"update_time": "updated_at", "add_time": "created_at", "id": "pk"}.get(sort[0], "pk")
        descending = len(sort) > 1 and sort[1].upper() == "DESC"
        order = (f"-{column}", "-pk") if descending else (column, "pk")
        rows = store.records("notes").filter(store.list_filter("notes", request.GET))
        return _v1_list(request, rows, order)
    body = _body(request)
    if not str(body.get("content") or "").strip():
        raise ApiError(400, "Validation failed: content is required")
    org = _org_of(body, required=not (body.get("person_id") or body.get("deal_id")))
    when = store.now()
    if body.get("add_time"):
        when = store.parse_when(str(body["add_time"]).replace(" ", "T"), "add_time")
    props = {"content": body["content"], "org_id": org, "person_id": body.get("person_id"), "deal_id": body.get("deal_id"),
             "user_id": 1, "pinned_to_organization_flag": bool(body.get("pinned_to_organization_flag"))}  # fmt: skip
    record = store.new_record("notes", store.next_id("notes"), props, created=when, modified=store.now())
    record.save()
    return ok(v1_json(record, store._names("organizations", {org} if org else set())))
