import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory
from workspaces.middleware import SESSION_KEY
from workspaces.models import Membership, Role

USERS = reverse("workspaces:users")
GENERAL = reverse("workspaces:general")


def role_url(membership):
    return reverse("workspaces:user_change_role", args=[membership.pk])


def remove_url(membership):
    return reverse("workspaces:user_remove", args=[membership.pk])


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


# ---- users -------------------------------------------------------------------------------------------


def test_an_admin_sees_the_members_and_invites_someone_new(
    client_for, admin_membership, csm_membership, workspace
):
    client = client_for(admin_membership)
    response = client.get(USERS)
    assert response.status_code == 200
    assert "csm@acme.test" in response.content.decode()
    response = client.post(USERS, {"email": "new@acme.test", "role": Role.MANAGER})
    assert response.status_code == 200
    assert response.context["invite_link"].startswith("http://testserver/accounts/set-password/")
    assert Membership.objects.get(workspace=workspace, user__email="new@acme.test").role == Role.MANAGER


def test_inviting_an_existing_member_shows_the_error_and_keeps_the_form(
    client_for, admin_membership, csm_membership
):
    response = client_for(admin_membership).post(USERS, {"email": "csm@acme.test", "role": Role.CSM})
    assert "already a member" in response.context["form"].errors["email"][0]
    assert 'value="csm@acme.test"' in response.content.decode()


def test_an_admin_changes_a_role(client_for, admin_membership, csm_membership):
    response = client_for(admin_membership).post(role_url(csm_membership), {"role": Role.MANAGER})
    assert response.status_code == 302
    csm_membership.refresh_from_db()
    assert csm_membership.role == Role.MANAGER
    assert "csm@acme.test is now Manager." in messages_of(response)


def test_the_last_admin_cannot_demote_or_remove_themselves(client_for, admin_membership):
    client = client_for(admin_membership)
    response = client.post(role_url(admin_membership), {"role": Role.CSM})
    assert any("at least one Admin" in m for m in messages_of(response))
    response = client.post(remove_url(admin_membership))
    assert any("at least one Admin" in m for m in messages_of(response))
    admin_membership.refresh_from_db()
    assert admin_membership.role == Role.ADMIN


def test_a_bad_role_is_refused_with_a_message(client_for, admin_membership, csm_membership):
    response = client_for(admin_membership).post(role_url(csm_membership), {"role": "owner"})
    assert "Choose Admin, Manager or CSM." in messages_of(response)
    csm_membership.refresh_from_db()
    assert csm_membership.role == Role.CSM


def test_an_admin_removes_a_member(client_for, admin_membership, csm_membership, customer):
    response = client_for(admin_membership).post(remove_url(csm_membership))
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=csm_membership.pk).exists()
    customer.refresh_from_db()
    assert customer.owner is None


def test_a_member_of_another_workspace_cannot_be_changed_or_removed(
    client_for, admin_membership, stranger_membership
):
    client = client_for(admin_membership)
    assert client.post(role_url(stranger_membership), {"role": Role.CSM}).status_code == 404
    assert client.post(remove_url(stranger_membership)).status_code == 404
    stranger_membership.refresh_from_db()
    assert stranger_membership.role == Role.ADMIN


def test_role_and_remove_are_post_only(client_for, admin_membership, csm_membership):
    client = client_for(admin_membership)
    assert client.get(role_url(csm_membership)).status_code == 405
    assert client.get(remove_url(csm_membership)).status_code == 405


def test_a_manager_reads_the_users_but_cannot_change_them(client_for, manager_membership, csm_membership):
    client = client_for(manager_membership)
    response = client.get(USERS)
    assert response.status_code == 200
    assert "Invite a member" not in response.content.decode()
    assert client.post(USERS, {"email": "x@acme.test", "role": Role.CSM}).status_code == 403
    assert client.post(role_url(csm_membership), {"role": Role.ADMIN}).status_code == 403
    assert client.post(remove_url(csm_membership)).status_code == 403
    csm_membership.refresh_from_db()
    assert csm_membership.role == Role.CSM


