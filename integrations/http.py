"""The one HTTP seam of every connector: base URL, timeouts, retries with Retry-After, token refresh.

Tests mock here (with `responses`); nothing else in Skalin talks to a CRM."""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import random
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from django.conf import settings

from .base import ConnectorError

log = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRYABLE_STATUSES = frozenset({408, 423, 429, 477, 500, 502, 503, 504, 524})
BACKOFF_CAP_SECONDS = 60.0


class TokenSource(Protocol):
    def access_token(self) -> str: ...

    def refresh(self) -> str: ...


ErrorMapper = Callable[[int, Any, dict[str, str]], ConnectorError]


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Retry-After comes as seconds or as an HTTP date; both become seconds from now."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - now).total_seconds())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class CrmHttp:
    def __init__(
        self,
        *,
        base_url: str,
        error_mapper: ErrorMapper | None = None,
        tokens: TokenSource | None = None,
        auth_header: Callable[[str], dict[str, str]] = bearer,
        session: requests.Session | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        max_inline_wait: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # Set by the connector it serves (Connector.__init__) when not given.
        self.error_mapper = error_mapper
        self.tokens = tokens
        self.auth_header = auth_header
        self.session = session or requests.Session()
        self.timeout = timeout if timeout is not None else settings.CRM_HTTP_TIMEOUT
        self.max_retries = max_retries if max_retries is not None else settings.CRM_HTTP_MAX_RETRIES
        self.max_inline_wait = (
            max_inline_wait if max_inline_wait is not None else settings.CRM_MAX_INLINE_WAIT_SECONDS
        )
        self.sleep = sleep
        self.calls = 0
        self.throttled = 0

    # -- helpers ------------------------------------------------------------------------------------------
    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, json: Any = None, *, idempotent: bool = False) -> Any:
        """`idempotent=True` for reads that happen to be POSTs (HubSpot search, batch read)."""
        return self.request("POST", path, json=json, idempotent=idempotent)

    def patch(self, path: str, json: Any = None) -> Any:
        # Setting the same values twice gives the same record: safe to retry.
        return self.request("PATCH", path, json=json, idempotent=True)

    def put(self, path: str, json: Any = None) -> Any:
        return self.request("PUT", path, json=json)

    def url_for(self, path: str) -> str:
        """Vendor paths (even Salesforce's nextRecordsUrl, which starts at the host root) hang off the base
        URL. An absolute URL must be on the same host: a token never leaves for a host the provider did
        not vouch for."""
        if path.startswith(("http://", "https://")):
            if urlsplit(path).netloc != urlsplit(self.base_url).netloc:
                raise ConnectorError(
                    f"Refusing to call {urlsplit(path).netloc}: not this CRM's host.", permanent=True
                )
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    # -- the call -----------------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        method = method.upper()
        safe_to_repeat = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        url = self.url_for(path)
        refreshed = False
        attempt = 0
        while True:
            call_headers = {"Accept": "application/json", **(headers or {})}
            if self.tokens is not None:
                call_headers.update(self.auth_header(self.tokens.access_token()))
            self.calls += 1
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    data=data,
                    headers=call_headers,
                    timeout=self.timeout,
                )
            except (requests.ConnectionError, requests.Timeout) as failure:
                if not safe_to_repeat or attempt >= self.max_retries:
                    raise ConnectorError(
                        f"Network error calling the CRM: {failure.__class__.__name__}"
                    ) from failure
                self._wait(self._backoff(attempt), reason="network error")
                attempt += 1
                continue

            if response.status_code < 400:
                return self._parse(response)

            body = self._body(response)
            resp_headers = {k.lower(): v for k, v in response.headers.items()}
            error = self._error(response.status_code, body, resp_headers)
            if error.reconnect and self.tokens is not None and not refreshed and response.status_code == 401:
                # One refresh, then the same call again; a second 401 means the grant is really gone.
                self.tokens.refresh()
                refreshed = True
                continue
            if response.status_code == 429 or error.rate_limited:
                self.throttled += 1
            retry_after = parse_retry_after(resp_headers.get("retry-after"))
            if retry_after is None:
                retry_after = error.retry_after
            retryable = response.status_code == 429 or (
                safe_to_repeat and response.status_code in RETRYABLE_STATUSES
            )
            if error.rate_limited and response.status_code != 429:
                retryable = retry_after is not None and retry_after <= self.max_inline_wait
            if not retryable or attempt >= self.max_retries:
                if retry_after is not None and error.retry_after is None:
                    error.retry_after = retry_after
                raise error
            wait = max(retry_after or 0.0, self._backoff(attempt))
            if wait > self.max_inline_wait:
                error.retry_after = wait
                error.rate_limited = error.rate_limited or response.status_code == 429
                raise error
            self._wait(wait, reason=f"HTTP {response.status_code}")
            attempt += 1

    def _error(self, status: int, body: Any, headers: dict[str, str]) -> ConnectorError:
        if self.error_mapper is not None:
            return self.error_mapper(status, body, headers)
        return ConnectorError(
            f"HTTP {status}", permanent=400 <= status < 500 and status != 429, status=status
        )

    def _backoff(self, attempt: int) -> float:
        return min(BACKOFF_CAP_SECONDS, (2**attempt) * 0.5 + random.uniform(0, 0.25))

    def _wait(self, seconds: float, *, reason: str) -> None:
        log.info("CRM call: waiting %.1fs after %s", seconds, reason)
        self.sleep(seconds)

    @staticmethod
    def _body(response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            return response.text[:500]

    def _parse(self, response: requests.Response) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        content_type = response.headers.get("Content-Type", "")
        if "html" in content_type.lower():
            # Proxies and maintenance pages answer 200 with HTML: that is an outage, not data.
            raise ConnectorError(
                f"The CRM answered with a web page instead of data (HTTP {response.status_code})."
            )
        try:
            return response.json()
        except ValueError as bad:
            raise ConnectorError("The CRM answered with something that is not JSON.") from bad
