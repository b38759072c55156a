"""OAuth with requests-oauthlib: the authorize redirect, the callback, and tokens that refresh themselves.

State is bound to the browser session and expires; PKCE is used where the provider supports it; a host a
provider hands back (Salesforce instance_url) must be on that provider's allow-list; refreshes of one
connection are serialised on its row, and a rotated refresh token is stored at once (reliability R9)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from oauthlib.oauth2 import OAuth2Error
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from .base import Connector, ConnectorError, OAuthSpec
from .models import Connection

log = logging.getLogger(__name__)

STATE_TTL = dt.timedelta(minutes=15)
# Refresh when less than this share of the token's life is left (crm-apis.md §8: at about 80 % of TTL).
REFRESH_AT_REMAINING = 0.2
SESSION_PREFIX = "oauth:"
# How long a refresh may take before another worker may claim it again.
REFRESH_WAIT_SECONDS = 30


class OAuthFlowError(Exception):
    """The browser came back with something we cannot accept; the message is for the person."""


def crm_settings(crm: str) -> dict[str, Any]:
    return settings.CRM_SETTINGS.get(crm, {})


def client_configured(crm: str) -> bool:
    conf = crm_settings(crm)
    return bool(conf.get("client_id") and conf.get("client_secret"))


def _url(crm: str, setting_key: str, path: str) -> str:
    return crm_settings(crm)[setting_key].rstrip("/") + path


def authorize_url(spec: OAuthSpec, crm: str) -> str:
    return _url(crm, spec.authorize_url_setting, spec.authorize_path)


def token_url(spec: OAuthSpec, crm: str) -> str:
    return _url(crm, spec.token_url_setting, spec.token_path)


def host_allowed(crm: str, url: str) -> bool:
    """Provider-returned hosts must be the provider's own (or the sandbox, when it is on)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        return False
    if _is_sandbox(url):
        return True
    if parts.scheme != "https":
        return False
    return any(host.endswith(suffix) for suffix in settings.CRM_ALLOWED_HOST_SUFFIXES.get(crm, []))


def _is_sandbox(url: str) -> bool:
    """The sandbox's own origin, only while the sandbox is enabled."""
    if not settings.SANDBOX_ENABLED:
        return False
    sandbox, target = urlsplit(settings.SANDBOX_BASE_URL), urlsplit(url)
    return (sandbox.scheme, sandbox.netloc) == (target.scheme, target.netloc)


@contextmanager
def _transport_for(url: str) -> Iterator[None]:
    """oauthlib insists on HTTPS, rightly; the local sandbox (on only when enabled) speaks plain HTTP."""
    if not _is_sandbox(url) or url.startswith("https://"):
        yield
        return
    previous = os.environ.get("OAUTHLIB_INSECURE_TRANSPORT")
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("OAUTHLIB_INSECURE_TRANSPORT", None)
        else:
            os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = previous


def _session(spec: OAuthSpec, client_id: str, **kwargs: Any) -> OAuth2Session:
    """An OAuth2Session; for a provider that wants JSON token requests, the form body becomes JSON."""
    session = OAuth2Session(client_id, **kwargs)
    if spec.token_body == "json":

        def request_as_json(url: str, headers: dict[str, str], kwargs: dict[str, Any]) -> tuple[Any, ...]:
            # The code exchange hands its request arguments ({"data": {...}}).
            data = kwargs.pop("data", None) or {}
            return url, {**headers, "Content-Type": "application/json"}, {**kwargs, "json": dict(data)}

        session.register_compliance_hook("access_token_request", request_as_json)
    return session


