"""Fake Sellsy endpoints, wire-compatible with what the connector calls (crm-apis.md §5).

login.sellsy.com: the consent page of /oauth2/authorization (PKCE S256 required) and /oauth2/access-tokens,
which takes a JSON body (the doc's example) and rotates refresh tokens.
api.sellsy.com/v2: companies (search, read, update, delete, custom-field values, contacts), opportunities
(search, pipelines), comments, phone calls, calendar events and the CRM timeline (search), custom fields
(list, search, create), staffs, /me; quotas from the SandboxAccount with Sellsy's X-Quota-Remaining-* headers."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.utils import timezone
from django.utils.html import format_html

from ..common import (
    acceptable_redirect,
    bearer_token,
    issue_code,
    json_body,
    json_response,
    new_token,
    over_daily_limit,
    over_rate_limit,
    sandbox_only,
)
from ..models import SandboxAccount, SandboxCall, SandboxToken
from . import store
from .store import CRM, ApiError

View = Callable[..., HttpResponse]


def account(account_id: str) -> SandboxAccount:
    found, _ = SandboxAccount.objects.get_or_create(
        crm=CRM, account_id=account_id, defaults={"user_email": store.DEFAULT_USER}
    )
    return found


# -- OAuth -------------------------------------------------------------------------------------------------
def _with_query(uri: str, **params: str) -> str:
    return f"{uri}{'&' if urlsplit(uri).query else '?'}{urlencode(params)}"


def pkce_challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@sandbox_only
def authorize(request: HttpRequest) -> HttpResponse:
    """GET shows the consent page; its form posts back to this same URL (query string kept)."""
    query = request.GET
    redirect_uri, state = query.get("redirect_uri", ""), query.get("state", "")
    if query.get("client_id") != settings.CRM_SETTINGS["sellsy"]["client_id"]:
        return HttpResponseBadRequest("invalid_client: unknown client_id")
    if not acceptable_redirect(redirect_uri):
        return HttpResponseBadRequest("invalid_request: redirect_uri does not match the application's")
    if query.get("response_type") != "code":
        return HttpResponseBadRequest("unsupported_response_type")
    if not query.get("code_challenge") or query.get("code_challenge_method") != "S256":
        # PKCE is required for the authorization code flow (crm-apis.md §5.1).
        return HttpResponseRedirect(_with_query(redirect_uri, error="invalid_request", state=state,
                                                error_description="PKCE (code_challenge, S256) is required"))  # fmt: skip
    signed_in = account(query.get("account") or store.DEFAULT_ACCOUNT)
    if request.method == "POST":
        if request.POST.get("decision") != "allow":
            return HttpResponseRedirect(_with_query(redirect_uri, error="access_denied", state=state))
        code = issue_code(crm=CRM, account=signed_in, redirect_uri=redirect_uri,
                          code_challenge=query["code_challenge"])  # fmt: skip
        return HttpResponseRedirect(_with_query(redirect_uri, code=code.value, state=state))
    return HttpResponse(
        format_html(
            "<!doctype html><html><head><meta charset='utf-8'><title>Sellsy sandbox: authorize</title></head>"
            "<body><main><h1>Allow Skalin to access your Sellsy account {}?</h1><p>Signed in as {}. "
            "Skalin asks for: {}.</p><form method='post'>"
            "<button name='decision' value='allow' type='submit'>Allow</button> "
            "<button name='decision' value='deny' type='submit'>Refuse</button></form></main></body></html>",
            signed_in.account_id,
            signed_in.user_email,
            query.get("scope", "").replace(" ", ", ") or "no scopes",
        )
    )


def _oauth_error(error: str, description: str, status: int = 400) -> HttpResponse:
    # league/oauth2-server's shape (Sellsy's login server answers RFC 6749 errors).
    return json_response({"error": error, "error_description": description, "message": description}, status)


@sandbox_only
def token(request: HttpRequest) -> HttpResponse:
    """POST /oauth2/access-tokens with a JSON body: authorization_code (+ code_verifier) or refresh_token."""
    if request.method != "POST":
        return _oauth_error("invalid_request", "Use POST.", 405)
    if "json" not in (request.content_type or ""):
        return _oauth_error(
            "invalid_request", "The request body must be JSON (Content-Type: application/json)."
        )
    body = json_body(request)
    if not isinstance(body, dict):
        return _oauth_error("invalid_request", "The request body is not valid JSON.")
    client = settings.CRM_SETTINGS["sellsy"]
    if body.get("client_id") != client["client_id"]:
        return _oauth_error("invalid_client", "Client authentication failed", 401)
    secret = body.get("client_secret")
    if secret is not None and not hmac.compare_digest(str(secret), client["client_secret"]):
        return _oauth_error("invalid_client", "Client authentication failed", 401)
    live = SandboxToken.objects.filter(crm=CRM, revoked=False)
    grant = body.get("grant_type")
    if grant == "authorization_code":
        code = live.filter(kind=SandboxToken.Kind.CODE, value=str(body.get("code", ""))).first()
        if code is None or (code.expires_at and code.expires_at <= timezone.now()):
            return _oauth_error("invalid_grant", "The authorization code is invalid or expired")
        if body.get("redirect_uri") != code.redirect_uri:
            return _oauth_error("invalid_grant", "redirect_uri does not match the authorization request")
        verifier = str(body.get("code_verifier") or "")
        if not verifier or not hmac.compare_digest(pkce_challenge(verifier), code.code_challenge):
            return _oauth_error("invalid_grant", "Failed to verify code_verifier")
        SandboxToken.objects.filter(pk=code.pk).update(revoked=True)
        account_id, email = code.account_id, code.user_email
    elif grant == "refresh_token":
        if secret is None:
            return _oauth_error("invalid_client", "client_secret is required to refresh", 401)
        old = live.filter(kind=SandboxToken.Kind.REFRESH, value=str(body.get("refresh_token", ""))).first()
        if old is None:
            return _oauth_error("invalid_grant", "The refresh token is invalid")
        SandboxToken.objects.filter(pk=old.pk).update(revoked=True)  # rotated: the old one is spent
        account_id, email = old.account_id, old.user_email
    else:
        return _oauth_error("unsupported_grant_type", f"Unsupported grant type {grant!r}")
    return json_response(issue_tokens(account_id, email))


def issue_tokens(account_id: str, email: str) -> dict[str, Any]:
    access = SandboxToken.objects.create(
        crm=CRM, kind=SandboxToken.Kind.ACCESS, value=new_token("at"), account_id=account_id, user_email=email,
        expires_at=timezone.now() + dt.timedelta(seconds=store.ACCESS_TOKEN_SECONDS),
    )  # fmt: skip
    refresh = SandboxToken.objects.create(
        crm=CRM,
        kind=SandboxToken.Kind.REFRESH,
        value=new_token("rt"),
        account_id=account_id,
        user_email=email,
    )
    return {"token_type": "Bearer", "expires_in": store.ACCESS_TOKEN_SECONDS, "access_token": access.value,
            "refresh_token": refresh.value}  # fmt: skip


# -- the gate every API call passes -----------------------------------------------------------------------------
def _recent(acct: SandboxAccount) -> int:
    since = timezone.now() - dt.timedelta(seconds=acct.rate_window_seconds)
    return SandboxCall.objects.filter(crm=CRM, account_id=acct.account_id, at__gt=since).count()


def _quota_headers(acct: SandboxAccount) -> dict[str, str]:
    """A configured rate limit is the per-second quota (window of 1 s) or the per-minute one (longer windows)."""
    headers = {"X-Quota-Remaining-By-Second": "100", "X-Quota-Remaining-By-Minute": "3000",
               "X-Quota-Remaining-By-Day": "100000", "X-Quota-Remaining-By-Month": "3000000"}  # fmt: skip
    if acct.rate_limit:
        period = "Second" if acct.rate_window_seconds <= 1 else "Minute"
        headers[f"X-Quota-Remaining-By-{period}"] = str(max(0, acct.rate_limit - _recent(acct)))
    if acct.daily_limit:
        headers["X-Quota-Remaining-By-Day"] = str(max(0, acct.daily_limit - acct.calls_today))
    return headers


def api(view: View) -> View:
    @sandbox_only
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        found = bearer_token(request, CRM)
        if found is None:
            return json_response(ApiError(401, "Unauthorized: the access token is missing, invalid or expired",
                                          "authentication").body, 401)  # fmt: skip
        acct = account(found.account_id)
        # Quotas count every request, even failing ones (v2 doc, "Quotas").
        spent = over_daily_limit(acct) | over_rate_limit(acct, path=request.path)
        if spent:
            error = ApiError(429, "Quota of requests reached", "quota")
            return json_response(error.body, 429, _quota_headers(acct))
        try:
            response = view(request, found, *args, **kwargs)
        except ApiError as error:
            response = json_response(error.body, error.status)
        for key, value in _quota_headers(acct).items():
            response[key] = value
        return response

    return wrapper


def _methods(request: HttpRequest, *allowed: str) -> None:
    if request.method not in allowed:
        raise ApiError(405, f"Method {request.method} not allowed", "method")


def _body(request: HttpRequest, kind: type = dict) -> Any:
    body = json_body(request)
    if not isinstance(body, kind):
        raise ApiError(400, "The request body is not valid JSON", "validation")
    return body


def _listing(rows: Any, request: HttpRequest, *, default_order: str = "id") -> HttpResponse:
    chosen, pagination = store.page(rows, request.GET, default_order=default_order)
    embeds = request.GET.getlist("embed[]")
    fields = request.GET.getlist("field[]") or request.GET.getlist("fields[]")
    return json_response(
        {"data": [store.record_json(r, embeds, fields) for r in chosen], "pagination": pagination}
    )


def _filters(request: HttpRequest) -> dict[str, Any]:
    body = _body(request) if request.body else {}
    filters = body.get("filters") or {}
    if not isinstance(filters, dict):
        raise ApiError(400, "filters must be an object", "validation")
    return filters


# -- account --------------------------------------------------------------------------------------------------
@api
def me(request: HttpRequest, found: SandboxToken) -> HttpResponse:
    _methods(request, "GET")
    staff = store.records("staffs").filter(properties__email=found.user_email).first()
    first, _, last = found.user_email.partition("@")[0].replace(".", " ").title().partition(" ")
    body = {"id": int(staff.external_id) if staff else 1, "firstname": first, "lastname": last,
            "email": found.user_email, "corporation_id": int(found.account_id) if found.account_id.isdigit()
            else found.account_id}  # fmt: skip
    return json_response(body)


@api
def staffs(request: HttpRequest, found: SandboxToken) -> HttpResponse:
    _methods(request, "GET")
    return _listing(store.records("staffs"), request)


# -- companies ----------------------------------------------------------------------------------------------------
@api
def companies_search(request: HttpRequest, found: SandboxToken) -> HttpResponse:
    _methods(request, "POST")
    rows = store.records("companies").filter(store.company_filter(_filters(request)))
    return _listing(rows, request)


@api
def companies(request: HttpRequest, found: SandboxToken) -> HttpResponse:
    _methods(request, "GET")
    return _listing(store.records("companies"), request)


UPDATABLE = {"name", "email", "website", "phone_number", "mobile_number", "fax_number", "reference", "note",
             "type", "is_archived", "business_segment", "number_of_employees"}  # fmt: skip


@api
def company(request: HttpRequest, found: SandboxToken, company_id: str) -> HttpResponse:
    _methods(request, "GET", "PUT", "DELETE")
    record = store.get_record("companies", company_id)
    embeds = request.GET.getlist("embed[]")
    if request.method == "DELETE":
        record.delete()
        return HttpResponse(status=204)
    if request.method == "PUT":
        changes = _body(request)
        unknown = sorted(set(changes) - UPDATABLE)
        if unknown:
            raise ApiError(
                400, "Validation failed", "validation", {k: "This field cannot be updated" for k in unknown}
            )
        if "type" in changes and changes["type"] not in store.COMPANY_TYPES:
            raise ApiError(400, "Validation failed", "validation", {"type": "prospect, client or supplier"})
        record.properties = {**record.properties, **changes}
        record.updated_at = store.now()
        record.save(update_fields=["properties", "updated_at"])
    return json_response(store.record_json(record, embeds))


@api
def company_custom_fields(request: HttpRequest, found: SandboxToken, company_id: str) -> HttpResponse:
    """GET: every company custom field with this company's value; PUT [{"id", "value"}]: set values."""
    _methods(request, "GET", "PUT")
    record = store.get_record("companies", company_id)
    definitions = store.custom_fields_by_id()
    applies = {
        k: d for k, d in definitions.items() if record.properties.get("type") in d.get("related_objects", [])
    }
    if request.method == "PUT":
        items = _body(request, list)
        values = dict(record.properties.get("_cf") or {})
        for item in items:
            key = str(item.get("id")) if isinstance(item, dict) else ""
            if key not in applies:
                raise ApiError(400, "Validation failed", "validation", {key or "id": "Unknown custom field"})
            values[key] = store.check_custom_value(applies[key], item.get("value"))
        with transaction.atomic():
            record.properties = {**record.properties, "_cf": values}
            record.updated_at = store.now()
            record.save(update_fields=["properties", "updated_at"])
        return HttpResponse(status=200)
    values = record.properties.get("_cf") or {}
    data = [store.custom_field_value(d, values.get(k)) for k, d in applies.items()]
    limit = store.as_limit(request.GET.get("limit"))
    return json_response({"data": data[:limit], "pagination": {"limit": limit, "count": min(limit, len(data)),
                                                               "total": len(data), "offset": None}})  # fmt: skip


