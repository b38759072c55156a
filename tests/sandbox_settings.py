"""Settings that point every CRM at the sandbox a live server serves, shared by the end-to-end tests."""

from typing import Any


def point_crms_at_sandbox(settings: Any, url: str) -> None:
    settings.SANDBOX_ENABLED = True
    settings.SANDBOX_BASE_URL = url
    settings.CRM_SETTINGS = {
        "hubspot": {
            "api_url": f"{url}/sandbox/hubspot",
            "auth_url": f"{url}/sandbox/hubspot-app",
            "client_id": "hs-client",
            "client_secret": "hs-secret",
        },
        "salesforce": {
            "login_url": f"{url}/sandbox/salesforce-login",
            "client_id": "sf-client",
            "client_secret": "sf-secret",
            "api_version": "v60.0",
        },
        "pipedrive": {
            "auth_url": f"{url}/sandbox/pipedrive-oauth",
            "api_url": f"{url}/sandbox/pipedrive",
            "client_id": "pd-client",
            "client_secret": "pd-secret",
        },
        "zoho": {
            "accounts_url": f"{url}/sandbox/zoho-accounts",
            "client_id": "zc-client",
            "client_secret": "zc-secret",
        },
        "sellsy": {
            "api_url": f"{url}/sandbox/sellsy",
            "auth_url": f"{url}/sandbox/sellsy-login",
            "client_id": "sl-client",
            "client_secret": "sl-secret",
        },
    }
    # A test waits for nothing: a rate limit ends the run as it would in production, at once.
    settings.CRM_MAX_INLINE_WAIT_SECONDS = 0
