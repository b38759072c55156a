"""Fake HubSpot endpoints, wire-compatible with what the connector calls (crm-apis.md §1).

api.hubapi.com: OAuth token and token info, CRM v3 objects (list, read, update, archive, create with
associations, search, batch read), v4 associations, v3 properties and deal pipelines.
app.hubspot.com: the consent page of the OAuth authorize step."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from ..common import (
    acceptable_redirect,
    bearer_token,
    issue_code,
    issue_pair,
    json_body,
    json_response,
    new_token,
    over_daily_limit,
    over_rate_limit,
    sandbox_only,
)
from ..models import (
    SandboxAccount,
    SandboxAssociation,
    SandboxCall,
    SandboxProperty,
    SandboxRecord,
    SandboxToken,
)
from . import schema
from .store import (
    ApiError,
    all_records,
    as_int,
    association_json,
    association_pair,
    associations_of,
    get_record,
    iso,
    new_record,
    next_ids,
    now_ms,
    object_name,
    property_definitions,
    property_json,
    record_json,
    records,
    search,
    update_properties,
    wanted_properties,
)

BATCH_LIMIT = 100
LIST_LIMIT = 100
ASSOCIATIONS_PAGE = 500
OAUTH_RATE_LIMIT = 110  # per 10 s for each installing account of a public app (crm-apis.md §1.5)
View = Callable[..., HttpResponse]


def portal(account_id: str) -> SandboxAccount:
    name = schema.DEFAULT_NAME if account_id == schema.DEFAULT_ACCOUNT else ""
    account, _ = SandboxAccount.objects.get_or_create(
        crm=schema.CRM, account_id=account_id, defaults={"user_email": schema.DEFAULT_USER, "name": name}
    )
    return account


def hub_id(account_id: str) -> int | str:
    return int(account_id) if account_id.isdigit() else account_id


def _body(request: HttpRequest) -> dict[str, Any]:
    body = json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "Invalid input JSON: the body must be a JSON object.")
    return body


def _methods(request: HttpRequest, *allowed: str) -> None:
    if request.method not in allowed:
        raise ApiError(405, f"Method {request.method} is not allowed here.", "METHOD_NOT_ALLOWED")


# -- the gate every API call passes ---------------------------------------------------------------------------
def api(view: View) -> View:
    """Bearer token, the account's limits, HubSpot's error body and its rate-limit headers. The view is
    given the token's portal id after the request: it serves that portal's data only."""

    @sandbox_only
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        token = bearer_token(request, schema.CRM)
        if token is None:
            return _unauthenticated(request)
        account = portal(token.account_id)
        if over_daily_limit(account):
            return _rate_limited("DAILY", "You have reached your daily limit.", retry_after=None)
        if over_rate_limit(account, path=request.path):
            return _rate_limited("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.",
                                 retry_after=_seconds_until_a_slot(account))  # fmt: skip
        try:
            response = view(request, account.account_id, *args, **kwargs)
        except ApiError as error:
            response = json_response(error.body, error.status)
        if not request.path.endswith("/search"):  # search answers carry no rate-limit headers
            _rate_headers(response, account)
        return response

    return wrapper


def _unauthenticated(request: HttpRequest) -> HttpResponse:
    value = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    expired = (
        value
        and SandboxToken.objects.filter(
            crm=schema.CRM,
            kind=SandboxToken.Kind.ACCESS,
            value=value,
            revoked=False,
            expires_at__lte=timezone.now(),
        ).first()
    )
    if expired and expired.expires_at:
        minutes = int((timezone.now() - expired.expires_at).total_seconds() // 60)
        error = ApiError(401, f"The OAuth token used to make this call expired {minutes} minute(s) ago.",
                         "EXPIRED_AUTHENTICATION", context={"expire time": [iso(expired.expires_at)]})  # fmt: skip
    else:
        error = ApiError(
            401,
            "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
            "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            "INVALID_AUTHENTICATION",
        )
    return json_response(error.body, 401)


def _rate_limited(policy: str, message: str, *, retry_after: int | None) -> HttpResponse:
    error = ApiError(429, message, "RATE_LIMITS", errorType="RATE_LIMIT", policyName=policy)
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return json_response(error.body, 429, headers)


def _recent_calls(account: SandboxAccount) -> int:
    since = timezone.now() - dt.timedelta(seconds=account.rate_window_seconds)
    return SandboxCall.objects.filter(crm=account.crm, account_id=account.account_id, at__gt=since).count()


def _seconds_until_a_slot(account: SandboxAccount) -> int:
    window = dt.timedelta(seconds=account.rate_window_seconds)
    recent = SandboxCall.objects.filter(
        crm=account.crm, account_id=account.account_id, at__gt=timezone.now() - window
    ).order_by("at")
    oldest = recent.values_list("at", flat=True).first()
    if oldest is None:
        return 1
    return max(1, int((oldest + window - timezone.now()).total_seconds() + 0.999))


def _rate_headers(response: HttpResponse, account: SandboxAccount) -> None:
    limit = account.rate_limit or OAUTH_RATE_LIMIT
    response["X-HubSpot-RateLimit-Max"] = str(limit)
    response["X-HubSpot-RateLimit-Remaining"] = str(max(0, limit - _recent_calls(account)))
    response["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(account.rate_window_seconds * 1000)


# -- OAuth: consent page (app host), token, token info (API host) ---------------------------------------------
def _with_query(uri: str, **params: str) -> str:
    return f"{uri}{'&' if urlsplit(uri).query else '?'}{urlencode(params)}"


@sandbox_only
def authorize(request: HttpRequest, account_id: str = "") -> HttpResponse:
    """https://developers.hubspot.com/docs/api/oauth-quickstart-guide: consent, then back with ?code&state."""
    client_id, redirect_uri = request.GET.get("client_id", ""), request.GET.get("redirect_uri", "")
    state = request.GET.get("state", "")
    if client_id != settings.CRM_SETTINGS["hubspot"]["client_id"]:
        return HttpResponseBadRequest("Authorization failed: unknown client_id (no such app).")
    if not acceptable_redirect(redirect_uri):
        return HttpResponseBadRequest(
            "Authorization failed: redirect_uri does not match the app's redirect URL."
        )
    asked = account_id or request.GET.get("account") or schema.DEFAULT_ACCOUNT
    portals = portals_to_choose(asked)
    if request.method == "POST":
        if request.POST.get("decision") != "allow":
            return HttpResponseRedirect(_with_query(redirect_uri, error="access_denied", state=state))
        chosen = request.POST.get("account") or asked
        account = next((p for p in portals if p.account_id == chosen), None)
        if account is None:
            return HttpResponseBadRequest(f"Authorization failed: no sandbox HubSpot portal {chosen!r}.")
        code = issue_code(crm=schema.CRM, account=account, redirect_uri=redirect_uri)
        return HttpResponseRedirect(_with_query(redirect_uri, code=code.value, state=state))
    choices = format_html_join(
        "",
        "<li><label><input type='radio' name='account' value='{}'{}> {}</label> <small>{}, signed in as {}</small>"
        "</li>",
        (
            (p.account_id, " checked" if p.account_id == asked else "", portal_label(p),
             f"Hub ID {p.account_id}", p.user_email)
            for p in portals
        ),
    )  # fmt: skip
    return HttpResponse(
        format_html(
            "<!doctype html><html><head><meta charset='utf-8'><title>Connect an app | HubSpot sandbox</title>"
            "</head><body><main><h1>Allow Skalin to access a Sandbox portal?</h1>"
            "<p>Skalin asks for: {}.</p>"
            "<form method='post'><fieldset><legend>Choose an account</legend><ul>{}</ul></fieldset>"
            "<button name='decision' value='allow' type='submit'>Allow</button> "
            "<button name='decision' value='deny' type='submit'>Cancel</button></form></main></body></html>",
            request.GET.get("scope", "").replace(" ", ", ") or "no scopes",
            choices,
        )
    )


