import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.changes import Actor
from customers.models import HealthProfile
from customers.services import customer_set_pulse
from healthscore import services
from healthscore.models import HealthRun, HealthScore, HealthWeights, UsageCredential, UsageDaily
from tests.factories import CustomerFactory, InteractionFactory

PROFILES = reverse("healthscore:profiles")
CREDENTIALS = reverse("healthscore:credentials")


@pytest.mark.parametrize("url", [PROFILES, CREDENTIALS])
def test_settings_pages_are_read_by_managers_written_by_admins_and_hidden_from_csms(
    client_for, admin_membership, manager_membership, csm_membership, url
):
    assert client_for(csm_membership).get(url).status_code == 404
    manager_page = client_for(manager_membership).get(url)
    assert manager_page.status_code == 200
    assert b"only an Admin can change them" in manager_page.content
    assert b'<form method="post"' not in manager_page.content.split(b"settings-body")[1]
    assert client_for(admin_membership).get(url).status_code == 200


def test_a_manager_cannot_change_weights_compute_or_create_credentials(
    client_for, manager_membership, workspace
):
    client = client_for(manager_membership)
    assert client.post(reverse("healthscore:weights_edit", args=["default"]), {}).status_code == 403
    assert client.post(reverse("healthscore:compute")).status_code == 403
    assert client.post(CREDENTIALS, {"name": "x"}).status_code == 403
    assert not UsageCredential.objects.exists()
    assert not HealthRun.objects.exists()


def test_an_admin_sets_the_default_and_a_profile_weighting(client_for, admin_membership, workspace):
    profile = HealthProfile.objects.create(workspace=workspace, name="Enterprise")
    client = client_for(admin_membership)
    data = {"wdefault-usage": 40, "wdefault-interactions": 30, "wdefault-pulse": 20, "wdefault-agreement": 10}
    assert client.post(reverse("healthscore:weights_edit", args=["default"]), data).status_code == 302
    assert HealthWeights.objects.get(profile=None).as_dict() == {
        "usage": 40,
        "interactions": 30,
        "pulse": 20,
        "agreement": 10,
    }
    key = str(profile.pk)
    data = {f"w{key}-usage": 0, f"w{key}-interactions": 0, f"w{key}-pulse": 50, f"w{key}-agreement": 50}
    assert client.post(reverse("healthscore:weights_edit", args=[key]), data).status_code == 302
    assert HealthWeights.objects.get(profile=profile).pulse == 50
    page = client.get(PROFILES)
    assert b"Enterprise" in page.content
    client.post(reverse("healthscore:weights_edit", args=[key]), {"action": "reset"})
    assert not HealthWeights.objects.filter(profile=profile).exists()


def test_weights_that_do_not_add_up_to_100_are_refused_and_kept_on_the_page(client_for, admin_membership):
    data = {"wdefault-usage": 50, "wdefault-interactions": 30, "wdefault-pulse": 30, "wdefault-agreement": 10}
    response = client_for(admin_membership).post(reverse("healthscore:weights_edit", args=["default"]), data)
    assert response.status_code == 400
    assert b"they add up to 120" in response.content
    assert b'value="30"' in response.content
    assert not HealthWeights.objects.exists()


def test_another_workspaces_profile_is_not_found(client_for, admin_membership, other_workspace):
    profile = HealthProfile.objects.create(workspace=other_workspace, name="Theirs")
    response = client_for(admin_membership).post(
        reverse("healthscore:weights_edit", args=[str(profile.pk)]), {}
    )
    assert response.status_code == 404


def test_compute_now_runs_as_a_task_after_commit_and_never_twice_at_once(
    client_for, admin_membership, workspace, django_capture_on_commit_callbacks
):
    client = client_for(admin_membership)
    with mock.patch("healthscore.views.compute_health_run.delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            assert client.post(reverse("healthscore:compute")).status_code == 302
        run = HealthRun.objects.get()
        delay.assert_called_once_with(run.pk)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("healthscore:compute"), follow=True)
        assert delay.call_count == 1
    assert b"still running" in response.content
    services.health_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == HealthRun.Status.DONE


def test_an_admin_creates_a_credential_whose_token_is_shown_once_and_stored_hashed(
    client_for, admin_membership
):
    client = client_for(admin_membership)
    response = client.post(CREDENTIALS, {"name": "Web app"})
    assert response.status_code == 201
    token = response.context["token"]
    credential = UsageCredential.objects.get()
    assert token.encode() in response.content
    assert token not in credential.token_hash and credential.token_hash == services.token_hash(token)
    assert token.encode() not in client.get(CREDENTIALS).content
    assert client.post(CREDENTIALS, {"name": ""}).status_code == 400
    client.post(reverse("healthscore:credential_revoke", args=[credential.pk]))
    credential.refresh_from_db()
    assert credential.revoked_at is not None


