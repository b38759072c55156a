"""What every fake CRM shares: the on/off switch, token checks, rate limits and call counting."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.request import validate_host
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from .models import SandboxAccount, SandboxCall, SandboxToken

View = Callable[..., HttpResponse]


def sandbox_only(view: View) -> View:
    """Every sandbox URL is a 404 unless SANDBOX_ENABLED; API calls are not browser forms (no CSRF)."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.SANDBOX_ENABLED:
            raise Http404("The CRM sandbox is not enabled.")
        return view(request, *args, **kwargs)

    return wrapper


def acceptable_redirect(uri: str) -> bool:
    """A registered redirect URL stands for Skalin's own hosts: http(s) on one of ALLOWED_HOSTS, which name
    hosts without ports (127.0.0.1 stands for 127.0.0.1:8000 too)."""
    parts = urlsplit(uri)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and validate_host(parts.hostname or "", settings.ALLOWED_HOSTS)
    )


def new_token(prefix: str) -> str:
    return f"{prefix}-{secrets.token_urlsafe(24)}"


def issue_code(
    *, crm: str, account: SandboxAccount, redirect_uri: str, code_challenge: str = ""
) -> SandboxToken:
    return SandboxToken.objects.create(
        crm=crm,
        kind=SandboxToken.Kind.CODE,
        value=new_token("code"),
        account_id=account.account_id,
        user_email=account.user_email,
        redirect_uri=redirect_uri,
        code_challenge=code_challenge,
        expires_at=timezone.now() + dt.timedelta(minutes=10),
    )


def issue_pair(
    *, crm: str, account_id: str, user_email: str, ttl_seconds: int | None
) -> tuple[SandboxToken, SandboxToken]:
    expires = timezone.now() + dt.timedelta(seconds=ttl_seconds) if ttl_seconds else None
    access = SandboxToken.objects.create(
        crm=crm,
        kind=SandboxToken.Kind.ACCESS,
        value=new_token("at"),
        account_id=account_id,
        user_email=user_email,
        expires_at=expires,
    )
    refresh = SandboxToken.objects.create(
        crm=crm,
        kind=SandboxToken.Kind.REFRESH,
        value=new_token("rt"),
        account_id=account_id,
        user_email=user_email,
    )
    return access, refresh


def bearer_token(request: HttpRequest, crm: str) -> SandboxToken | None:
    """The valid access token of the request, or None (expired, revoked, unknown, missing)."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    token = SandboxToken.objects.filter(
        crm=crm, kind=SandboxToken.Kind.ACCESS, value=header.removeprefix("Bearer ").strip(), revoked=False
    ).first()
    if token is None or (token.expires_at is not None and token.expires_at <= timezone.now()):
        return None
    return token


def account_for(crm: str, account_id: str) -> SandboxAccount:
    account, _ = SandboxAccount.objects.get_or_create(crm=crm, account_id=account_id)
    return account


def over_rate_limit(account: SandboxAccount, *, path: str) -> bool:
    """True when the account's configured rate limit is exceeded. Calls are recorded only when a limit needs
    them (or SANDBOX_RECORD_CALLS asks, for benchmarks): a read must not write, or a plan holding a
    transaction on SQLite would lock the sandbox out."""
    now = timezone.now()
    if not account.rate_limit:
        if settings.SANDBOX_RECORD_CALLS:
            SandboxCall.objects.create(
                crm=account.crm, account_id=account.account_id, at=now, path=path[:300]
            )
        return False
    SandboxCall.objects.create(crm=account.crm, account_id=account.account_id, at=now, path=path[:300])
    window_start = now - dt.timedelta(seconds=account.rate_window_seconds)
    recent = SandboxCall.objects.filter(
        crm=account.crm, account_id=account.account_id, at__gt=window_start
    ).count()
    return recent > account.rate_limit


def over_daily_limit(account: SandboxAccount) -> bool:
    if not account.daily_limit:
        return False
    SandboxAccount.objects.filter(pk=account.pk).update(calls_today=account.calls_today + 1)
    account.calls_today += 1
    return account.calls_today > account.daily_limit


def json_body(request: HttpRequest) -> Any:
    if not request.body:
        return {}
    try:
        return json.loads(request.body)
    except ValueError:
        return None


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JsonResponse:
    response = JsonResponse(data, status=status, safe=False)
    for key, value in (headers or {}).items():
        response[key] = value
    return response