def _refresh_request(spec: OAuthSpec, url: str, conf: dict[str, Any], refresh_token: str) -> dict[str, Any]:
    params = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": conf["client_id"],
        "client_secret": conf["client_secret"],
    }
    if spec.token_body != "json":
        session = OAuth2Session(conf["client_id"])
        if spec.client_auth == "basic":
            # Pipedrive: the client's credentials in an Authorization header, not in the body.
            auth = HTTPBasicAuth(conf["client_id"], conf["client_secret"])
            return dict(
                session.refresh_token(
                    url, refresh_token=refresh_token, auth=auth, timeout=settings.CRM_HTTP_TIMEOUT
                )
            )
        return dict(
            session.refresh_token(
                url, refresh_token=refresh_token, client_id=conf["client_id"],
                client_secret=conf["client_secret"], timeout=settings.CRM_HTTP_TIMEOUT,
            )
        )  # fmt: skip
    # requests-oauthlib always form-encodes a refresh; a JSON provider gets its own POST.
    response = requests.post(url, json=params, timeout=settings.CRM_HTTP_TIMEOUT)
    try:
        body = response.json()
    except ValueError as bad:
        raise ValueError(f"The token endpoint answered HTTP {response.status_code} without JSON.") from bad
    if body.get("error") in spec.revoked_errors:
        raise InvalidGrantError(description=body.get("error_description", ""))
    if response.status_code >= 400 or "access_token" not in body:
        raise ValueError(
            f"The token endpoint answered HTTP {response.status_code}: {body.get('error') or body}"
        )
    return body


def _pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)[:96]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


# ---- the browser dance ---------------------------------------------------------------------------------


def oauth_start(
    *,
    session: Any,
    connector: type[Connector],
    redirect_uri: str,
    workspace_id: int,
    connection_id: int | None = None,
) -> str:
    """The URL to send the browser to; what we need to check the callback is kept in the session."""
    crm = connector.key
    if not client_configured(crm):
        raise OAuthFlowError(
            f"{connector.label} is not configured: set {crm.upper()}_CLIENT_ID and {crm.upper()}_CLIENT_SECRET."
        )
    spec = connector.oauth
    state = secrets.token_urlsafe(32)
    extra: dict[str, str] = {}
    verifier = ""
    if spec.pkce:
        verifier, challenge = _pkce_pair()
        extra = {"code_challenge": challenge, "code_challenge_method": "S256"}
    oauth = OAuth2Session(
        crm_settings(crm)["client_id"],
        redirect_uri=redirect_uri,
        scope=spec.scope_separator.join(spec.scopes),
    )
    with _transport_for(authorize_url(spec, crm)):
        url, _ = oauth.authorization_url(authorize_url(spec, crm), state=state, **extra)
    session[SESSION_PREFIX + crm] = {
        "state": state,
        "verifier": verifier,
        "workspace_id": workspace_id,
        "connection_id": connection_id,
        "redirect_uri": redirect_uri,
        "started_at": timezone.now().isoformat(),
    }
    return url


@dataclass
class OAuthResult:
    tokens: dict[str, Any]
    expires_at: dt.datetime | None
    base_url: str
    workspace_id: int
    connection_id: int | None


