import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from agreements.models import SkippedAgreement
from customers.models import ChangeLog, Contact, Customer, CustomerSource, CustomField, Tag
from tests.factories import (
    AgreementFactory,
    ContactFactory,
    CustomerFactory,
    InteractionFactory,
    UserFactory,
    phase,
)
from workspaces.models import Role

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def html(response) -> str:
    return response.content.decode()


# ---- the list -----------------------------------------------------------------------------------------


def test_the_list_is_a_full_page_with_the_customers(client_for, csm_membership, customer):
    response = client_for(csm_membership).get(reverse("customers:list"))
    assert response.status_code == 200
    page = html(response)
    assert "<html" in page
    assert "Globex" in page
    assert reverse("customers:preview", args=[customer.pk]) in page
    assert 'hx-target="#drawer"' in page
    assert 'hx-trigger="input changed delay:300ms, search"' in page
    assert reverse("customers:create") in page


def test_an_htmx_request_gets_only_the_results(client_for, csm_membership, customer):
    response = client_for(csm_membership).get(reverse("customers:list"), {"q": "glob"}, **HTMX)
    page = html(response)
    assert "<html" not in page
    assert "Globex" in page
    assert "HX-Request" in response["Vary"]


def test_a_history_restore_gets_the_whole_page(client_for, csm_membership, customer):
    response = client_for(csm_membership).get(
        reverse("customers:list"), **HTMX, HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in html(response)


def test_search_and_filters_narrow_the_list(client_for, workspace, csm_membership, customer):
    CustomerFactory(workspace=workspace, name="Initech", ref_id="IN-7")
    client = client_for(csm_membership)
    page = html(client.get(reverse("customers:list"), {"q": "IN-7"}))
    assert "Initech" in page
    assert "Globex" not in page
    page = html(client.get(reverse("customers:list"), {"owner": "me"}))
    assert "Globex" in page
    assert "Initech" not in page


def test_churned_customers_are_hidden_until_show_churned(client_for, workspace, csm_membership):
    CustomerFactory(workspace=workspace, name="Gone Inc", phase=phase(workspace, "churn"))
    client = client_for(csm_membership)
    assert "Gone Inc" not in html(client.get(reverse("customers:list")))
    assert "Gone Inc" in html(client.get(reverse("customers:list"), {"churned": "1"}))


def test_bad_filter_values_are_ignored_not_an_error(client_for, csm_membership, customer):
    response = client_for(csm_membership).get(
        reverse("customers:list"), {"stage": "abc", "tag": "999999", "sort": "evil", "page": "zz"}
    )
    assert response.status_code == 200
    assert "Globex" in html(response)


def test_the_list_shows_arr_in_the_workspace_currency_and_dates(client_for, workspace, csm_membership):
    workspace.amount_display = "arr"
    workspace.currency = "USD"
    workspace.save()
    CustomerFactory(
        workspace=workspace,
        name="Money Co",
        active_mrr=Decimal("100.00"),
        next_renewal_on=timezone.localdate() - dt.timedelta(days=1),
        last_contact_at=timezone.now() - dt.timedelta(days=12),
    )
    page = html(client_for(csm_membership).get(reverse("customers:list")))
    assert "Active ARR" in page
    assert "$1,200" in page
    assert 'class="expired"' in page
    assert "12 days ago" in page


def test_sort_links_and_pages_keep_the_filters(client_for, workspace, csm_membership):
    for index in range(55):
        CustomerFactory(workspace=workspace, name=f"Acme {index:02d}", owner=csm_membership.user)
    client = client_for(csm_membership)
    first = html(client.get(reverse("customers:list"), {"owner": "me", "sort": "-name"}))
    assert first.count('class="icon-btn"') == 50
    assert "Acme 54" in first
    assert "?owner=me&amp;sort=-name&amp;page=2" in first
    assert "?owner=me&amp;sort=name" in first  # the Name heading now sorts the other way
    second = html(client.get(reverse("customers:list"), {"owner": "me", "sort": "-name", "page": "2"}))
    assert second.count('class="icon-btn"') == 5
    assert "Acme 00" in second
    assert "Page 2 of 2" in second


def test_the_list_page_costs_the_same_queries_for_5_or_40_customers(client_for, workspace, csm_membership):
    tag = Tag.objects.create(workspace=workspace, name="vip")
    client = client_for(csm_membership)

    def add(count):
        for _ in range(count):
            customer = CustomerFactory(workspace=workspace, owner=UserFactory(), health_score=2)
            customer.tags.add(tag)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("customers:list"), {"sort": "-mrr"}).status_code == 200
        return len(captured)

    add(5)
    few = queries()
    add(35)
    assert queries() == few