@pytest.mark.parametrize("url", [USERS, GENERAL, reverse("workspaces:settings")])
def test_a_csm_does_not_see_the_settings(client_for, csm_membership, url):
    assert client_for(csm_membership).get(url).status_code == 404


def test_settings_need_a_login(client):
    response = client.get(USERS)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


# ---- general -----------------------------------------------------------------------------------------


def test_general_settings_show_the_members_domains_by_default_and_save(
    client_for, admin_membership, workspace
):
    client = client_for(admin_membership)
    response = client.get(GENERAL)
    assert response.context["form"].initial["email_domains"] == "acme.test"
    response = client.post(
        GENERAL, {"email_domains": "acme.com, acme.io", "currency": "usd", "amount_display": "arr"}
    )
    assert response.status_code == 302
    workspace.refresh_from_db()
    assert (workspace.email_domains, workspace.currency, workspace.amount_display) == (
        ["acme.com", "acme.io"],
        "USD",
        "arr",
    )


def test_bad_general_settings_are_explained_and_kept(client_for, admin_membership, workspace):
    client = client_for(admin_membership)
    response = client.post(GENERAL, {"email_domains": "acme", "currency": "EUR", "amount_display": "mrr"})
    assert response.status_code == 200
    assert "'acme' is not a domain" in response.context["form"].errors["email_domains"][0]
    response = client.post(GENERAL, {"email_domains": "", "currency": "E1R", "amount_display": "mrr"})
    assert "three-letter ISO currency" in response.context["form"].errors["currency"][0]
    assert 'value="E1R"' in response.content.decode()
    workspace.refresh_from_db()
    assert workspace.currency == "EUR"


def test_a_manager_cannot_change_the_general_settings(client_for, manager_membership, workspace):
    client = client_for(manager_membership)
    assert client.get(GENERAL).status_code == 200
    response = client.post(GENERAL, {"email_domains": "", "currency": "USD", "amount_display": "mrr"})
    assert response.status_code == 403
    workspace.refresh_from_db()
    assert workspace.currency == "EUR"


# ---- workspace switcher ------------------------------------------------------------------------------


def test_the_switcher_moves_to_another_workspace_of_the_user(client_for, csm_membership):
    second = MembershipFactory.create(
        workspace=WorkspaceFactory.create(name="Zeta"), user=csm_membership.user, role=Role.ADMIN
    )
    client = client_for(csm_membership)
    response = client.post(reverse("workspaces:switch"), {"workspace": second.workspace_id})
    assert response.status_code == 302
    assert client.session[SESSION_KEY] == second.workspace_id
    assert client.get(USERS).status_code == 200  # Admin there


@pytest.mark.parametrize("wanted", ["other", "junk", ""])
def test_the_switcher_refuses_a_workspace_you_are_not_in(client_for, csm_membership, other_workspace, wanted):
    client = client_for(csm_membership)
    value = {"other": str(other_workspace.pk), "junk": "abc", "": ""}[wanted]
    response = client.post(reverse("workspaces:switch"), {"workspace": value})
    assert "You are not a member of that workspace." in messages_of(response)
    assert client.session[SESSION_KEY] == csm_membership.workspace_id


def test_the_switcher_is_post_only(client_for, csm_membership):
    assert client_for(csm_membership).get(reverse("workspaces:switch")).status_code == 405


def test_a_forged_workspace_in_the_session_falls_back_to_one_of_the_users(
    client_for, csm_membership, other_workspace
):
    client = client_for(csm_membership)
    session = client.session
    session[SESSION_KEY] = other_workspace.pk
    session.save()
    response = client.get(reverse("customers:import"))
    assert response.wsgi_request.workspace == csm_membership.workspace
    assert client.session[SESSION_KEY] == csm_membership.workspace_id


def test_a_user_without_a_workspace_is_told_so(client, db):
    client.force_login(UserFactory.create(email="lonely@nowhere.test"))
    response = client.get(reverse("customers:import"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("workspaces:no_workspace")
    assert "lonely@nowhere.test" in response.content.decode()
