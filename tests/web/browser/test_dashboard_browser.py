"""The dashboard in a real headless Chromium: sign in, read the reports, build a rule segment with
its live preview, save it, and read why a customer carries a tag; also at phone width."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import API_TOKEN
from tests.seeding import CUSTOMER_ID
from tests.web.browser.conftest import DESKTOP, PHONE, screenshot

pytestmark = pytest.mark.browser


def sign_in(page, live_url: str) -> None:
    page.goto(f"{live_url}/login")
    page.get_by_label("API token", exact=True).fill(API_TOKEN)
    page.get_by_role("button", name="Sign in with token").click()
    page.wait_for_url(re.compile(r"/stores/\d+/$"))


def test_a_merchant_builds_a_segment_and_reads_why_a_customer_carries_it(browser, live_url, app,
                                                                         seeded):
    page = browser.new_page(viewport=DESKTOP)
    page.goto(f"{live_url}/stores/{seeded}/")
    page.wait_for_url(re.compile(r"/login"))  # not signed in: sent to the sign-in page
    screenshot(page, "login")
    sign_in(page, live_url)

    assert page.locator("#customer-count").inner_text() == "9"
    groups = page.get_by_role("table", name=re.compile("^RFM group"))
    assert groups.locator("tbody tr").count() > 0
    assert groups.locator("svg.spark").count() > 0  # three rescores make a trend
    assert page.get_by_role("table", name=re.compile("^Lifecycle")).count() == 1
    assert page.get_by_role("img", name=re.compile("^RFM group mix")).is_visible()
    assert page.locator("#mix-small").is_visible()  # nine customers: a small sample
    screenshot(page, "overview")

    page.get_by_role("link", name="RFM grid").click()
    grid = page.locator("#rfm-grid")
    counts = [int(c.replace(",", "")) for c in grid.locator("td .cell-main").all_inner_texts()]
    assert len(counts) == 25 and sum(counts) == 9
    assert grid.locator("td[title^='R 5, F 1:']").count() == 1  # every cell labelled
    screenshot(page, "rfm")
    page.get_by_label("Colour by").select_option("mean_monetary")
    page.get_by_role("button", name="Show").click()
    assert "by=mean_monetary" in page.url

    page.get_by_role("link", name="Cohorts").click()
    assert page.locator("#cohort-table tbody tr").count() >= 1
    screenshot(page, "cohorts")

    page.get_by_role("link", name="Segments").click()
    page.get_by_role("link", name="New segment").click()
    page.get_by_label("Key").fill("regulars")
    page.get_by_label("Name").fill("Regulars")
    rule = page.get_by_label("Rule")
    rule.fill("order_count >= 2")
    preview = page.locator("#preview")
    preview.get_by_text("unknown field 'order_count' at 1:1").wait_for()
    rule.fill("orders_count >= 2 and net_spent > 50")
    page.locator("#preview-count").wait_for()
    assert page.locator("#preview-count").inner_text().startswith("1 of 9 customers (11.1%)")
    screenshot(page, "segment_editor")
    page.get_by_role("button", name="Save segment").click()
    page.get_by_role("rowheader", name="tw:regulars", exact=True).wait_for()
    screenshot(page, "segments")

    # The nightly rescore applies the new rule to every customer.
    assert app.test_cli_runner().invoke(args=["rescore", "--store", str(seeded)]).exit_code == 0

    page.get_by_role("link", name="Customers").click()
    page.get_by_label("Email or customer id").fill(str(CUSTOMER_ID))
    page.get_by_role("button", name="Show").click()
    page.get_by_role("link", name="john@example.com").click()
    tag = page.locator("li", has=page.locator("code", has_text="tw:regulars"))
    assert "orders_count 3 >= 2 and net_spent 300 > 50" in tag.inner_text()
    screenshot(page, "customer")

    page.get_by_role("link", name="Destinations").click()
    assert page.get_by_role("heading", name=re.compile("shopify_tags")).count() == 1
    screenshot(page, "destinations")
    klaviyo = page.locator("section", has=page.get_by_role("heading", name=re.compile("klaviyo")))
    klaviyo.get_by_role("link", name="Review what going live would change").click()
    assert re.match(r"\d+ customers? would change", page.locator("#diff-summary").inner_text())
    assert "tw:regulars" in page.locator("#diff-table").inner_text()
    screenshot(page, "destination_diff")
    page.get_by_label("I have reviewed the changes above").check()
    page.get_by_role("button", name="Switch klaviyo to live").click()
    page.get_by_role("status").get_by_text("The destination is live").wait_for()
    klaviyo = page.locator("section", has=page.get_by_role("heading", name=re.compile("klaviyo")))
    assert klaviyo.locator(".badge.live").count() == 1
    page.close()


def test_the_dashboard_fits_a_phone(browser, live_url, seeded):
    page = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    sign_in(page, live_url)
    for path, name in (("", "overview_phone"), ("rfm", "rfm_phone"),
                       (f"customers?q={CUSTOMER_ID}", "customers_phone"),
                       ("customers", "customer_list_phone"),
                       ("segments", "segments_phone"),
                       ("segments/reference", "tag_reference_phone")):
        page.goto(f"{live_url}/stores/{seeded}/{path}")
        # Nothing but the tables' own scroll boxes may be wider than the screen ...
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        # ... and the list tables need no scrolling at all: each row is a card.
        assert_stacked_tables_fit(page)
        screenshot(page, name)
    page.close()


def assert_stacked_tables_fit(page) -> None:
    """Every ``table.stack`` on the page is no wider than its box (no sideways scroll)."""
    widths = page.evaluate("""[...document.querySelectorAll('table.stack')].map(
        t => [t.id || t.getAttribute('aria-labelledby'), t.scrollWidth,
              t.parentElement.clientWidth])""")
    for name, table, box in widths:
        assert table <= box + 1, f"{name}: {table}px in a {box}px box"


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_rfm_movement_customer_page_and_error_pages(browser, live_url, seeded, viewport):
    phone = viewport == "phone"
    page = (browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True) if phone
            else browser.new_page(viewport=DESKTOP))
    suffix = "_phone" if phone else ""
    sign_in(page, live_url)

    page.get_by_role("link", name="Who moved between groups at the last rescore").click()
    page.wait_for_url(re.compile(r"/rfm/movement$"))
    matrix = page.locator("#movement-matrix")
    totals = [int(t) for t in matrix.locator("tbody tr td.num").all_inner_texts()]
    assert sum(totals) == 9  # every customer sits on one row: its group before
    summary = page.locator("#movement-summary").inner_text()
    moved, stayed = re.search(r"(\d+) of 9 customers changed RFM group and (\d+) stayed",
                              summary).groups()
    assert int(moved) + int(stayed) == 9
    assert page.locator("ul.moves li").count() == min(int(moved), 12) or int(moved) > 12
    assert page.evaluate("document.documentElement.scrollWidth") <= (PHONE if phone
                                                                     else DESKTOP)["width"]
    screenshot(page, f"rfm_movement{suffix}")

    page.goto(f"{live_url}/stores/{seeded}/customers/{CUSTOMER_ID}")
    assert page.get_by_role("link", name="john@example.com").is_visible()
    orders = page.get_by_role("table", name="Orders")
    assert orders.locator("tbody tr").count() == 3
    if phone:
        assert_stacked_tables_fit(page)
    screenshot(page, f"customer_orders{suffix}")

    page.goto(f"{live_url}/stores/{seeded}/customers/no-such-customer")
    assert page.get_by_role("heading", name="Not found").is_visible()
    assert page.get_by_role("link", name="Back to your stores").is_visible()
    screenshot(page, f"error_404{suffix}")
    response = page.goto(f"{live_url}/no/such/page")
    assert response.status == 404 and page.get_by_role("heading", name="Not found").is_visible()

    response = page.goto(f"{live_url}/auth/shopify/install?shop=not-a-shop")
    assert response.status in (400, 503)  # a bad shop, or no app key in this deployment
    assert page.get_by_role("heading", name="Tagwise could not be installed").is_visible()
    assert page.locator("link[rel=stylesheet]").count() == 1  # the dashboard's own style
    screenshot(page, f"install_error{suffix}")
    page.close()


def test_a_merchant_lists_a_segments_members_downloads_them_and_reads_what_tags_mean(
        browser, live_url, seeded):
    page = browser.new_page(viewport=DESKTOP, accept_downloads=True)
    sign_in(page, live_url)
    page.get_by_role("link", name="Customers").click()
    assert "9 customers" in page.locator("#customer-results caption").inner_text()
    page.get_by_label("In segment").select_option("new")
    page.get_by_role("button", name="Show").click()
    caption = page.locator("#customer-results caption").inner_text()
    members = page.locator("#customer-results tbody tr").count()
    assert 0 < members < 9 and caption.startswith(f"{members} customer")
    screenshot(page, "customer_list_segment")
    with page.expect_download() as download:
        page.locator("#segment-csv").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0].startswith("platform_customer_id,email") and len(lines) == members + 1

    page.get_by_role("link", name="Segments").click()
    page.get_by_role("link", name="Tag reference").click()
    assert page.get_by_role("heading", name=re.compile("^RFM group")).count() == 1
    assert page.get_by_role("cell", name="tw:new", exact=True).count() == 1
    screenshot(page, "tag_reference")
    page.close()