def oauth_finish(*, session: Any, connector: type[Connector], params: dict[str, str]) -> OAuthResult:
    crm = connector.key
    pending = session.pop(SESSION_PREFIX + crm, None)
    if not pending:
        raise OAuthFlowError("This sign-in link has expired or was already used. Start the connection again.")
    started = dt.datetime.fromisoformat(pending["started_at"])
    if timezone.now() - started > STATE_TTL:
        raise OAuthFlowError("The sign-in took too long and has expired. Start the connection again.")
    if not secrets.compare_digest(params.get("state", ""), pending["state"]):
        raise OAuthFlowError(
            "This sign-in does not match the one started from Skalin. Start the connection again."
        )
    if params.get("error"):
        reason = params.get("error_description") or params["error"]
        raise OAuthFlowError(f"{connector.label} did not grant access: {reason}.")
    if not params.get("code"):
        raise OAuthFlowError(f"{connector.label} sent no authorization code. Start the connection again.")
    spec = connector.oauth
    conf = crm_settings(crm)
    try:
        exchange_url = connector.oauth_callback_token_url(params) or token_url(spec, crm)
    except ValueError as refused:
        raise OAuthFlowError(str(refused)) from refused
    oauth = _session(spec, conf["client_id"], redirect_uri=pending["redirect_uri"])
    extra: dict[str, Any] = {"code_verifier": pending["verifier"]} if spec.pkce else {}
    try:
        with _transport_for(exchange_url):
            token = oauth.fetch_token(
                exchange_url,
                code=params["code"],
                client_secret=conf["client_secret"],
                include_client_id=spec.client_auth == "body",
                timeout=settings.CRM_HTTP_TIMEOUT,
                **extra,
            )
    except (OAuth2Error, requests.RequestException, ValueError) as failure:
        raise OAuthFlowError(f"{connector.label} refused the sign-in: {failure}") from failure
    base_url = ""
    if spec.base_url_key:
        base_url = str(token.get(spec.base_url_key, "")).rstrip("/")
        if not host_allowed(crm, base_url):
            raise OAuthFlowError(f"{connector.label} pointed to an unexpected host ({base_url!r}); refused.")
    tokens = _token_fields(token, previous=None)
    if exchange_url != token_url(spec, crm):
        # Refreshes go where the sign-in went (the account's data centre).
        tokens["token_url"] = exchange_url
    return OAuthResult(
        tokens=tokens,
        expires_at=_expires_at(token),
        base_url=base_url,
        workspace_id=pending["workspace_id"],
        connection_id=pending["connection_id"],
    )


