import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import HealthProfile, Tag
from customers.selectors import CustomerFilters, customer_list, parent_candidates, sort_key
from tests.factories import CustomerFactory, UserFactory, phase

pytestmark = pytest.mark.django_db


def names(queryset):
    return [customer.name for customer in queryset]


def test_the_list_holds_only_the_workspace_customers(workspace, csm_membership, other_workspace):
    CustomerFactory(workspace=workspace, name="Globex")
    CustomerFactory(workspace=other_workspace, name="Rival's customer")
    assert names(customer_list(membership=csm_membership)) == ["Globex"]


def test_no_membership_sees_nothing(workspace):
    CustomerFactory(workspace=workspace)
    assert names(customer_list(membership=None)) == []


def test_search_matches_name_and_domain_in_part_and_customer_id_exactly(workspace, csm_membership):
    CustomerFactory(workspace=workspace, name="Globex Corp", domain="globex.com", ref_id="C-1")
    CustomerFactory(workspace=workspace, name="Initech", domain="initech.io", ref_id="C-12")
    CustomerFactory(workspace=workspace, name="Umbrella", domain="umbrella.example", ref_id="X-9")
    assert names(customer_list(membership=csm_membership, search="glob")) == ["Globex Corp"]
    assert names(customer_list(membership=csm_membership, search="INITECH.io")) == ["Initech"]
    assert names(customer_list(membership=csm_membership, search="c-12")) == ["Initech"]
    assert names(customer_list(membership=csm_membership, search="  ")) == [
        "Globex Corp",
        "Initech",
        "Umbrella",
    ]


def test_churned_customers_are_hidden_unless_asked_for(workspace, csm_membership):
    CustomerFactory(workspace=workspace, name="Active")
    CustomerFactory(workspace=workspace, name="Gone", phase=phase(workspace, "churn"))
    CustomerFactory(workspace=workspace, name="No stage", phase=None)
    assert names(customer_list(membership=csm_membership)) == ["Active", "No stage"]
    shown = customer_list(membership=csm_membership, filters=CustomerFilters(show_churned=True))
    assert names(shown) == ["Active", "Gone", "No stage"]


def test_choosing_the_churn_stage_shows_churned_customers(workspace, csm_membership):
    CustomerFactory(workspace=workspace, name="Active")
    CustomerFactory(workspace=workspace, name="Gone", phase=phase(workspace, "churn"))
    churn = phase(workspace, "churn")
    assert names(customer_list(membership=csm_membership, filters=CustomerFilters(phase_id=churn.pk))) == [
        "Gone"
    ]


def test_owner_filter_knows_me_nobody_and_a_given_user(workspace, csm_membership, other_csm_membership):
    CustomerFactory(workspace=workspace, name="Mine", owner=csm_membership.user)
    CustomerFactory(workspace=workspace, name="Theirs", owner=other_csm_membership.user)
    CustomerFactory(workspace=workspace, name="Orphan", owner=None)

    def owned(owner):
        return names(customer_list(membership=csm_membership, filters=CustomerFilters(owner=owner)))

    assert owned("me") == ["Mine"]
    assert owned("none") == ["Orphan"]
    assert owned(str(other_csm_membership.user_id)) == ["Theirs"]
    assert owned("") == ["Mine", "Orphan", "Theirs"]


def test_tag_profile_and_risk_filters(workspace, csm_membership):
    enterprise = Tag.objects.create(workspace=workspace, name="enterprise")
    smb = HealthProfile.objects.create(workspace=workspace, name="SMB")
    tagged = CustomerFactory(workspace=workspace, name="Tagged", health_score=8)
    tagged.tags.add(enterprise)
    CustomerFactory(workspace=workspace, name="Profiled", health_profile=smb, health_score=4)
    CustomerFactory(workspace=workspace, name="Risky", health_score=3)
    CustomerFactory(workspace=workspace, name="Unscored", health_score=None)

    def listed(**filters):
        return names(customer_list(membership=csm_membership, filters=CustomerFilters(**filters)))

    assert listed(tag_id=enterprise.pk) == ["Tagged"]
    assert listed(profile_id=smb.pk) == ["Profiled"]
    assert listed(at_risk=True) == ["Risky"]


def test_sorts_by_mrr_renewal_and_last_contact_with_blanks_last(workspace, csm_membership):
    today = timezone.localdate()
    now = timezone.now()
    CustomerFactory(
        workspace=workspace,
        name="A",
        active_mrr=Decimal("100"),
        next_renewal_on=today + dt.timedelta(days=30),
        last_contact_at=now - dt.timedelta(days=2),
    )
    CustomerFactory(
        workspace=workspace,
        name="B",
        active_mrr=Decimal("900"),
        next_renewal_on=today + dt.timedelta(days=3),
        last_contact_at=now - dt.timedelta(days=20),
    )
    CustomerFactory(workspace=workspace, name="C", active_mrr=Decimal("0"))

    def sorted_by(sort):
        return names(customer_list(membership=csm_membership, sort=sort))

    assert sorted_by("-mrr") == ["B", "A", "C"]
    assert sorted_by("mrr") == ["C", "A", "B"]
    assert sorted_by("renewal") == ["B", "A", "C"]
    assert sorted_by("-renewal") == ["A", "B", "C"]
    assert sorted_by("last_contact") == ["B", "A", "C"]
    assert sorted_by("-name") == ["C", "B", "A"]


def test_sorts_by_owner_name_and_stage_order(workspace, csm_membership):
    zed = UserFactory(first_name="Zed", last_name="Z")
    amy = UserFactory(first_name="Amy", last_name="A")
    CustomerFactory(workspace=workspace, name="One", owner=zed, phase=phase(workspace, "trial"))
    CustomerFactory(workspace=workspace, name="Two", owner=amy, phase=phase(workspace, "run"))
    CustomerFactory(workspace=workspace, name="Three", owner=None, phase=phase(workspace, "onboarding"))
    assert names(customer_list(membership=csm_membership, sort="owner")) == ["Two", "One", "Three"]
    assert names(customer_list(membership=csm_membership, sort="stage")) == ["One", "Three", "Two"]


def test_an_unknown_sort_falls_back_to_the_name():
    assert sort_key("drop table") == "name"
    assert sort_key("-mrr") == "-mrr"


def test_the_list_costs_the_same_queries_for_5_or_40_customers(workspace, csm_membership):
    tag = Tag.objects.create(workspace=workspace, name="vip")

    def queries_for_a_page():
        with CaptureQueriesContext(connection) as captured:
            queryset = customer_list(membership=csm_membership, sort="-mrr")
            queryset.count()
            for customer in queryset[:50]:
                (customer.owner, customer.phase, customer.health_profile, list(customer.tags.all()))
        return len(captured)

    def add_customers(count):
        for _ in range(count):
            customer = CustomerFactory(workspace=workspace, owner=UserFactory())
            customer.tags.add(tag)

    add_customers(5)
    few = queries_for_a_page()
    add_customers(35)
    assert queries_for_a_page() == few == 3


def test_parent_candidates_are_top_level_customers_other_than_itself(workspace, csm_membership):
    group = CustomerFactory(workspace=workspace, name="Group")
    child = CustomerFactory(workspace=workspace, name="Child", parent=group)
    me = CustomerFactory(workspace=workspace, name="Me")
    candidates = parent_candidates(csm_membership, exclude=me)
    assert group in candidates
    assert child not in candidates
    assert me not in candidates