def portals_to_choose(asked: str) -> list[SandboxAccount]:
    """HubSpot's account chooser: every sandbox portal, the demo one first. The demo portal and one named in
    the address (`?account=` or `/oauth/<portal>/authorize`) are created when missing, as a sign-up would."""
    portal(schema.DEFAULT_ACCOUNT)
    portal(asked)
    found = SandboxAccount.objects.filter(crm=schema.CRM)
    return sorted(found, key=lambda p: (p.account_id != schema.DEFAULT_ACCOUNT, p.account_id))


def portal_label(account: SandboxAccount) -> str:
    return account.name or f"Sandbox portal {account.account_id}"


def _oauth_error(status: str, message: str, error: str) -> HttpResponse:
    # HubSpot's status codes, plus the RFC 6749 `error` that OAuth clients (requests-oauthlib) look for.
    body = {"status": status, "message": message, "correlationId": str(ApiError(400, "").body["correlationId"]),
            "error": error, "error_description": message}  # fmt: skip
    return json_response(body, 400)


def _client_credentials(request: HttpRequest) -> tuple[str, str]:
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic "):
        client_id, _, secret = base64.b64decode(header[6:]).decode(errors="replace").partition(":")
        return client_id, secret
    return request.POST.get("client_id", ""), request.POST.get("client_secret", "")


