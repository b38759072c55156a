"""What the end-to-end tests share: settings that point every CRM at the sandbox a live server serves, and
the Connect me / Allow / callback path a person follows."""

from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from django.test import Client
from django.urls import reverse

from integrations.models import Connection


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


def connect_through_the_browser_flow(client: Client, crm: str, account: str = "") -> Connection:
    """What a person does: Connect me, Allow on the CRM's consent page (choosing `account` in HubSpot's
    portal chooser when given), and back to Skalin's callback."""
    start = client.post(reverse("integrations:connect", args=[crm]))
    assert start.status_code == 302, start.content
    authorize_url = start["Location"]
    with requests.Session() as browser:
        page = browser.get(authorize_url, timeout=10)
        assert page.status_code == 200 and "Allow" in page.text
        choice = {}
        if account:
            assert f"name='account' value='{account}'" in page.text
            choice = {"account": account}
        # The consent form posts back to the page's own URL, with the page's fields.
        query = {key: values[0] for key, values in parse_qs(urlsplit(authorize_url).query).items()}
        allowed = browser.post(
            authorize_url, data={**query, **choice, "decision": "allow"}, allow_redirects=False, timeout=10
        )
    assert allowed.status_code in (302, 303), allowed.text[:300]
    callback = urlsplit(allowed.headers["Location"])
    done = client.get(callback.path, {k: v[0] for k, v in parse_qs(callback.query).items()})
    assert done.status_code == 302, done.content.decode()[:500]
    return Connection.objects.filter(crm=crm).latest("pk")
