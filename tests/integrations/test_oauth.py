import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.utils import timezone

from integrations import oauth
from integrations.base import Connector, ConnectorError, OAuthSpec
from integrations.models import Connection
from integrations.oauth import ConnectionTokens, OAuthFlowError, host_allowed, oauth_finish, oauth_start

pytestmark = pytest.mark.django_db

TOKEN_URL = "https://login.crm.test/oauth/token"


class PkceCrm(Connector):
    key = "salesforce"
    label = "PkceCRM"
    oauth = OAuthSpec(
        "login_url",
        "/authorize",
        "login_url",
        "/oauth/token",
        ("api", "refresh_token"),
        pkce=True,
        base_url_key="instance_url",
    )
    objects = {}


@pytest.fixture(autouse=True)
def crm_settings(settings):
    settings.CRM_SETTINGS = {
        "salesforce": {"login_url": "https://login.crm.test", "client_id": "cid", "client_secret": "secret"},
    }
    settings.SANDBOX_ENABLED = False
    return settings


def start(session):
    return oauth_start(
        session=session, connector=PkceCrm, redirect_uri="https://skalin.test/cb", workspace_id=1
    )


def test_the_authorize_url_carries_state_scopes_and_a_pkce_challenge():
    session = {}
    query = parse_qs(urlsplit(start(session)).query)
    pending = session["oauth:salesforce"]
    assert query["state"] == [pending["state"]]
    assert query["client_id"] == ["cid"]
    assert query["scope"] == ["api refresh_token"]
    assert query["code_challenge_method"] == ["S256"]
    assert pending["verifier"]


def test_an_unconfigured_crm_says_how_to_configure_it(settings):
    settings.CRM_SETTINGS = {"salesforce": {"login_url": "https://login.crm.test", "client_id": ""}}
    with pytest.raises(OAuthFlowError, match="SALESFORCE_CLIENT_ID"):
        start({})


@responses.activate
def test_a_matching_callback_exchanges_the_code_with_the_verifier():
    responses.post(
        TOKEN_URL,
        json={
            "access_token": "at",
            "refresh_token": "rt",
            "instance_url": "https://acme.my.salesforce.com",
            "token_type": "Bearer",
        },
    )
    session = {}
    start(session)
    state = session["oauth:salesforce"]["state"]
    verifier = session["oauth:salesforce"]["verifier"]

    result = oauth_finish(session=session, connector=PkceCrm, params={"state": state, "code": "c0de"})

    body = parse_qs(responses.calls[0].request.body)
    assert body["code_verifier"] == [verifier]
    assert body["code"] == ["c0de"]
    assert result.base_url == "https://acme.my.salesforce.com"
    assert result.tokens["refresh_token"] == "rt"
    assert "oauth:salesforce" not in session


@pytest.mark.parametrize("params", [{"state": "forged", "code": "x"}, {"code": "x"}])
def test_a_callback_with_another_state_is_refused(params):
    session = {}
    start(session)
    with pytest.raises(OAuthFlowError, match="does not match"):
        oauth_finish(session=session, connector=PkceCrm, params=params)


def test_an_expired_or_replayed_state_is_refused_with_a_clear_message():
    session = {}
    start(session)
    session["oauth:salesforce"]["started_at"] = (timezone.now() - dt.timedelta(hours=1)).isoformat()
    state = session["oauth:salesforce"]["state"]
    with pytest.raises(OAuthFlowError, match="expired"):
        oauth_finish(session=session, connector=PkceCrm, params={"state": state, "code": "x"})
    with pytest.raises(OAuthFlowError, match="expired or was already used"):
        oauth_finish(session=session, connector=PkceCrm, params={"state": state, "code": "x"})


@responses.activate
def test_a_hostile_instance_url_is_refused():
    responses.post(TOKEN_URL, json={"access_token": "at", "instance_url": "https://evil.example.com"})
    session = {}
    start(session)
    with pytest.raises(OAuthFlowError, match="unexpected host"):
        oauth_finish(
            session=session,
            connector=PkceCrm,
            params={"state": session["oauth:salesforce"]["state"], "code": "x"},
        )


def test_only_the_providers_hosts_and_the_enabled_sandbox_are_allowed(settings):
    assert host_allowed("salesforce", "https://acme.my.salesforce.com")
    assert not host_allowed("salesforce", "http://acme.my.salesforce.com")
    assert not host_allowed("salesforce", "https://salesforce.com.evil.io")
    assert not host_allowed("salesforce", "http://127.0.0.1:8000/sandbox/salesforce")
    settings.SANDBOX_ENABLED = True
    settings.SANDBOX_BASE_URL = "http://127.0.0.1:8000"
    assert host_allowed("salesforce", "http://127.0.0.1:8000/sandbox/salesforce")


@pytest.fixture
def connection(workspace):
    connection = Connection(workspace=workspace, crm="salesforce", status=Connection.Status.ACTIVE)
    connection.set_tokens(
        {
            "access_token": "old",
            "refresh_token": "rt-1",
            "issued_at": (timezone.now() - dt.timedelta(minutes=28)).isoformat(),
        },
        expires_at=timezone.now() + dt.timedelta(minutes=2),
    )
    connection.save()
    return connection


@responses.activate
def test_a_token_near_its_end_is_refreshed_before_use_and_a_rotated_refresh_token_is_kept(connection):
    responses.post(TOKEN_URL, json={"access_token": "new", "refresh_token": "rt-2", "expires_in": 1800})
    tokens = ConnectionTokens(connection, PkceCrm)

    assert tokens.access_token() == "new"

    connection.refresh_from_db()
    assert connection.tokens["refresh_token"] == "rt-2"
    assert connection.token_expires_at > timezone.now() + dt.timedelta(minutes=25)
    assert tokens.access_token() == "new"
    assert len(responses.calls) == 1