@sandbox_only
def token(request: HttpRequest) -> HttpResponse:
    """POST /oauth/v1/token, form-encoded: authorization_code and refresh_token grants."""
    if request.method != "POST":
        return json_response(ApiError(405, "Use POST.", "METHOD_NOT_ALLOWED").body, 405)
    config = settings.CRM_SETTINGS["hubspot"]
    client_id, secret = _client_credentials(request)
    if client_id != config["client_id"]:
        return _oauth_error("BAD_CLIENT_ID", "missing or invalid client id", "invalid_client")
    if secret != config["client_secret"]:
        return _oauth_error("BAD_CLIENT_SECRET", "missing or invalid client secret", "invalid_client")
    grant = request.POST.get("grant_type")
    live = SandboxToken.objects.filter(crm=schema.CRM, revoked=False)
    if grant == "authorization_code":
        code = live.filter(kind=SandboxToken.Kind.CODE, value=request.POST.get("code", "")).first()
        if code is None or (code.expires_at and code.expires_at <= timezone.now()):
            return _oauth_error("BAD_AUTH_CODE", "missing or unknown auth code", "invalid_grant")
        if code.redirect_uri != request.POST.get("redirect_uri"):
            return _oauth_error(
                "BAD_REDIRECT_URI", "redirect_uri does not match the authorize request", "invalid_grant"
            )
        SandboxToken.objects.filter(pk=code.pk).update(revoked=True)  # a code works once
        access, refresh = issue_pair(crm=schema.CRM, account_id=code.account_id, user_email=code.user_email,
                                     ttl_seconds=schema.ACCESS_TOKEN_SECONDS)  # fmt: skip
    elif grant == "refresh_token":
        known = live.filter(
            kind=SandboxToken.Kind.REFRESH, value=request.POST.get("refresh_token", "")
        ).first()
        if known is None:
            return _oauth_error("BAD_REFRESH_TOKEN", "missing or unknown refresh token", "invalid_grant")
        refresh = known
        access = SandboxToken.objects.create(
            crm=schema.CRM, kind=SandboxToken.Kind.ACCESS, value=new_token("at"), account_id=refresh.account_id,
            user_email=refresh.user_email,
            expires_at=timezone.now() + dt.timedelta(seconds=schema.ACCESS_TOKEN_SECONDS),
        )  # fmt: skip
    else:
        return _oauth_error("BAD_GRANT_TYPE", f"unsupported grant_type {grant!r}", "unsupported_grant_type")
    # HubSpot keeps the refresh token across refreshes.
    return json_response({"token_type": "bearer", "refresh_token": refresh.value, "access_token": access.value,
                          "expires_in": schema.ACCESS_TOKEN_SECONDS})  # fmt: skip


@sandbox_only
def token_info(request: HttpRequest, value: str) -> HttpResponse:
    """GET /oauth/v1/access-tokens/{token}: the portal (hub_id) and user behind a token."""
    access = SandboxToken.objects.filter(
        crm=schema.CRM, kind=SandboxToken.Kind.ACCESS, value=value, revoked=False
    ).first()
    if access is None:
        return json_response(ApiError(404, "Token not found", "OBJECT_NOT_FOUND").body, 404)
    left = int((access.expires_at - timezone.now()).total_seconds()) if access.expires_at else 0
    if access.expires_at and left <= 0:
        return json_response(
            ApiError(401, "The OAuth token has expired.", "EXPIRED_AUTHENTICATION").body, 401
        )
    return json_response({
        "token": access.value, "user": access.user_email, "hub_domain": f"sandbox-{access.account_id}.hubspot.test",
        "scopes": schema.GRANTED_SCOPES, "scope_to_scope_group_pks": [], "trial_scopes": [],
        "trial_scope_to_scope_group_pks": [], "hub_id": hub_id(access.account_id), "app_id": 424242,
        "expires_in": left, "user_id": int(hashlib.sha256(access.user_email.encode()).hexdigest()[:7], 16),
        "token_type": "access",
    })  # fmt: skip


