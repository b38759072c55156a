"""The fake login.salesforce.com: the web-server OAuth flow with PKCE.

Flow: https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_web_server_flow.htm
PKCE: https://help.salesforce.com/s/articleView?id=sf.remoteaccess_pkce.htm
Token response (no expires_in; `id`, `issued_at`, `signature`, `instance_url`):
https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_endpoints.htm"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import time
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from ..common import account_for, issue_code, json_response, new_token, sandbox_only
from ..models import SandboxAccount, SandboxToken
from .schema import CRM, DEFAULT_ORG, DEFAULT_USER_EMAIL
from .store import org_for_token

# The org's session timeout: Salesforce does not say it in the token response; the fake expires tokens
# after it so that connectors meet INVALID_SESSION_ID and refresh, as with a real org.
SESSION_SECONDS = 2 * 60 * 60
AUTHORIZE_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)


def instance_url() -> str:
    return f"{settings.SANDBOX_BASE_URL}/sandbox/salesforce"


def login_url() -> str:
    return f"{settings.SANDBOX_BASE_URL}/sandbox/salesforce-login"


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _client() -> dict[str, str]:
    return settings.CRM_SETTINGS["salesforce"]


def _page(body: str, status: int = 200) -> HttpResponse:
    return HttpResponse(
        format_html(
            "<!doctype html><html><head><title>Salesforce sandbox: log in</title></head>"
            "<body><h1>Salesforce (sandbox)</h1>{}</body></html>",
            body,
        ),
        status=status,
    )


def _authorize_error(error: str, description: str) -> HttpResponse:
    # Salesforce shows these on its own page (it must not redirect to an unverified redirect_uri).
    return _page(format_html("<p>error={}&amp;error_description={}</p>", error, description), status=400)


@sandbox_only
def authorize(request: HttpRequest) -> HttpResponse:
    params = request.POST if request.method == "POST" else request.GET
    redirect_uri = params.get("redirect_uri", "")
    if not _client()["client_id"] or params.get("client_id") != _client()["client_id"]:
        return _authorize_error("invalid_client_id", "client identifier invalid")
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return _authorize_error("redirect_uri_mismatch", "redirect_uri must match configuration")
    if params.get("response_type") != "code":
        return _authorize_error("unsupported_response_type", "response type not supported")
    if params.get("code_challenge_method", "S256") != "S256":
        return _authorize_error("invalid_request", "code_challenge_method must be S256")

    if request.method != "POST":
        orgs = [DEFAULT_ORG] + [
            org
            for org in SandboxAccount.objects.filter(crm=CRM).values_list("account_id", flat=True)
            if org != DEFAULT_ORG
        ]
        hidden = format_html_join(
            "",
            '<input type="hidden" name="{}" value="{}">',
            ((name, params.get(name, "")) for name in AUTHORIZE_PARAMS),
        )
        options = format_html_join("", '<option value="{}">{}</option>', ((org, org) for org in orgs))
        return _page(
            format_html(
                '<form method="post"><p>Allow access to your org? It asks for: {}</p>{}'
                '<label>Org <select name="org">{}</select></label> '
                '<button name="decision" value="allow">Allow</button> '
                '<button name="decision" value="deny">Deny</button></form>',
                params.get("scope", ""),
                hidden,
                options,
            )
        )

    state = params.get("state", "")
    if params.get("decision") != "allow":
        query = {
            "error": "access_denied",
            "error_description": "end-user denied authorization",
            "state": state,
        }
        return HttpResponseRedirect(_with_query(redirect_uri, query))
    account = account_for(CRM, params.get("org") or DEFAULT_ORG)
    if account.user_email == SandboxAccount._meta.get_field("user_email").get_default():
        account.user_email = DEFAULT_USER_EMAIL
        account.save(update_fields=["user_email"])
    code = issue_code(
        crm=CRM, account=account, redirect_uri=redirect_uri, code_challenge=params.get("code_challenge", "")
    )
    return HttpResponseRedirect(_with_query(redirect_uri, {"code": code.value, "state": state}))


def _with_query(url: str, params: dict[str, str]) -> str:
    return f"{url}{'&' if urlsplit(url).query else '?'}{urlencode(params)}"


def _token_error(error: str, description: str, status: int = 400) -> HttpResponse:
    return json_response({"error": error, "error_description": description}, status=status)


@sandbox_only
def token(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _token_error("invalid_request", "must use HTTP POST", status=405)
    form = request.POST
    client = _client()
    if not client["client_id"] or form.get("client_id") != client["client_id"]:
        return _token_error("invalid_client_id", "client identifier invalid")
    secret = form.get("client_secret")
    if secret is not None and not hmac.compare_digest(secret, client["client_secret"]):
        return _token_error("invalid_client", "invalid client credentials")

    grant = form.get("grant_type")
    if grant == "authorization_code":
        return _exchange_code(request, secret_given=secret is not None)
    if grant == "refresh_token":
        return _refresh(form.get("refresh_token", ""))
    return _token_error("unsupported_grant_type", "grant type not supported")


def _exchange_code(request: HttpRequest, *, secret_given: bool) -> HttpResponse:
    form = request.POST
    code = SandboxToken.objects.filter(
        crm=CRM, kind=SandboxToken.Kind.CODE, value=form.get("code", ""), revoked=False
    ).first()
    if code is None or (code.expires_at and code.expires_at <= timezone.now()):
        return _token_error("invalid_grant", "invalid authorization code")
    if form.get("redirect_uri") != code.redirect_uri:
        return _token_error("redirect_uri_mismatch", "redirect_uri must match configuration")
    verifier = form.get("code_verifier")
    if code.code_challenge:
        if not verifier or not hmac.compare_digest(pkce_challenge(verifier), code.code_challenge):
            return _token_error("invalid_grant", "invalid code verifier")
    elif not secret_given:
        return _token_error("invalid_client", "invalid client credentials")
    # A code is good once.
    SandboxToken.objects.filter(pk=code.pk).update(revoked=True)
    access = _access_token(code.account_id, code.user_email)
    refresh = SandboxToken.objects.create(
        crm=CRM,
        kind=SandboxToken.Kind.REFRESH,
        value=new_token("rt"),
        account_id=code.account_id,
        user_email=code.user_email,
    )
    return json_response(_token_body(access, refresh_token=refresh.value))


def _refresh(value: str) -> HttpResponse:
    refresh = SandboxToken.objects.filter(
        crm=CRM, kind=SandboxToken.Kind.REFRESH, value=value, revoked=False
    ).first()
    if refresh is None:
        return _token_error("invalid_grant", "expired access/refresh token")
    # Salesforce keeps the refresh token: the refresh response carries no new one.
    return json_response(_token_body(_access_token(refresh.account_id, refresh.user_email)))


def _access_token(org_id: str, user_email: str) -> SandboxToken:
    return SandboxToken.objects.create(
        crm=CRM,
        kind=SandboxToken.Kind.ACCESS,
        value=new_token(f"{org_id}!at"),
        account_id=org_id,
        user_email=user_email,
        expires_at=timezone.now() + dt.timedelta(seconds=SESSION_SECONDS),
    )


def _token_body(access: SandboxToken, *, refresh_token: str | None = None) -> dict[str, str]:
    org = org_for_token(access)
    identity = f"{login_url()}/id/{org.org_id}/{org.user_id}"
    issued_at = str(int(time.time() * 1000))
    # The signature lets a client check `id` and `issued_at` came from Salesforce: HMAC-SHA256 with the
    # client secret, base64.
    signature = base64.b64encode(
        hmac.new(
            _client()["client_secret"].encode(), (identity + issued_at).encode(), hashlib.sha256
        ).digest()
    ).decode()
    body = {
        "access_token": access.value,
        "signature": signature,
        "scope": "api refresh_token",
        "instance_url": instance_url(),
        "id": identity,
        "token_type": "Bearer",
        "issued_at": issued_at,
    }
    if refresh_token:
        body["refresh_token"] = refresh_token
    return body
