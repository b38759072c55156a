"""Zoho data centres: each has its own accounts server (OAuth) and API domain (crm-apis.md §4.1).

Multi-DC: https://www.zoho.com/crm/developer/docs/api/v8/multi-dc.html
The callback of the consent page carries `location` and `accounts-server`; the token response carries
`api_domain`. Neither is trusted as given: the accounts server must be one of the hosts below (it is where
the refresh token is sent, with the client secret), and the API domain must be of the same data centre."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

# location -> (accounts server host, API domain host)
DATA_CENTRES: dict[str, tuple[str, str]] = {
    "us": ("accounts.zoho.com", "www.zohoapis.com"),
    "eu": ("accounts.zoho.eu", "www.zohoapis.eu"),
    "in": ("accounts.zoho.in", "www.zohoapis.in"),
    "au": ("accounts.zoho.com.au", "www.zohoapis.com.au"),
    "jp": ("accounts.zoho.jp", "www.zohoapis.jp"),
    "cn": ("accounts.zoho.com.cn", "www.zohoapis.com.cn"),
    "ca": ("accounts.zohocloud.ca", "www.zohoapis.ca"),
    "sa": ("accounts.zoho.sa", "www.zohoapis.sa"),
}
ACCOUNTS_HOSTS = {accounts: location for location, (accounts, _) in DATA_CENTRES.items()}


class UnknownAccountsServer(ValueError):
    """The callback named an accounts server that is not Zoho's: the sign-in must be refused."""


def _sandbox_origin(url: str) -> bool:
    if not settings.SANDBOX_ENABLED:
        return False
    sandbox, target = urlsplit(settings.SANDBOX_BASE_URL), urlsplit(url)
    return (sandbox.scheme, sandbox.netloc) == (target.scheme, target.netloc)


def accounts_server(value: str) -> str:
    """The callback's `accounts-server` as an origin (https://accounts.zoho.eu), or UnknownAccountsServer.
    Only Zoho's own accounts hosts (exactly, over HTTPS, no port, path or credentials) are accepted, or the
    sandbox's origin when the sandbox is on."""
    value = (value or "").strip().rstrip("/")
    parts = urlsplit(value)
    if _sandbox_origin(value) and parts.path.rstrip("/") in ("", "/sandbox/zoho-accounts"):
        return value
    host = (parts.hostname or "").lower()
    if (
        parts.scheme != "https"
        or host not in ACCOUNTS_HOSTS
        or parts.port is not None
        or parts.username
        or parts.password
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise UnknownAccountsServer(f"{value!r} is not a Zoho accounts server; the sign-in was refused.")
    return f"https://{host}"


def same_data_centre(accounts_url: str, api_domain: str) -> bool:
    """An API domain of the accounts server's own data centre (a sandbox pair is accepted when it is on).
    Zoho's developer sandboxes answer on sandbox.zohoapis.<dc>."""
    if _sandbox_origin(accounts_url) and _sandbox_origin(api_domain):
        return True
    location = ACCOUNTS_HOSTS.get((urlsplit(accounts_url).hostname or "").lower())
    if location is None:
        return False
    api_host = DATA_CENTRES[location][1]
    host = (urlsplit(api_domain).hostname or "").lower()
    return urlsplit(api_domain).scheme == "https" and host in (
        api_host,
        api_host.replace("www.", "sandbox.", 1),
    )


def token_url(accounts_url: str) -> str:
    return accounts_url.rstrip("/") + "/oauth/v2/token"
