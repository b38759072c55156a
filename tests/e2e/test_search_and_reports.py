import re

import pytest
from playwright.sync_api import expect

from customers.models import Customer
from search.services import search_index_pass
from skalin.demo_data import DEMO_PASSWORD, DEMO_SLUG, seed_demo

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CSM_EMAIL = "camille@demo-saas.test"
MANAGER_EMAIL = "manager@demo-saas.test"


@pytest.fixture
def demo(transactional_db):
    demo = seed_demo(customers=20, seed=5)
    search_index_pass(full=True)
    return demo


def log_in(page, email):
    page.goto("/")
    page.fill("#id_username", email)
    page.fill("#id_password", DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/customers/$"))


def test_the_header_search_is_typed_into_and_its_results_reached_with_the_keyboard(
    page, screenshot, console, demo
):
    customer = Customer.objects.filter(workspace__slug=DEMO_SLUG).order_by("name").first()
    assert customer is not None
    log_in(page, CSM_EMAIL)
    box = page.locator("#header-search")
    box.press_sequentially(customer.name.split()[0][:5], delay=20)
    panel = page.locator("#search-panel")
    result = panel.get_by_role("link", name=re.compile(re.escape(customer.name)))
    expect(result.first).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    screenshot("search-01-header-panel")

    box.press("ArrowDown")
    first = panel.locator("[data-search-result]").first
    expect(first).to_be_focused()
    box_text = first.inner_text()
    page.keyboard.press("Escape")
    expect(panel).to_be_empty()
    expect(box).to_be_focused()

    box.press("ArrowDown")  # the panel is empty: nothing to move to
    box.press("Enter")  # the form's own GET: the results page
    expect(page).to_have_url(re.compile(r"/search/\?q="))
    expect(page.locator("#index-freshness")).to_contain_text("Index last refreshed")
    expect(page.locator("#search-results")).to_contain_text(box_text.split("\n")[0].strip())
    screenshot("search-02-results-page", full_page=True)

    assert console.csp_violations() == [], console.errors
    assert not [error for error in console.errors if error.startswith("uncaught")], console.errors


def test_a_manager_recomputes_the_reports_and_reads_the_figures_and_charts(page, screenshot, console, demo):
    log_in(page, MANAGER_EMAIL)
    page.goto("/reports/")
    page.get_by_role("button", name="Recompute now").click()
    expect(page.get_by_role("heading", name="MRR month by month")).to_be_visible()
    expect(page.locator("svg[aria-label='MRR at each month end'] rect").first).to_be_attached()
    for heading in ("Net and gross revenue retention per quarter", "Renewals due", "CSM Pulse freshness"):
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile(r"^Dropping: \d+$"))).to_be_visible()
    expect(page.locator("main")).to_contain_text("lower than the week before")
    screenshot("reports-01-page", full_page=True)

    with page.expect_download() as download:
        page.locator("section[aria-labelledby=dropping-title]").get_by_role("link", name="CSV").click()
    assert download.value.suggested_filename.endswith("-dropping.csv")

    # No chart library from a CDN: every script the page loads is the app's own.
    sources = page.eval_on_selector_all("script[src]", "scripts => scripts.map(s => s.src)")
    assert sources and all(src.startswith(page.url.split("/reports/")[0]) for src in sources), sources
    assert console.csp_violations() == [], console.errors