@responses.activate
def test_a_refresh_answer_without_refresh_token_keeps_the_old_one(connection):
    responses.post(TOKEN_URL, json={"access_token": "new"})
    ConnectionTokens(connection, PkceCrm).refresh()
    connection.refresh_from_db()
    assert connection.tokens["refresh_token"] == "rt-1"
    assert connection.token_expires_at is None


@responses.activate
def test_invalid_grant_marks_the_connection_for_reconnection(connection):
    responses.post(TOKEN_URL, status=400, json={"error": "invalid_grant", "error_description": "expired"})
    with pytest.raises(ConnectorError) as error:
        ConnectionTokens(connection, PkceCrm).refresh()
    assert error.value.reconnect
    connection.refresh_from_db()
    assert connection.status == Connection.Status.RECONNECT_NEEDED
    assert "invalid_grant" in connection.last_error


@responses.activate
def test_a_worker_that_waited_uses_the_token_another_just_refreshed(connection):
    stale = ConnectionTokens(connection, PkceCrm)
    stored = connection.tokens
    connection.set_tokens(
        {**stored, "access_token": "fresh-from-other-worker", "issued_at": timezone.now().isoformat()},
        expires_at=timezone.now() + dt.timedelta(minutes=30),
    )
    connection.save()

    assert stale.refresh() == "fresh-from-other-worker"
    assert len(responses.calls) == 0


def test_tokens_are_encrypted_at_rest(connection):
    assert "rt-1" not in connection.encrypted_tokens
    assert oauth.crm_settings("salesforce")["client_id"] == "cid"


class JsonBodyCrm(PkceCrm):
    oauth = OAuthSpec(
        "login_url", "/authorize", "login_url", "/oauth/token", ("api",), pkce=True, token_body="json"
    )


@responses.activate
def test_a_provider_that_wants_json_gets_json_for_the_code_and_the_refresh(connection):
    from responses import matchers

    responses.post(TOKEN_URL, json={"access_token": "at", "refresh_token": "rt", "expires_in": 3600},
                   match=[matchers.json_params_matcher({"grant_type": "authorization_code", "code": "c0de"},
                                                       strict_match=False)])  # fmt: skip
    session = {}
    oauth_start(session=session, connector=JsonBodyCrm, redirect_uri="https://skalin.test/cb", workspace_id=1)
    oauth_finish(session=session, connector=JsonBodyCrm,
                 params={"state": session["oauth:salesforce"]["state"], "code": "c0de"})  # fmt: skip

    responses.post(TOKEN_URL, json={"access_token": "new", "refresh_token": "rt-2", "expires_in": 3600},
                   match=[matchers.json_params_matcher({"grant_type": "refresh_token", "refresh_token": "rt-1"},
                                                       strict_match=False)])  # fmt: skip
    assert ConnectionTokens(connection, JsonBodyCrm).refresh() == "new"
    assert responses.calls[-1].request.headers["Content-Type"] == "application/json"


class DataCentreCrm(PkceCrm):
    oauth = OAuthSpec("login_url", "/authorize", "login_url", "/oauth/token", ("api",),
                      base_url_key="instance_url", revoked_errors=("invalid_grant", "invalid_code"))  # fmt: skip

    @classmethod
    def oauth_callback_token_url(cls, params):
        server = params.get("accounts-server")
        if server and server != "https://login.crm.eu":
            raise ValueError(f"{server!r} is not our accounts server; the sign-in was refused.")
        return f"{server}/oauth/token" if server else None


@responses.activate
def test_the_token_server_named_by_the_callback_is_checked_then_used_for_the_code_and_refreshes(connection):
    responses.post(
        "https://login.crm.eu/oauth/token",
        json={"access_token": "at", "refresh_token": "rt", "instance_url": "https://eu.my.salesforce.com"},
    )
    session = {}
    oauth_start(
        session=session, connector=DataCentreCrm, redirect_uri="https://skalin.test/cb", workspace_id=1
    )
    state = session["oauth:salesforce"]["state"]
    result = oauth_finish(
        session=session,
        connector=DataCentreCrm,
        params={"state": state, "code": "c", "accounts-server": "https://login.crm.eu"},
    )
    assert result.tokens["token_url"] == "https://login.crm.eu/oauth/token"

    connection.set_tokens({**result.tokens, "refresh_token": "rt-1"}, expires_at=None)
    connection.save()
    responses.post(
        "https://login.crm.eu/oauth/token",
        json={"access_token": "new", "instance_url": "https://eu2.my.salesforce.com"},
    )
    assert ConnectionTokens(connection, DataCentreCrm).refresh() == "new"
    connection.refresh_from_db()
    assert connection.base_url == "https://eu2.my.salesforce.com"
    assert connection.tokens["token_url"] == "https://login.crm.eu/oauth/token"

    oauth_start(
        session=session, connector=DataCentreCrm, redirect_uri="https://skalin.test/cb", workspace_id=1
    )
    with pytest.raises(OAuthFlowError, match="not our accounts server"):
        oauth_finish(session=session, connector=DataCentreCrm,
                     params={"state": session["oauth:salesforce"]["state"], "code": "c",
                             "accounts-server": "https://evil.example"})  # fmt: skip


@responses.activate
def test_a_provider_specific_revoked_error_asks_for_a_reconnect(connection):
    responses.post(TOKEN_URL, status=200, json={"error": "invalid_code"})
    with pytest.raises(ConnectorError) as error:
        ConnectionTokens(connection, DataCentreCrm).refresh()
    assert error.value.reconnect
    connection.refresh_from_db()
    assert connection.status == Connection.Status.RECONNECT_NEEDED
