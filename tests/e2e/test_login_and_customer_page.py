import re

import pytest
from django.db.models import Count
from playwright.sync_api import expect

from customers.models import Customer
from skalin.demo_data import DEMO_PASSWORD, DEMO_SLUG, OTHER_SLUG, seed_demo
from workspaces.models import Membership, Role, Workspace
from workspaces.services import user_get_or_create

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CSM_EMAIL = "camille@demo-saas.test"


@pytest.fixture
def demo(transactional_db):
    return seed_demo(customers=20, seed=5)


@pytest.fixture
def showcase(demo):
    """A customer of the CSM with contacts, agreements and, when there is one, a CRM source."""
    return (
        Customer.objects.filter(workspace__slug=DEMO_SLUG, owner__email=CSM_EMAIL)
        .annotate(
            contact_count=Count("contacts", distinct=True),
            agreement_count=Count("agreements", distinct=True),
            source_count=Count("sources", distinct=True),
        )
        .filter(contact_count__gte=2, agreement_count__gte=1)
        .order_by("-source_count", "-agreement_count", "name")
        .first()
    )


def log_in(page, email, password=DEMO_PASSWORD):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.get_by_role("button", name="Log in").click()


def test_a_csm_logs_in_finds_a_customer_previews_it_and_opens_its_page(page, screenshot, console, showcase):
    assert showcase is not None, "the demo has a customer of the CSM with contacts and agreements"
    page.goto("/")
    screenshot("01-login")
    log_in(page, CSM_EMAIL)
    expect(page).to_have_url(re.compile(r"/customers/$"))
    expect(page.get_by_role("heading", name="Customers")).to_be_visible()
    screenshot("02-customer-list", full_page=True)

    # Typed key by key, as a person does: the list searches as you type (after a short pause).
    page.locator("#customer-search").press_sequentially(showcase.name, delay=20)
    expect(page).to_have_url(re.compile(r"[?&]q="))
    page.wait_for_load_state("networkidle")  # the last keystroke's search has landed
    row_link = page.locator("#results").get_by_role("link", name=showcase.name, exact=True)
    expect(row_link).to_be_visible()
    screenshot("03-search")

    page.get_by_role("button", name=f"Quick preview of {showcase.name}", exact=True).click()
    drawer = page.locator("#drawer")
    expect(drawer.get_by_role("heading", name=showcase.name)).to_be_visible()
    expect(drawer).to_contain_text("Customer ID")
    expect(drawer).to_contain_text(showcase.ref_id)
    screenshot("04-quick-preview")

    page.get_by_role("button", name="Close the preview").click()
    row_link.click()
    expect(page).to_have_url(re.compile(rf"/customers/{showcase.pk}/$"))
    expect(page.get_by_role("heading", name=showcase.name, exact=True)).to_be_visible()
    contacts = page.locator("section[aria-labelledby=contacts-title]")
    for contact in showcase.contacts.all():
        expect(contacts).to_contain_text(contact.full_name)
    agreements = page.locator("section[aria-labelledby=agreements-title]")
    for agreement in showcase.agreements.all():
        expect(agreements).to_contain_text(agreement.plan_name)
    screenshot("05-customer-page", full_page=True)

    assert console.csp_violations() == [], console.errors
    assert not [error for error in console.errors if error.startswith("uncaught")], console.errors


def test_the_logout_button_logs_out_and_the_list_then_asks_to_log_in(page, screenshot, demo):
    log_in(page, CSM_EMAIL)
    expect(page).to_have_url(re.compile(r"/customers/$"))
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.goto("/customers/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/customers/"))
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    screenshot("06-after-logout")


def test_a_csm_of_another_workspace_typing_the_url_gets_the_not_found_page(page, screenshot, showcase):
    stranger = user_get_or_create(email="csm@other-corp.test", password=DEMO_PASSWORD)
    Membership.objects.create(workspace=Workspace.objects.get(slug=OTHER_SLUG), user=stranger, role=Role.CSM)
    log_in(page, "csm@other-corp.test")
    expect(page).to_have_url(re.compile(r"/customers/$"))

    response = page.goto(f"/customers/{showcase.pk}/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text(showcase.name)
    screenshot("07-other-workspace-404")
