import random
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import RequestFactory
from django.utils import timezone

from agreements.models import Agreement, AgreementStatus, SkippedAgreement
from agreements.services import customer_active_mrr, customer_next_renewal
from customers.models import CHURN_PHASE, Contact, Customer, CustomerSource
from interactions.models import Interaction
from interactions.services import customer_last_contact
from skalin.demo_data import DEMO_PASSWORD, DEMO_SLUG, OTHER_SLUG, plan_customers, seed_demo
from workspaces.models import Membership, Role, Workspace

SMALL = 24  # enough for every case the demo promises, fast enough for a unit test


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The demo users get real passwords; the default hasher is slow on purpose.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def demo(db):
    return seed_demo(customers=SMALL, seed=3)


def demo_customers():
    return Customer.objects.filter(workspace__slug=DEMO_SLUG)


def test_the_demo_creates_a_login_for_each_role_with_the_printed_password(demo):
    roles = {}
    for login in demo.logins:
        request = RequestFactory().post("/accounts/login/")
        user = authenticate(request, username=login.email, password=login.password)
        assert user is not None, login.email
        assert login.password == DEMO_PASSWORD
        membership = Membership.objects.get(user=user)
        roles[(membership.workspace.slug, membership.role)] = login.email
    assert set(roles) == {
        (DEMO_SLUG, Role.ADMIN),
        (DEMO_SLUG, Role.MANAGER),
        (DEMO_SLUG, Role.CSM),
        (OTHER_SLUG, Role.ADMIN),
    }
    assert Membership.objects.filter(workspace__slug=DEMO_SLUG, role=Role.CSM).count() == 2


def test_seeding_twice_adds_nothing_and_gives_the_logins_again(demo):
    counts = (Workspace.objects.count(), Customer.objects.count(), Contact.objects.count())
    again = seed_demo(customers=SMALL, seed=3)
    assert again.created is False
    assert again.logins == demo.logins
    assert (Workspace.objects.count(), Customer.objects.count(), Contact.objects.count()) == counts


def test_the_command_prints_the_logins_and_is_idempotent(db):
    first, second = StringIO(), StringIO()
    call_command("seed_demo", customers=12, stdout=first)
    call_command("seed_demo", stdout=second)
    assert "Demo data created: 12 customers" in first.getvalue()
    assert "already exists" in second.getvalue()
    for output in (first.getvalue(), second.getvalue()):
        assert "admin@demo-saas.test" in output and "admin@other-corp.test" in output
        assert DEMO_PASSWORD in output
    assert demo_customers().count() == 12


def test_the_demo_holds_churned_customers_expired_and_cancelled_contracts(demo):
    today = timezone.localdate()
    customers = demo_customers()
    assert customers.count() == SMALL
    assert customers.filter(phase__technical_name=CHURN_PHASE).exists()
    expired = customers.exclude(phase__technical_name=CHURN_PHASE).filter(
        next_renewal_on__lt=today, active_mrr=0
    )
    assert expired.exists(), "a live customer whose only contract has ended (orange in the list)"
    agreements = Agreement.objects.filter(workspace__slug=DEMO_SLUG)
    assert agreements.filter(status=AgreementStatus.CANCELLED).count() == 1
    assert agreements.filter(status=AgreementStatus.FINISHED).exists()
    assert agreements.filter(amount_period="arr").exists() and agreements.filter(amount_period="mrr").exists()
    assert customers.filter(health_score__lte=3).exists()
    assert customers.filter(csm_pulse__isnull=False).exists()
    assert customers.filter(owner__isnull=True).exists()


def test_parent_child_groups_have_two_levels_at_most(demo):
    customers = demo_customers()
    children = customers.filter(parent__isnull=False)
    assert children.exists()
    assert not children.filter(parent__parent__isnull=False).exists()
    assert not children.filter(children__isnull=False).exists()
    for parent in customers.filter(children__isnull=False).distinct():
        assert 2 <= parent.children.count() <= 4


def test_the_denormalised_columns_match_what_the_services_compute(demo):
    for customer in demo_customers():
        assert customer.active_mrr == customer_active_mrr(customer=customer), customer
        assert customer.next_renewal_on == customer_next_renewal(customer=customer), customer
        assert customer.last_contact_at == customer_last_contact(customer=customer), customer
    assert Interaction.objects.filter(workspace__slug=DEMO_SLUG).exists()


def test_some_customers_show_their_crm_sources_and_skipped_contracts(demo):
    sources = CustomerSource.objects.filter(customer__workspace__slug=DEMO_SLUG)
    assert set(sources.values_list("source", flat=True)) == {"hubspot", "salesforce"}
    assert not sources.filter(last_synced_at__isnull=True).exists()
    assert SkippedAgreement.objects.filter(workspace__slug=DEMO_SLUG).count() == 2


def test_other_corp_is_a_separate_workspace_the_demo_users_cannot_enter(demo):
    other = Workspace.objects.get(slug=OTHER_SLUG)
    assert Customer.objects.filter(workspace=other).exists()
    demo_users = Membership.objects.filter(workspace__slug=DEMO_SLUG).values_list("user_id", flat=True)
    assert not Membership.objects.filter(workspace=other, user_id__in=demo_users).exists()
    assert not Contact.objects.filter(workspace=other, customer__workspace__slug=DEMO_SLUG).exists()


def test_the_same_seed_plans_the_same_customers():
    first = plan_customers(random.Random(11), 50)
    second = plan_customers(random.Random(11), 50)
    assert [(p.name, p.domain, p.phase) for p in first] == [(p.name, p.domain, p.phase) for p in second]
    assert len({p.domain for p in first}) == 50