# -- CRM objects ----------------------------------------------------------------------------------------------
@api
def objects(request: HttpRequest, portal_id: str, object_type: str) -> HttpResponse:
    """GET: list with limit/after/properties/archived. POST: create, with associations."""
    _methods(request, "GET", "POST")
    name = object_name(object_type)
    if request.method == "POST":
        return _create(portal_id, name, _body(request))
    limit = min(as_int(request.GET.get("limit") or 10, "limit"), LIST_LIMIT)
    archived = request.GET.get("archived") == "true"
    rows = all_records(portal_id, name).filter(archived=archived).order_by("id")
    if after := request.GET.get("after"):
        rows = rows.filter(id__gt=int(after) if after.isdigit() else 0)
    page = list(rows[: limit + 1])
    wanted = wanted_properties(request.GET.get("properties"))
    body: dict[str, Any] = {"results": [record_json(r, wanted) for r in page[:limit]]}
    if len(page) > limit:
        cursor = str(page[limit - 1].pk)
        link = f"{settings.SANDBOX_BASE_URL}/sandbox/hubspot/crm/v3/objects/{name}?{urlencode({'after': cursor})}"
        body["paging"] = {"next": {"after": cursor, "link": link}}
    return json_response(body)


def _create(portal_id: str, name: str, body: dict[str, Any]) -> HttpResponse:
    properties = body.get("properties") or {}
    known = property_definitions(portal_id, name)
    unknown = [p for p in properties if p not in known]
    if unknown:
        raise ApiError(400, f"Property values were not valid: {', '.join(unknown)} do(es) not exist.",
                       errors=[{"message": f'Property "{p}" does not exist', "code": "PROPERTY_DOESNT_EXIST"}
                               for p in unknown])  # fmt: skip
    if name in ("notes", "emails", "calls", "meetings") and not properties.get("hs_timestamp"):
        raise ApiError(400, "Property values were not valid: hs_timestamp is required.")
    links = []
    for item in body.get("associations") or []:
        target = str((item.get("to") or {}).get("id", ""))
        for kind in item.get("types") or []:
            type_id = as_int(kind.get("associationTypeId"), "associationTypeId")
            ends = schema.TYPE_ENDS.get(type_id)
            if ends is None or ends[0] != name:
                raise ApiError(400, f"association type {kind.get('associationTypeId')} is not valid from {name}.",
                               subCategory="crm.associations.INVALID_ASSOCIATION_TYPE")  # fmt: skip
            if not records(portal_id, ends[1]).filter(external_id=target).exists():
                raise ApiError(400, f"No {ends[1][:-1]} with id {target} exists.", "OBJECT_NOT_FOUND")
            links.append((target, type_id))
    for _attempt in range(3):  # two creations may race for the next id
        try:
            with transaction.atomic():
                moment = now_ms()
                record = new_record(
                    portal_id, name, next_ids(name, 1)[0], properties, created=moment, modified=moment
                )
                record.save()
                rows = [
                    row
                    for target, type_id in links
                    for row in association_pair(portal_id, name, record.external_id, target, type_id)
                ]
                SandboxAssociation.objects.bulk_create(rows, ignore_conflicts=True)
            return json_response(record_json(record, list(properties)), 201)
        except IntegrityError:
            continue
    raise ApiError(409, "Could not allocate an id; try again.", "CONFLICT")


@api
def object_detail(request: HttpRequest, portal_id: str, object_type: str, object_id: str) -> HttpResponse:
    """GET one record, PATCH its properties (the modification stamp moves), DELETE archives it. Another
    portal's record is not found (404), as in HubSpot."""
    _methods(request, "GET", "PATCH", "DELETE")
    record = get_record(portal_id, object_name(object_type), object_id)
    if request.method == "GET":
        return json_response(record_json(record, wanted_properties(request.GET.get("properties"))))
    if request.method == "DELETE":
        record.archived, record.archived_at = True, now_ms()
        record.save(update_fields=["archived", "archived_at"])
        return HttpResponse(status=204)
    changes = _body(request).get("properties")
    if not isinstance(changes, dict):
        raise ApiError(400, "Invalid input JSON: properties must be an object.")
    update_properties(record, changes)
    return json_response(record_json(record, list(changes)))