@api
def company_contacts(request: HttpRequest, found: SandboxToken, company_id: str) -> HttpResponse:
    _methods(request, "GET")
    store.get_record("companies", company_id)
    rows = store.records("contacts").filter(external_id__in=store.linked_contacts(company_id))
    return _listing(rows, request)


# -- opportunities ------------------------------------------------------------------------------------------------
@api
def opportunities_search(request: HttpRequest, found: SandboxToken) -> HttpResponse:
    _methods(request, "POST")
    rows = store.records("opportunities").filter(store.opportunity_filter(_filters(request)))
    return _listing(rows, request)


@api
def pipelines(request: HttpRequest, found: SandboxToken) -> HttpResponse:
    _methods(request, "GET")
    return _listing(store.records("pipelines"), request)


# -- activities -----------------------------------------------------------------------------------------------
def activity_search(object_type: str) -> View:
    @api
    def view(request: HttpRequest, found: SandboxToken) -> HttpResponse:
        _methods(request, "POST")
        rows = store.records(object_type).filter(store.activity_filter(object_type, _filters(request)))
        return _listing(rows, request)

    return view


comments_search = activity_search("comments")
phone_calls_search = activity_search("phone-calls")
calendar_events_search = activity_search("calendar-events")
crm_activities_search = activity_search("crm-activities")