def _token_fields(token: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    refresh = token.get("refresh_token") or (previous or {}).get("refresh_token", "")
    fields = {
        "access_token": token["access_token"],
        "refresh_token": refresh,
        "issued_at": timezone.now().isoformat(),
    }
    if previous and previous.get("token_url"):
        fields["token_url"] = previous["token_url"]
    return fields


def _expires_at(token: dict[str, Any]) -> dt.datetime | None:
    seconds = token.get("expires_in")
    if not seconds:
        return None  # Salesforce: the org's session timeout; we refresh on INVALID_SESSION_ID.
    return timezone.now() + dt.timedelta(seconds=int(seconds))


# ---- tokens that refresh themselves -------------------------------------------------------------------


class ConnectionTokens:
    """The token source a connection's CrmHttp uses."""

    def __init__(self, connection: Connection, connector: type[Connector]) -> None:
        self.connection_id = connection.pk
        self.connector = connector
        self._access = connection.tokens.get("access_token", "")
        self._expires_at = connection.token_expires_at
        self._issued_at = connection.tokens.get("issued_at")

    def access_token(self) -> str:
        if self._due():
            return self.refresh(proactive=True)
        return self._access

    def _due(self) -> bool:
        if self._expires_at is None:
            return False
        now = timezone.now()
        issued = dt.datetime.fromisoformat(self._issued_at) if self._issued_at else now
        life = max((self._expires_at - issued).total_seconds(), 60.0)
        return (self._expires_at - now).total_seconds() < life * REFRESH_AT_REMAINING

    def refresh(self, proactive: bool = False) -> str:
        """One refresh per connection at a time (R9): a conditional UPDATE claims the refresh, so no
        database lock is held while the provider answers; the others wait for the new token."""
        deadline = time.monotonic() + REFRESH_WAIT_SECONDS
        while True:
            connection = Connection.objects.get(pk=self.connection_id)
            stored = connection.tokens
            if stored.get("access_token") and stored["access_token"] != self._access:
                # Another worker refreshed meanwhile: use its token.
                self._remember(connection, stored)
                if not proactive or not self._due():
                    return self._access
            if not stored.get("refresh_token"):
                connection_mark_reconnect_needed(
                    connection_id=self.connection_id, reason="No refresh token is stored."
                )
                raise ConnectorError("No refresh token is stored.", reconnect=True)
            now = timezone.now()
            claimed = (
                Connection.objects.filter(pk=self.connection_id)
                .filter(Q(token_refresh_claimed_until__isnull=True) | Q(token_refresh_claimed_until__lt=now))
                .update(token_refresh_claimed_until=now + dt.timedelta(seconds=REFRESH_WAIT_SECONDS))
            )
            if claimed:
                break
            if time.monotonic() > deadline:
                raise ConnectorError(f"Another worker is still refreshing the {self.connector.label} token.")
            time.sleep(0.5)
        try:
            return self._refresh_claimed(stored)
        finally:
            Connection.objects.filter(pk=self.connection_id).update(token_refresh_claimed_until=None)

    def _refresh_claimed(self, stored: dict[str, Any]) -> str:
        spec = self.connector.oauth
        conf = crm_settings(self.connector.key)
        url = stored.get("token_url") or token_url(spec, self.connector.key)
        try:
            with _transport_for(url):
                token = _refresh_request(spec, url, conf, stored["refresh_token"])
        except InvalidGrantError:
            reason = f"{self.connector.label} revoked the access (invalid_grant)."
            connection_mark_reconnect_needed(connection_id=self.connection_id, reason=reason)
            raise ConnectorError(reason, reconnect=True) from None
        except OAuth2Error as failure:
            if failure.error in spec.revoked_errors:
                reason = f"{self.connector.label} revoked the access ({failure.error})."
                connection_mark_reconnect_needed(connection_id=self.connection_id, reason=reason)
                raise ConnectorError(reason, reconnect=True) from None
            raise ConnectorError(
                f"Could not refresh the {self.connector.label} token: {failure}"
            ) from failure
        except (requests.RequestException, ValueError) as failure:
            raise ConnectorError(
                f"Could not refresh the {self.connector.label} token: {failure}"
            ) from failure
        # A rotated refresh token is stored at once; a response without one keeps the old.
        tokens = _token_fields(token, previous=stored)
        connection = Connection.objects.get(pk=self.connection_id)
        connection.set_tokens(tokens, expires_at=_expires_at(token))
        update = ["encrypted_tokens", "token_expires_at", "updated_at"]
        # The provider may move the account's API host (Zoho's api_domain): follow it, once checked.
        moved = str(token.get(spec.base_url_key, "")).rstrip("/") if spec.base_url_key else ""
        if moved and moved != connection.base_url and host_allowed(self.connector.key, moved):
            connection.base_url = moved
            update.append("base_url")
        connection.save(update_fields=update)
        self._remember(connection, tokens)
        self._refreshed = (tokens, connection.token_expires_at)
        return self._access

    _refreshed: tuple[dict[str, Any], dt.datetime | None] | None = None

    def persist(self) -> None:
        """Store again a token refreshed inside a transaction that was then rolled back (a plan): the
        provider may have rotated the refresh token, and losing it would force a reconnect."""
        if self._refreshed is None:
            return
        tokens, expires_at = self._refreshed
        connection = Connection.objects.get(pk=self.connection_id)
        connection.set_tokens(tokens, expires_at=expires_at)
        connection.save(update_fields=["encrypted_tokens", "token_expires_at", "updated_at"])

    def _remember(self, connection: Connection, tokens: dict[str, Any]) -> None:
        self._access = tokens.get("access_token", "")
        self._expires_at = connection.token_expires_at
        self._issued_at = tokens.get("issued_at")


def connection_mark_reconnect_needed(*, connection_id: int, reason: str) -> None:
    from .models import Notification
    from .notifications import notify_admins

    Connection.objects.filter(pk=connection_id).update(
        status=Connection.Status.RECONNECT_NEEDED, last_error=reason, last_error_at=timezone.now()
    )
    connection = Connection.objects.get(pk=connection_id)
    notify_admins(
        connection=connection,
        cause=Notification.Cause.RECONNECT,
        message=f"{connection.get_crm_display()} needs reconnecting: {reason} Until then nothing syncs.",
    )