@api
def object_search(request: HttpRequest, portal_id: str, object_type: str) -> HttpResponse:
    _methods(request, "POST")
    name = object_name(object_type)
    body = _body(request)
    rows, total, after = search(portal_id, name, body)
    wanted = wanted_properties(body.get("properties"))
    answer: dict[str, Any] = {"total": total, "results": [record_json(r, wanted) for r in rows]}
    if after + len(rows) < total:
        # Past 10,000 the next `after` is still announced; following it is refused (crm-apis.md §7).
        answer["paging"] = {"next": {"after": str(after + len(rows))}}
    return json_response(answer)


@api
def batch_read(request: HttpRequest, portal_id: str, object_type: str) -> HttpResponse:
    _methods(request, "POST")
    name = object_name(object_type)
    body = _body(request)
    ids = [str(item.get("id")) for item in body.get("inputs") or []]
    if len(ids) > BATCH_LIMIT:
        raise ApiError(400, f"Batch input limit exceeded: at most {BATCH_LIMIT} inputs, got {len(ids)}.")
    found = {r.external_id: r for r in records(portal_id, name).filter(external_id__in=ids)}
    wanted = wanted_properties(body.get("properties"))
    started = iso(now_ms())
    answer: dict[str, Any] = {"status": "COMPLETE", "results": [record_json(found[i], wanted) for i in dict.fromkeys(ids) if i in found],
                              "startedAt": started, "completedAt": iso(now_ms())}  # fmt: skip
    missing = [i for i in dict.fromkeys(ids) if i not in found]
    if not missing:
        return json_response(answer)
    answer["numErrors"] = 1
    answer["errors"] = [{
        "status": "error", "category": "OBJECT_NOT_FOUND", "context": {"ids": missing},
        "message": f"Could not get some {name[:-1].upper()} objects, they may be deleted or not exist. Check that ids are valid.",
    }]  # fmt: skip
    return json_response(answer, 207)


# -- v4 associations ------------------------------------------------------------------------------------------
def _association_page(targets: dict[str, list[int]], after: str) -> tuple[list[dict[str, Any]], str | None]:
    ordered = [to_id for to_id in targets if not after or to_id > after]
    page = ordered[:ASSOCIATIONS_PAGE]
    following = page[-1] if len(ordered) > ASSOCIATIONS_PAGE else None
    return [association_json(to_id, targets[to_id]) for to_id in page], following


@api
def associations_batch_read(request: HttpRequest, portal_id: str, from_type: str, to_type: str) -> HttpResponse:
    """POST /crm/v4/associations/{from}/{to}/batch/read: 207 with NO_ASSOCIATIONS_FOUND errors for lone ids."""
    _methods(request, "POST")
    source, target = object_name(from_type), object_name(to_type)
    inputs = _body(request).get("inputs") or []
    if len(inputs) > BATCH_LIMIT:
        raise ApiError(400, f"Batch input limit exceeded: at most {BATCH_LIMIT} inputs, got {len(inputs)}.")
    found = associations_of(portal_id, source, [str(i.get("id")) for i in inputs], target)
    results, errors = [], []
    for item in inputs:
        from_id = str(item.get("id"))
        if from_id not in found:
            errors.append({
                "status": "error", "category": "OBJECT_NOT_FOUND", "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                "message": f"No {target[:-1]} is associated with {source[:-1]} {from_id}.",
                "context": {"fromObjectId": [from_id], "fromObjectType": [source[:-1]], "toObjectType": [target[:-1]]},
            })  # fmt: skip
            continue
        page, following = _association_page(found[from_id], str(item.get("after") or ""))
        result: dict[str, Any] = {"from": {"id": from_id}, "to": page}
        if following:
            result["paging"] = {"next": {"after": following, "link": None}}
        results.append(result)
    answer: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": iso(now_ms()),
                              "completedAt": iso(now_ms())}  # fmt: skip
    if errors:
        answer.update(errors=errors, numErrors=len(errors))
    return json_response(answer, 207 if errors else 200)