# -- custom fields --------------------------------------------------------------------------------------------
CUSTOM_FIELD_TYPES = {"simple-text", "rich-text", "numeric", "amount", "numeric-with-unit", "radio", "select",
                      "checkbox", "boolean", "date", "time", "email", "url", "staff"}  # fmt: skip
RELATED_OBJECTS = {"client", "prospect", "supplier", "contact", "opportunity", "item", "individual"}


@api
def custom_fields(request: HttpRequest, found: SandboxToken) -> HttpResponse:
    """GET lists the definitions; POST creates one (plan quota: 402 past `CUSTOM_FIELD_QUOTA`)."""
    _methods(request, "GET", "POST")
    if request.method == "GET":
        return _listing(store.custom_fields(), request)
    body = _body(request)
    errors = {}
    if not str(body.get("name") or "").strip():
        errors["name"] = "This value should not be blank"
    if body.get("type") not in CUSTOM_FIELD_TYPES:
        errors["type"] = "Unknown custom field type"
    related = body.get("related_objects")
    if not isinstance(related, list) or not related or set(related) - RELATED_OBJECTS:
        errors["related_objects"] = "A list of related objects is required"
    if errors:
        raise ApiError(400, "Validation failed", "validation", errors)
    if store.custom_fields().count() >= CUSTOM_FIELD_QUOTA:
        raise ApiError(402, "The custom fields quota of your plan is reached", "quota")
    code = str(body.get("code") or "")
    if code and store.custom_fields().filter(properties__code=code).exists():
        raise ApiError(409, "A custom field with this code already exists", "conflict", {"code": code})
    moment = store.now()
    definition = {
        "name": body["name"], "code": code, "type": body["type"], "description": body.get("description", ""),
        "mandatory": bool(body.get("mandatory")), "rank": store.custom_fields().count() + 1,
        "related_objects": related, "parameters": body.get("parameters") or {}, "group": None,
    }  # fmt: skip
    record = store.new_record("custom-fields", store.next_id("custom-fields"), definition, created=moment,
                              modified=moment)  # fmt: skip
    record.save()
    return json_response(store.record_json(record), 201)


CUSTOM_FIELD_QUOTA = 50


@api
def custom_fields_search(request: HttpRequest, found: SandboxToken) -> HttpResponse:
    _methods(request, "POST")
    filters = _filters(request)
    rows = store.custom_fields()
    if related := filters.pop("related_object", None):
        wanted = related if isinstance(related, list) else [related]
        ids = [r.pk for r in rows if set(wanted) & set(r.properties.get("related_objects") or [])]
        rows = rows.filter(pk__in=ids)
    if filters:
        raise ApiError(400, f"Unknown filter {next(iter(filters))}", "validation")
    return _listing(rows, request)