def _two_weeks_of_scores(customer):
    now = timezone.now()
    customer_set_pulse(customer=customer, actor=Actor.system("test"), pulse=4, note="Happy")
    others = [CustomerFactory(workspace=customer.workspace) for _ in range(3)]
    for i, c in enumerate([customer, *others]):
        UsageDaily.objects.create(
            workspace=c.workspace, customer=c, day=(now - dt.timedelta(days=9)).date(), events=100 - i
        )
        InteractionFactory(customer=c, kind="call", occurred_at=now - dt.timedelta(days=9))
    services.health_compute(workspace_id=customer.workspace_id, as_of=now - dt.timedelta(days=7))
    UsageDaily.objects.filter(customer=customer).update(events=1)
    services.health_compute(workspace_id=customer.workspace_id, as_of=now)


def test_the_customer_page_explains_the_score_and_what_moved(client_for, csm_membership, customer):
    _two_weeks_of_scores(customer)
    row = HealthScore.objects.filter(customer=customer).first()
    page = client_for(csm_membership).get(reverse("customers:detail", args=[customer.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert f"Why is it {row.overall}?" in html
    assert "better than" in html and "events in the last 30 days" in html
    assert "↓ Dropping" in html
    assert "What moved since last week?" in html and "Usage 5.0 → 1.0/5" in html
    assert "<svg viewBox" in html and "<polyline" in html
    assert "Happy" in html  # the Pulse history
    assert "no agreement started yet" in html


def test_the_chart_switches_to_months_as_a_fragment(client_for, csm_membership, customer):
    _two_weeks_of_scores(customer)
    client = client_for(csm_membership)
    url = reverse("healthscore:customer_section", args=[customer.pk]) + "?period=months"
    fragment = client.get(url, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    assert b'id="health-chart"' in fragment.content and b"<html" not in fragment.content
    assert client.get(url).status_code == 302


def test_another_workspaces_customer_chart_is_not_found(client_for, stranger_membership, customer):
    url = reverse("healthscore:customer_section", args=[customer.pk])
    assert client_for(stranger_membership).get(url, HTTP_HX_REQUEST="true").status_code == 404


def test_the_list_shows_at_risk_and_dropping_counts(client_for, csm_membership, customer):
    _two_weeks_of_scores(customer)
    customer.refresh_from_db()
    page = client_for(csm_membership).get(reverse("customers:list"))
    at_risk = sum(
        1 for s in HealthScore.objects.filter(week=services.week_of(timezone.now())) if s.is_at_risk
    )
    assert f"{at_risk} at risk".encode() in page.content
    assert b"1 dropping" in page.content
    dropping = client_for(csm_membership).get(reverse("healthscore:dropping"))
    assert customer.name.encode() in dropping.content
    assert HealthScore.objects.filter(customer=customer).first().overall < Decimal(10)


def test_an_admin_adds_renames_and_removes_a_profile(
    client_for, admin_membership, manager_membership, workspace
):
    client = client_for(admin_membership)
    data = {"name": "Enterprise", "usage": 10, "interactions": 40, "pulse": 40, "agreement": 10}
    assert client.post(reverse("healthscore:profile_create"), data).status_code == 302
    profile = HealthProfile.objects.get(workspace=workspace, name="Enterprise")
    assert HealthWeights.objects.get(profile=profile).interactions == 40
    duplicate = client.post(reverse("healthscore:profile_create"), {**data, "name": "enterprise"})
    assert duplicate.status_code == 400 and b"already exists" in duplicate.content
    client.post(reverse("healthscore:profile_rename", args=[profile.pk]), {"name": "Key accounts"})
    profile.refresh_from_db()
    assert profile.name == "Key accounts"
    member = CustomerFactory(workspace=workspace, health_profile=profile)
    page = client.post(reverse("healthscore:profile_delete", args=[profile.pk]), follow=True)
    assert b"1 customer is in this profile; move them first." in page.content
    member.delete()
    client.post(reverse("healthscore:profile_delete", args=[profile.pk]))
    assert not HealthProfile.objects.filter(pk=profile.pk).exists()
    assert client_for(manager_membership).post(reverse("healthscore:profile_create"), data).status_code == 403
