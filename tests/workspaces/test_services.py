import pytest
from django.core.exceptions import ValidationError

from customers.models import Phase
from tests.factories import CustomerFactory, MembershipFactory, UserFactory
from workspaces import services
from workspaces.models import Membership, Role


def test_a_new_workspace_gets_a_unique_slug_and_the_default_phases(db):
    first = services.workspace_create(name="Acme", currency="eur", email_domains=["@Acme.com", "acme.com"])
    second = services.workspace_create(name="Acme")
    assert (first.slug, second.slug) == ("acme", "acme-2")
    assert (first.currency, first.email_domains) == ("EUR", ["acme.com"])
    phases = Phase.objects.filter(workspace=first)
    assert [p.technical_name for p in phases] == ["trial", "onboarding", "run", "churn"]
    assert phases.get(is_default=True).technical_name == "onboarding"


@pytest.mark.parametrize("bad", ["acme", "acme .com", "bob@acme.com"])
def test_a_value_that_is_not_a_domain_is_refused(bad):
    with pytest.raises(ValidationError, match="is not a domain"):
        services.clean_domains([bad])


def test_the_own_domains_default_to_the_members_domains(workspace, admin_membership, manager_membership):
    MembershipFactory.create(workspace=workspace, user=UserFactory.create(email="ops@acme.io"))
    assert services.workspace_default_domains(workspace=workspace) == ["acme.io", "acme.test"]
    workspace.email_domains = ["acme.com"]
    assert services.workspace_default_domains(workspace=workspace) == ["acme.com"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"currency": "EURO", "amount_display": "mrr"}, "currency"),
        ({"currency": "E1R", "amount_display": "mrr"}, "currency"),
        ({"currency": "EUR", "amount_display": "weekly"}, "amount_display"),
    ],
)
def test_general_settings_are_validated(workspace, fields, field):
    with pytest.raises(ValidationError) as error:
        services.workspace_update_general(workspace=workspace, email_domains=[], **fields)
    assert field in error.value.message_dict


def test_general_settings_are_saved_cleaned(workspace):
    services.workspace_update_general(
        workspace=workspace, email_domains=[" Acme.com ", ""], currency="usd", amount_display="arr"
    )
    workspace.refresh_from_db()
    assert (workspace.email_domains, workspace.currency, workspace.amount_display) == (
        ["acme.com"],
        "USD",
        "arr",
    )


def test_inviting_a_new_person_creates_a_user_without_password_and_a_link(workspace):
    membership, link = services.membership_invite(workspace=workspace, email=" New@Acme.test ", role=Role.CSM)
    assert membership.user.email == "new@acme.test"
    assert not membership.user.has_usable_password()
    assert link is not None and link.startswith("/accounts/set-password/")


def test_inviting_someone_who_has_a_password_gives_no_link(workspace, stranger_membership):
    membership, link = services.membership_invite(
        workspace=workspace, email=stranger_membership.user.email.upper(), role=Role.MANAGER
    )
    assert membership.user == stranger_membership.user
    assert link is None


def test_inviting_a_member_twice_or_with_a_bad_role_or_email_is_refused(workspace, csm_membership):
    with pytest.raises(ValidationError, match="already a member"):
        services.membership_invite(workspace=workspace, email="csm@acme.test", role=Role.CSM)
    with pytest.raises(ValidationError, match="Choose Admin, Manager or CSM"):
        services.membership_invite(workspace=workspace, email="x@acme.test", role="owner")
    with pytest.raises(ValidationError, match="not a valid email"):
        services.membership_invite(workspace=workspace, email="not-an-email", role=Role.CSM)


def test_the_last_admin_cannot_be_demoted_or_removed(admin_membership, manager_membership):
    with pytest.raises(ValidationError, match="at least one Admin"):
        services.membership_change_role(membership=admin_membership, role=Role.MANAGER)
    with pytest.raises(ValidationError, match="at least one Admin"):
        services.membership_remove(membership=admin_membership)
    admin_membership.refresh_from_db()
    assert admin_membership.role == Role.ADMIN


def test_an_admin_can_step_down_once_there_is_another_admin(admin_membership, manager_membership):
    services.membership_change_role(membership=manager_membership, role=Role.ADMIN)
    services.membership_change_role(membership=admin_membership, role=Role.CSM)
    admin_membership.refresh_from_db()
    assert admin_membership.role == Role.CSM


def test_the_admin_of_another_workspace_does_not_count(admin_membership, stranger_membership):
    with pytest.raises(ValidationError):
        services.membership_remove(membership=admin_membership)


def test_removing_a_member_keeps_their_customers_without_an_owner(workspace, csm_membership, customer):
    other = CustomerFactory.create(workspace=workspace)
    other.team_members.add(csm_membership.user)
    services.membership_remove(membership=csm_membership)
    customer.refresh_from_db()
    assert customer.owner is None
    assert not other.team_members.exists()
    assert not Membership.objects.filter(pk=csm_membership.pk).exists()
