"""Logout, stale forms and the version stamp: the FAQ's browser troubles must not happen here."""

from django.conf import settings
from django.test import Client
from django.urls import reverse

from skalin.middleware import VERSION_HEADER


def test_logout_is_post_only(client_for, csm_membership):
    client = client_for(csm_membership)
    assert client.get(reverse("logout")).status_code == 405
    assert client.get(reverse("customers:import")).status_code == 200  # still logged in


def test_logout_clears_the_whole_session(client_for, csm_membership):
    client = client_for(csm_membership)
    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert "_auth_user_id" not in client.session
    assert "workspace_id" not in client.session
    response = client.get(reverse("customers:import"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_stale_login_form_gets_the_friendly_page_not_a_loop(db):
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("login"))  # sets the CSRF cookie, as a browser tab would
    response = client.post(
        reverse("login"), {"username": "a@b.test", "password": "x", "csrfmiddlewaretoken": "stale" * 8}
    )
    assert response.status_code == 403
    body = response.content.decode()
    assert "This page had expired" in body
    assert f'href="{reverse("home")}"' in body
    assert "Oops" not in body


def test_a_post_without_any_csrf_cookie_gets_the_friendly_page(client_for, csm_membership):
    client = Client(enforce_csrf_checks=True)
    client.force_login(csm_membership.user)
    response = client.post(reverse("logout"))
    assert response.status_code == 403
    assert "This page had expired" in response.content.decode()


def test_every_response_carries_the_app_version(client_for, csm_membership, client):
    assert client.get(reverse("login"))[VERSION_HEADER] == settings.APP_VERSION
    assert client.get("/no-such-page/")[VERSION_HEADER] == settings.APP_VERSION
    logged_in = client_for(csm_membership)
    assert logged_in.get(reverse("home"))[VERSION_HEADER] == settings.APP_VERSION  # a redirect too
    assert logged_in.get(reverse("customers:import"))[VERSION_HEADER] == settings.APP_VERSION


def test_the_version_endpoint_answers_json_and_is_never_cached(client, settings):
    settings.APP_VERSION = "9.9.9-test"
    response = client.get(reverse("version"))
    assert response.status_code == 200
    assert response.json() == {"version": "9.9.9-test"}
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert response[VERSION_HEADER] == "9.9.9-test"


def test_pages_show_the_current_user_and_workspace(client_for, csm_membership):
    body = client_for(csm_membership).get(reverse("customers:import")).content.decode()
    assert csm_membership.workspace.name in body
    assert csm_membership.user.get_full_name() in body
    assert 'name="skalin-version"' in body