# ---- quick preview --------------------------------------------------------------------------------------


def test_the_preview_is_a_fragment_with_the_crm_sources(client_for, csm_membership, customer):
    CustomerSource.objects.create(
        customer=customer, source="hubspot", external_id="42", last_synced_at=timezone.now()
    )
    response = client_for(csm_membership).get(reverse("customers:preview", args=[customer.pk]), **HTMX)
    page = html(response)
    assert "<html" not in page
    assert 'class="source-logo source-hubspot"' in page
    assert "HubSpot" in page
    assert "data-close-drawer" in page


def test_the_preview_says_when_no_crm_syncs_the_customer(client_for, csm_membership, customer):
    response = client_for(csm_membership).get(reverse("customers:preview", args=[customer.pk]), **HTMX)
    assert "Not synced from a CRM" in html(response)


def test_the_preview_without_htmx_leads_to_the_customer_page(client_for, csm_membership, customer):
    response = client_for(csm_membership).get(reverse("customers:preview", args=[customer.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:detail", args=[customer.pk])


# ---- the customer page ----------------------------------------------------------------------------------


def test_the_customer_page_shows_its_sections(client_for, workspace, csm_membership, customer):
    ContactFactory(customer=customer, first_name="Ada", last_name="Lovelace", role_tags=["champion"])
    AgreementFactory(customer=customer, plan_name="Gold")
    AgreementFactory(
        customer=customer,
        plan_name="Old plan",
        start_date=timezone.localdate() - dt.timedelta(days=500),
        end_date=timezone.localdate() - dt.timedelta(days=135),
    )
    SkippedAgreement.objects.create(
        workspace=workspace,
        customer=customer,
        source="hubspot",
        external_id="d-9",
        label="Deal 9",
        missing_fields=["amount"],
    )
    InteractionFactory(customer=customer, subject="Kick-off call")
    CustomField.objects.create(workspace=workspace, target="customer", key="old_id", label="Old CRM ID")
    customer.custom_values = {"old_id": "SF-1"}
    customer.health_score = 2
    customer.save()
    page = html(client_for(csm_membership).get(reverse("customers:detail", args=[customer.pk])))
    assert "Ada Lovelace" in page
    assert "Champion" in page
    assert "Gold" in page
    assert page.count('class="expired"') == 2  # end and renewal of the old plan
    assert "Deal 9" in page
    assert "missing amount" in page
    assert "Kick-off call" in page
    assert "Old CRM ID" in page
    assert "SF-1" in page
    assert "At risk" in page
    assert "Logs - View changes history" in page
    assert reverse("customers:history", args=[customer.pk]) in page
    assert reverse("customers:edit", args=[customer.pk]) in page
    assert reverse("agreements:create", args=[customer.pk]) in page


def test_a_csm_reads_another_csm_customer_without_edit_links(client_for, other_csm_membership, customer):
    ContactFactory(customer=customer)
    page = html(client_for(other_csm_membership).get(reverse("customers:detail", args=[customer.pk])))
    assert "Globex" in page
    assert reverse("customers:edit", args=[customer.pk]) not in page
    assert reverse("customers:contact_create", args=[customer.pk]) not in page
    assert reverse("customers:pulse", args=[customer.pk]) not in page
    assert reverse("interactions:create", args=[customer.pk]) not in page


def test_parent_and_children_are_linked(client_for, workspace, csm_membership, customer):
    child = CustomerFactory(workspace=workspace, name="Globex France", parent=customer)
    client = client_for(csm_membership)
    assert "Globex France" in html(client.get(reverse("customers:detail", args=[customer.pk])))
    page = html(client.get(reverse("customers:detail", args=[child.pk])))
    assert reverse("customers:detail", args=[customer.pk]) in page


def test_interactions_show_fifty_then_more_on_demand(client_for, csm_membership, customer):
    for index in range(52):
        InteractionFactory(
            customer=customer,
            subject=f"Touch {index:02d}",
            occurred_at=timezone.now() - dt.timedelta(hours=index + 1),
        )
    client = client_for(csm_membership)
    page = html(client.get(reverse("customers:detail", args=[customer.pk])))
    assert "Touch 49" in page
    assert "Touch 50" not in page
    assert "Show more" in page
    more = html(client.get(reverse("customers:detail", args=[customer.pk]), {"interactions": "2"}, **HTMX))
    assert "<html" not in more
    assert "Touch 50" in more
    assert "Touch 51" in more
    assert "Show more" not in more


def test_the_owner_sets_the_pulse(client_for, csm_membership, customer):
    response = client_for(csm_membership).post(
        reverse("customers:pulse", args=[customer.pk]), {"pulse": "4", "note": "Happy with support"}
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.csm_pulse, customer.csm_pulse_note) == (4, "Happy with support")
    assert ChangeLog.objects.filter(customer=customer, field="csm_pulse", new_value="4").exists()


def test_a_missing_pulse_is_refused_and_the_note_kept(client_for, csm_membership, customer):
    response = client_for(csm_membership).post(
        reverse("customers:pulse", args=[customer.pk]), {"pulse": "", "note": "Keep me"}
    )
    assert response.status_code == 400
    assert "This field is required." in html(response)
    assert "Keep me" in html(response)


# ---- history --------------------------------------------------------------------------------------------


def test_the_history_lists_changes_with_who_made_them(client_for, csm_membership, customer):
    ChangeLog.objects.create(
        workspace=customer.workspace,
        customer=customer,
        field="phase",
        old_value="Onboarding",
        new_value="Run",
        actor_kind=ChangeLog.ActorKind.SYNC_RUN,
        actor_label="Sync run #12 (HubSpot)",
    )
    page = html(client_for(csm_membership).get(reverse("customers:history", args=[customer.pk])))
    assert "<td>Stage</td>" in page
    assert "Onboarding" in page
    assert "Run" in page
    assert "Sync run #12 (HubSpot)" in page
    assert "Sync run" in page


# ---- customer forms ---------------------------------------------------------------------------------------


def test_a_csm_creates_a_customer_and_owns_it_by_default(client_for, workspace, csm_membership):
    client = client_for(csm_membership)
    form_page = html(client.get(reverse("customers:create")))
    assert f'<option value="{csm_membership.user_id}" selected>' in form_page
    response = client.post(
        reverse("customers:create"),
        {
            "name": "Hooli",
            "domain": "https://www.hooli.com/",
            "ref_id": "H-1",
            "owner": csm_membership.user_id,
            "phase": phase(workspace, "trial").pk,
            "tags": "enterprise, new, Enterprise",
        },
    )
    hooli = Customer.objects.get(name="Hooli")
    assert response["Location"] == reverse("customers:detail", args=[hooli.pk])
    assert hooli.owner == csm_membership.user
    assert hooli.domain == "hooli.com"
    assert hooli.phase.technical_name == "trial"
    assert sorted(tag.name for tag in hooli.tags.all()) == ["enterprise", "new"]
    assert ChangeLog.objects.filter(customer=hooli, field="created", actor_user=csm_membership.user).exists()


def test_form_errors_keep_what_was_typed(client_for, workspace, admin_membership, customer):
    customer.ref_id = "TAKEN"
    customer.save()
    CustomField.objects.create(
        workspace=workspace, target="customer", key="seats", label="Seats", type="number"
    )
    response = client_for(admin_membership).post(
        reverse("customers:create"),
        {"name": "Hooli", "domain": "hooli.com", "ref_id": "TAKEN", "tags": "a, b", "cf_seats": "lots"},
    )
    assert response.status_code == 200
    page = html(response)
    assert "Seats: &#x27;lots&#x27; is not a number." in page
    assert 'value="lots"' in page
    assert 'value="Hooli"' in page
    assert 'value="a, b"' in page
    assert not Customer.objects.filter(name="Hooli").exists()
    response = client_for(admin_membership).post(
        reverse("customers:create"), {"name": "Hooli", "ref_id": "TAKEN", "tags": "brand new tag"}
    )
    assert "Customer ID &#x27;TAKEN&#x27; is already used by Globex." in html(response)
    assert not Tag.objects.filter(name="brand new tag").exists()


def test_editing_updates_fields_parent_and_custom_values(client_for, workspace, csm_membership, customer):
    group = CustomerFactory(workspace=workspace, name="Globex Group", ref_id="G-1")
    CustomField.objects.create(workspace=workspace, target="customer", key="vip", label="VIP", type="boolean")
    response = client_for(csm_membership).post(
        reverse("customers:edit", args=[customer.pk]),
        {
            "name": "Globex Europe",
            "owner": csm_membership.user_id,
            "phase": phase(workspace, "run").pk,
            "parent": "G-1",
            "tags": "emea",
            "cf_vip": "yes",
        },
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.name == "Globex Europe"
    assert customer.parent == group
    assert customer.custom_values == {"vip": True}
    assert [tag.name for tag in customer.tags.all()] == ["emea"]
    assert ChangeLog.objects.filter(customer=customer, field="name", new_value="Globex Europe").exists()


def test_a_parent_that_is_itself_a_child_is_refused(client_for, workspace, csm_membership, customer):
    top = CustomerFactory(workspace=workspace, name="Top")
    CustomerFactory(workspace=workspace, name="Middle", parent=top)
    response = client_for(csm_membership).post(
        reverse("customers:edit", args=[customer.pk]),
        {"name": "Globex", "phase": phase(workspace, "run").pk, "parent": "Middle"},
    )
    assert response.status_code == 200
    assert "No top-level customer has the name or Customer ID" in html(response)
    customer.refresh_from_db()
    assert customer.parent is None


def test_owner_choices_are_members_of_the_workspace_only(client_for, admin_membership, stranger_membership):
    stranger_membership.user.first_name = "Stranger"
    stranger_membership.user.save()
    form = client_for(admin_membership).get(reverse("customers:create")).context["form"]
    owners = list(form.fields["owner"].queryset)
    assert admin_membership.user in owners
    assert stranger_membership.user not in owners
    assert "Stranger" not in html(client_for(admin_membership).get(reverse("customers:create")))


# ---- contacts ---------------------------------------------------------------------------------------------


def test_the_owner_adds_edits_and_deletes_a_contact(client_for, csm_membership, customer):
    client = client_for(csm_membership)
    response = client.post(
        reverse("customers:contact_create", args=[customer.pk]),
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ADA@globex.com",
            "secondary_emails": "ada@gmail.com,\nada.l@globex.com",
            "role_tags": ["champion", "key_user"],
        },
    )
    assert response.status_code == 302
    contact = Contact.objects.get(customer=customer)
    assert contact.email == "ada@globex.com"
    assert contact.secondary_emails == ["ada@gmail.com", "ada.l@globex.com"]
    assert contact.role_tags == ["champion", "key_user"]

    response = client.post(
        reverse("customers:contact_edit", args=[contact.pk]),
        {"first_name": "Ada", "last_name": "King", "email": "ada@globex.com", "title": "CTO"},
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.last_name, contact.title, contact.role_tags) == ("King", "CTO", [])

    response = client.post(reverse("customers:contact_delete", args=[contact.pk]))
    assert response["Location"] == reverse("customers:detail", args=[customer.pk])
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert ChangeLog.objects.filter(customer=customer, field="contact removed").exists()


def test_contact_errors_are_shown_with_the_typed_values(client_for, workspace, csm_membership, customer):
    other = CustomerFactory(workspace=workspace, name="Initech")
    ContactFactory(customer=other, email="taken@initech.io", first_name="Bob", last_name="Slydell")
    client = client_for(csm_membership)
    response = client.post(
        reverse("customers:contact_create", args=[customer.pk]),
        {"first_name": "Ada", "email": "taken@initech.io", "secondary_emails": "fine@x.io"},
    )
    page = html(response)
    assert "taken@initech.io is already the email of Bob Slydell at Initech." in page
    assert "fine@x.io" in page
    response = client.post(
        reverse("customers:contact_create", args=[customer.pk]),
        {"first_name": "Ada", "secondary_emails": "good@x.io, not-an-email"},
    )
    assert "Not a valid email address: not-an-email." in html(response)
    response = client.post(reverse("customers:contact_create", args=[customer.pk]), {"title": "CEO"})
    assert "A contact needs a name or an email." in html(response)
    assert not Contact.objects.filter(customer=customer).exists()


def test_contact_delete_is_a_post(client_for, csm_membership, customer):
    contact = ContactFactory(customer=customer)
    response = client_for(csm_membership).get(reverse("customers:contact_delete", args=[contact.pk]))
    assert response.status_code == 405
    assert Contact.objects.filter(pk=contact.pk).exists()


# ---- the access matrix -------------------------------------------------------------------------------------

MEMBERSHIPS = {
    Role.ADMIN: "admin_membership",
    Role.MANAGER: "manager_membership",
    Role.CSM: "csm_membership",
}


def _status(client, action, customer):
    pk = customer.pk
    if action == "list":
        return client.get(reverse("customers:list")).status_code
    if action == "detail":
        return client.get(reverse("customers:detail", args=[pk])).status_code
    if action == "preview":
        return client.get(reverse("customers:preview", args=[pk]), **HTMX).status_code
    if action == "history":
        return client.get(reverse("customers:history", args=[pk])).status_code
    if action == "edit_get":
        return client.get(reverse("customers:edit", args=[pk])).status_code
    if action == "edit_post":
        data = {"name": "Renamed", "phase": customer.phase_id, "owner": customer.owner_id or ""}
        return client.post(reverse("customers:edit", args=[pk]), data).status_code
    if action == "contact_create":
        return client.get(reverse("customers:contact_create", args=[pk])).status_code
    raise AssertionError(action)


READS = {"list": 200, "detail": 200, "preview": 200, "history": 200}
WRITES = {"edit_get": 200, "edit_post": 302, "contact_create": 200}


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER, Role.CSM])
@pytest.mark.parametrize("whose", ["own", "other_csm"])
@pytest.mark.parametrize("action", [*READS, *WRITES])
def test_access_matrix(request, client_for, workspace, other_csm_membership, role, whose, action):
    membership = request.getfixturevalue(MEMBERSHIPS[role])
    owner = membership.user if whose == "own" else other_csm_membership.user
    target = CustomerFactory(workspace=workspace, owner=owner, name="Target")
    expected = READS.get(action) or WRITES[action]
    if role == Role.CSM and whose == "other_csm" and action in WRITES:
        expected = 403
    assert _status(client_for(membership), action, target) == expected
    target.refresh_from_db()
    renamed = action == "edit_post" and expected == 302
    assert (target.name == "Renamed") is renamed


def test_a_csm_cannot_change_another_csm_contacts_or_pulse(client_for, other_csm_membership, customer):
    contact = ContactFactory(customer=customer, first_name="Ada")
    client = client_for(other_csm_membership)
    assert client.get(reverse("customers:contact_edit", args=[contact.pk])).status_code == 403
    assert client.post(reverse("customers:contact_delete", args=[contact.pk])).status_code == 403
    assert client.post(reverse("customers:pulse", args=[customer.pk]), {"pulse": "1"}).status_code == 403
    assert Contact.objects.filter(pk=contact.pk).exists()
    customer.refresh_from_db()
    assert customer.csm_pulse is None


def test_another_workspace_gets_404_on_every_object_url(client_for, stranger_membership, customer):
    contact = ContactFactory(customer=customer)
    client = client_for(stranger_membership)
    gets = [
        reverse("customers:detail", args=[customer.pk]),
        reverse("customers:edit", args=[customer.pk]),
        reverse("customers:history", args=[customer.pk]),
        reverse("customers:contact_create", args=[customer.pk]),
        reverse("customers:contact_edit", args=[contact.pk]),
    ]
    for url in gets:
        assert client.get(url).status_code == 404, url
    assert client.get(reverse("customers:preview", args=[customer.pk]), **HTMX).status_code == 404
    posts = [
        reverse("customers:edit", args=[customer.pk]),
        reverse("customers:pulse", args=[customer.pk]),
        reverse("customers:contact_create", args=[customer.pk]),
        reverse("customers:contact_edit", args=[contact.pk]),
        reverse("customers:contact_delete", args=[contact.pk]),
    ]
    for url in posts:
        assert client.post(url, {"name": "Hacked", "pulse": "1", "email": "x@y.z"}).status_code == 404, url
    customer.refresh_from_db()
    assert customer.name == "Globex"
    assert Contact.objects.filter(pk=contact.pk).exists()
    assert "Globex" not in html(client.get(reverse("customers:list")))


def test_an_anonymous_visitor_is_sent_to_login(client, customer):
    response = client.get(reverse("customers:detail", args=[customer.pk]))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_a_pulse_change_is_sent_to_the_crm_after_commit(
    client_for, csm_membership, customer, django_capture_on_commit_callbacks
):
    from unittest import mock

    with (
        mock.patch("customers.views.push_customer_scores") as push,
        django_capture_on_commit_callbacks(execute=True),
    ):
        client_for(csm_membership).post(
            reverse("customers:pulse", args=[customer.pk]), {"pulse": "2", "note": ""}
        )
    push.delay.assert_called_once_with(customer.pk)


def test_the_history_page_says_where_each_value_comes_from(client_for, csm_membership, customer):
    from customers.changes import Actor
    from customers.services import customer_update

    customer_update(customer=customer, actor=Actor.for_sync_run(7, "HubSpot"), domain="globex.io")
    customer_update(customer=customer, actor=Actor.for_user(csm_membership.user), name="Globex Corp")
    page = client_for(csm_membership).get(reverse("customers:history", args=[customer.pk])).content.decode()
    assert "Where each value comes from" in page
    assert "Sync run #7 (HubSpot)" in page
    assert "globex.io" in page