@api
def associations_list(
    request: HttpRequest, portal_id: str, from_type: str, object_id: str, to_type: str
) -> HttpResponse:
    """GET /crm/v4/objects/{from}/{id}/associations/{to}?limit=&after= (500 a page)."""
    _methods(request, "GET")
    source, target = object_name(from_type), object_name(to_type)
    get_record(portal_id, source, object_id)
    page, following = _association_page(associations_of(portal_id, source, [object_id], target).get(object_id, {}),
                                        request.GET.get("after", ""))  # fmt: skip
    body: dict[str, Any] = {"results": page}
    if following:
        body["paging"] = {"next": {"after": following, "link": None}}
    return json_response(body)


# -- properties and pipelines ---------------------------------------------------------------------------------
@api
def properties(request: HttpRequest, portal_id: str, object_type: str) -> HttpResponse:
    """GET all properties of an object; POST creates one (409 when the name is taken)."""
    _methods(request, "GET", "POST")
    name = object_name(object_type)
    if request.method == "GET":
        return json_response({"results": list(property_definitions(portal_id, name).values())})
    body = _body(request)
    prop, kind = str(body.get("name") or ""), str(body.get("type") or "")
    if not prop or not body.get("label") or not body.get("groupName") or not body.get("fieldType"):
        raise ApiError(400, "name, label, type, fieldType and groupName are required.")
    if kind not in ("string", "number", "date", "datetime", "enumeration", "bool"):
        raise ApiError(400, f"Invalid property type {kind!r}.")
    if prop in property_definitions(portal_id, name):
        raise ApiError(409, f"Property named '{prop}' already exists.", "OBJECT_ALREADY_EXISTS",
                       context={"name": [prop]})  # fmt: skip
    SandboxProperty.objects.create(
        crm=schema.CRM, account_id=portal_id, object_type=name, name=prop, label=str(body["label"]), type=kind,
        field_type=str(body["fieldType"]), options=body.get("options") or [], created_by_api=True,
    )  # fmt: skip
    created = property_json(name, prop, str(body["label"]), kind, str(body["fieldType"]),
                            options=body.get("options") or [], hubspot_defined=False, group=str(body["groupName"]))  # fmt: skip
    return json_response(created, 201)


@api
def property_detail(request: HttpRequest, portal_id: str, object_type: str, property_name: str) -> HttpResponse:
    _methods(request, "GET")
    found = property_definitions(portal_id, object_name(object_type)).get(property_name)
    if found is None:
        raise ApiError(404, f"Unable to find property {property_name}", "OBJECT_NOT_FOUND")
    return json_response(found)


@api
def deal_pipelines(request: HttpRequest, portal_id: str) -> HttpResponse:
    _methods(request, "GET")
    return json_response({"results": schema.PIPELINES})


def _owner_json(record: SandboxRecord) -> dict[str, Any]:
    return {
        **record.properties,
        "createdAt": record.created_at.isoformat().replace("+00:00", "Z"),
        "updatedAt": record.updated_at.isoformat().replace("+00:00", "Z"),
        "archived": record.archived,
    }


@api
def owners(request: HttpRequest, portal_id: str) -> HttpResponse:
    """GET /crm/v3/owners/?email=&limit=&after= (https://developers.hubspot.com/docs/api/crm/owners)."""
    _methods(request, "GET")
    rows = records(portal_id, "owners").order_by("external_id")
    email = request.GET.get("email")
    found = [r for r in rows if not email or r.properties.get("email", "").lower() == email.lower()]
    try:
        limit = max(1, min(int(request.GET.get("limit", 100)), 500))
        start = int(request.GET.get("after") or 0)
    except ValueError as bad:
        raise ApiError(400, "limit and after must be numbers.") from bad
    page = found[start : start + limit]
    body: dict[str, Any] = {"results": [_owner_json(r) for r in page]}
    if start + limit < len(found):
        body["paging"] = {"next": {"after": str(start + limit)}}
    return json_response(body)


@api
def owner_detail(request: HttpRequest, portal_id: str, owner_id: str) -> HttpResponse:
    _methods(request, "GET")
    record = all_records(portal_id, "owners").filter(external_id=owner_id).first()
    if record is None:
        raise ApiError(404, f"Owner {owner_id} not found.", "OBJECT_NOT_FOUND")
    return json_response(_owner_json(record))
