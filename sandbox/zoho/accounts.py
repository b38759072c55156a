"""The fake Zoho accounts server (accounts.zoho.<dc>): consent page, token endpoint and its limits.

Authorization: https://www.zoho.com/accounts/protocol/oauth/web-apps/authorization.html
Tokens: https://www.zoho.com/accounts/protocol/oauth/web-apps/access-token.html
Limits (crm-apis.md §4.1): a user holds at most 20 refresh tokens; minting a 21st deletes the oldest.
A refresh token is minted only with access_type=offline, and then on the first consent or with
prompt=consent; otherwise the exchange returns an access token alone. Errors come back as HTTP 200 with
{"error": "invalid_code"} (Zoho's habit), which OAuth clients must treat as a refused grant."""

from __future__ import annotations

import datetime as dt
import hmac
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from ..common import account_for, issue_code, json_response, new_token, sandbox_only
from ..models import SandboxAccount, SandboxToken
from .store import CRM, DEFAULT_ORG, DEFAULT_USER_EMAIL

ACCESS_SECONDS = 3600
REFRESH_TOKENS_PER_USER = 20
AUTHORIZE_PARAMS = ("response_type", "client_id", "redirect_uri", "scope", "state", "access_type", "prompt")


def accounts_url() -> str:
    return f"{settings.SANDBOX_BASE_URL}/sandbox/zoho-accounts"


def api_domain() -> str:
    return f"{settings.SANDBOX_BASE_URL}/sandbox/zoho"


def _client() -> dict[str, str]:
    return settings.CRM_SETTINGS.get("zoho", {})


def _page(body: str, status: int = 200) -> HttpResponse:
    return HttpResponse(
        format_html(
            "<!doctype html><html><head><title>Zoho Accounts sandbox</title></head>"
            "<body><h1>Zoho CRM (sandbox)</h1>{}</body></html>",
            body,
        ),
        status=status,
    )


@sandbox_only
def authorize(request: HttpRequest) -> HttpResponse:
    # The form posts back to this URL with its query string: both halves are read.
    params = {**request.GET.dict(), **request.POST.dict()}
    redirect_uri = params.get("redirect_uri", "")
    if not _client().get("client_id") or params.get("client_id") != _client()["client_id"]:
        return _page(format_html("<p>Invalid Client: {}</p>", params.get("client_id", "")), status=400)
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return _page(format_html("<p>Invalid Redirect Uri</p>"), status=400)
    if params.get("response_type") != "code":
        return _page(format_html("<p>Invalid response_type</p>"), status=400)
    if request.method != "POST":
        hidden = format_html_join(
            "",
            '<input type="hidden" name="{}" value="{}">',
            ((name, params.get(name, "")) for name in AUTHORIZE_PARAMS),
        )
        return _page(
            format_html(
                '<form method="post"><p>Skalin would like to access your Zoho CRM data: {}</p>{}'
                '<button name="decision" value="allow">Allow</button> '
                '<button name="decision" value="deny">Deny</button></form>',
                params.get("scope", ""),
                hidden,
            )
        )
    state = params.get("state", "")
    if params.get("decision") != "allow":
        return HttpResponseRedirect(_with_query(redirect_uri, {"error": "access_denied", "state": state}))
    account = account_for(CRM, DEFAULT_ORG)
    if account.user_email == SandboxAccount._meta.get_field("user_email").get_default():
        account.user_email = DEFAULT_USER_EMAIL
        account.save(update_fields=["user_email"])
    code = issue_code(crm=CRM, account=account, redirect_uri=redirect_uri)
    # What the exchange must honour, kept on the code.
    grant = f"{params.get('access_type', 'online')};{params.get('prompt', '')}"
    SandboxToken.objects.filter(pk=code.pk).update(code_challenge=grant)
    query = {"state": state, "code": code.value, "location": "us", "accounts-server": accounts_url()}
    return HttpResponseRedirect(_with_query(redirect_uri, query))


def _with_query(url: str, params: dict[str, str]) -> str:
    return f"{url}{'&' if urlsplit(url).query else '?'}{urlencode(params)}"


def _error(error: str) -> HttpResponse:
    return json_response({"error": error})  # HTTP 200, as Zoho does


@sandbox_only
def token(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return json_response({"error": "invalid_request"}, status=405)
    form = {**request.GET.dict(), **request.POST.dict()}
    client = _client()
    if not client.get("client_id") or form.get("client_id") != client["client_id"]:
        return _error("invalid_client")
    if not hmac.compare_digest(form.get("client_secret", ""), client.get("client_secret", "")):
        return _error("invalid_client_secret")
    grant = form.get("grant_type")
    if grant == "authorization_code":
        return _exchange(form)
    if grant == "refresh_token":
        refresh = SandboxToken.objects.filter(
            crm=CRM, kind=SandboxToken.Kind.REFRESH, value=form.get("refresh_token", ""), revoked=False
        ).first()
        if refresh is None:
            return _error("invalid_code")
        return json_response(_body(_access(refresh.account_id, refresh.user_email)))
    return _error("unsupported_grant_type")


def _exchange(form: dict[str, str]) -> HttpResponse:
    code = SandboxToken.objects.filter(
        crm=CRM, kind=SandboxToken.Kind.CODE, value=form.get("code", ""), revoked=False
    ).first()
    if code is None or (code.expires_at and code.expires_at <= timezone.now()):
        return _error("invalid_code")
    if form.get("redirect_uri") != code.redirect_uri:
        return _error("invalid_redirect_uri")
    SandboxToken.objects.filter(pk=code.pk).update(revoked=True)  # a code is good once
    access_type, _, prompt = code.code_challenge.partition(";")
    body = _body(_access(code.account_id, code.user_email))
    live = live_refresh_tokens(code.user_email)
    if access_type == "offline" and (prompt == "consent" or not live.exists()):
        body["refresh_token"] = mint_refresh_token(code.account_id, code.user_email).value
    return json_response(body)


def live_refresh_tokens(user_email: str) -> QuerySet[SandboxToken]:
    return SandboxToken.objects.filter(
        crm=CRM, kind=SandboxToken.Kind.REFRESH, user_email=user_email, revoked=False
    ).order_by("created_at", "pk")


def mint_refresh_token(account_id: str, user_email: str) -> SandboxToken:
    """The 21st refresh token of a user deletes the oldest (crm-apis.md §4.1)."""
    live = list(live_refresh_tokens(user_email).values_list("pk", flat=True))
    extra = len(live) - REFRESH_TOKENS_PER_USER + 1
    if extra > 0:
        SandboxToken.objects.filter(pk__in=live[:extra]).update(revoked=True)
    return SandboxToken.objects.create(
        crm=CRM, kind=SandboxToken.Kind.REFRESH, value=new_token("1000.rt"), account_id=account_id,
        user_email=user_email,
    )  # fmt: skip


def _access(account_id: str, user_email: str) -> SandboxToken:
    return SandboxToken.objects.create(
        crm=CRM,
        kind=SandboxToken.Kind.ACCESS,
        value=new_token("1000.at"),
        account_id=account_id,
        user_email=user_email,
        expires_at=timezone.now() + dt.timedelta(seconds=ACCESS_SECONDS),
    )


def _body(access: SandboxToken) -> dict[str, object]:
    return {
        "access_token": access.value,
        "scope": "ZohoCRM.modules.ALL ZohoCRM.settings.fields.ALL",
        "api_domain": api_domain(),
        "token_type": "Bearer",
        "expires_in": ACCESS_SECONDS,
    }
