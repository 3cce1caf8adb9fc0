"""The overview by family, the RFM movement, small cohorts, store-local times, the customer page
with email and orders, and the styled error pages, through the Flask client."""

from __future__ import annotations

import re
from datetime import UTC
from zoneinfo import ZoneInfo

import pytest

from app.storage.models import Store
from tests.conftest import API_TOKEN
from tests.seeding import CUSTOMER_ID, rescored_store
from tests.web.dashboard.test_pages import sign_in_as

HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture
def store_id(app, client, shop):
    """Nine customers, rescored twice (the second rescore has a movement to report)."""
    store_id = rescored_store(app, client, shop)
    assert app.test_cli_runner().invoke(args=["rescore", "--store", str(store_id)]).exit_code == 0
    sign_in_as(client, token=API_TOKEN)
    return store_id


def test_the_overview_groups_segments_by_family_and_rfm_shares_stay_within_the_whole(
        client, store_id):
    page = client.get(f"/stores/{store_id}/").get_data(as_text=True)
    families = re.findall(r'<table [^>]*data-family="(\w+)"', page)
    assert families[0] == "rfm" and "lifecycle" in families and len(set(families)) == \
        len(families)
    rfm_table = page.split('data-family="rfm"')[1].split("</table>")[0]
    shares = [int(s) for s in re.findall(r'<td class="num" data-label="Share">(\d+)%', rfm_table)]
    assert shares and sum(shares) <= 101  # one group per customer (rounding aside)
    # The RFM mix chart names every group's count; nine customers are flagged as a small sample.
    assert 'id="rfm-mix"' in page and 'id="mix-small"' in page
    assert "champions" in re.search(r"<title id=\"mix-title\">(.*?)</title>", page).group(1)
    assert 'class="badge small"' in rfm_table


def test_the_movement_page_shows_the_matrix_of_the_last_two_rescores(app, client, store_id):
    page = client.get(f"/stores/{store_id}/rfm/movement").get_data(as_text=True)
    assert 'id="movement-matrix"' in page
    totals = re.findall(r'<td class="num">(\d+)</td></tr>', page)
    assert sum(map(int, totals)) == 9  # every customer is on one row
    assert re.search(r"<strong>0</strong> of 9 customers changed RFM group and 9 stayed", page)


def test_the_movement_page_before_a_second_rescore_says_when_it_will_appear(app, client, shop):
    store_id = rescored_store(app, client, shop)
    sign_in_as(client, token=API_TOKEN)
    page = client.get(f"/stores/{store_id}/rfm/movement").get_data(as_text=True)
    assert "counted from the next rescore on" in page and "movement-matrix" not in page


def test_times_are_shown_in_the_stores_timezone_and_labelled(app, client, store_id):
    with app.extensions["db"].session() as session:
        store = session.get(Store, store_id)
        store.timezone = "Europe/Berlin"
        rescored_at = store.rescored_at
    local = rescored_at.replace(tzinfo=UTC).astimezone(ZoneInfo("Europe/Berlin"))
    for path in ("", "rfm", "cohorts"):
        page = client.get(f"/stores/{store_id}/{path}").get_data(as_text=True)
        assert "UTC" not in page
        assert (f'title="Europe/Berlin">{local:%Y-%m-%d %H:%M} '
                f'<abbr class="tz">{local.tzname()}</abbr>') in page, path


def test_small_cohorts_are_flagged_and_left_uncoloured(client, store_id):
    page = client.get(f"/stores/{store_id}/cohorts").get_data(as_text=True)
    rows = re.findall(r'<tr class="small">(.*?)</tr>', page, re.S)
    assert rows and all('style="background' not in row for row in rows)
    grid = client.get(f"/stores/{store_id}/rfm?by=mean_monetary").get_data(as_text=True)
    assert "hsl(213" not in grid  # no cell holds 30 customers: no mean is coloured


def test_the_customer_page_shows_the_email_and_the_orders(client, store_id):
    page = client.get(f"/stores/{store_id}/customers/{CUSTOMER_ID}").get_data(as_text=True)
    assert 'href="mailto:john@example.com"' in page
    table = page.split('id="order-table"')[1].split("</table>")[0]
    orders = re.findall(r'<tr><th scope="row">(\w+)</th>', table)
    assert orders == ["70002", "70001", "70000"]  # newest first


def test_browsers_get_styled_error_pages_and_api_clients_json(app, client, store_id):
    missing = client.get("/no/such/page", headers=HTML)
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    body = missing.get_data(as_text=True)
    assert "dashboard.css" in body and "<h1 id=\"error-title\">Not found</h1>" in body
    inside = client.get(f"/stores/{store_id}/customers/nobody", headers=HTML)
    assert inside.status_code == 404 and 'id="error-title"' in inside.get_data(as_text=True)
    api = client.get("/api/v1/no/such/thing", headers=HTML)
    assert api.status_code == 404 and api.json["error"]["reason"] == "not_found"
    refused = client.post(f"/stores/{store_id}/segments/new", data={}, headers=HTML)
    assert refused.status_code == 400 and "error-title" in refused.get_data(as_text=True)


def test_a_server_error_page_says_nothing_of_the_cause(app, client, store_id, monkeypatch):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def explode(*args, **kwargs):
        raise RuntimeError("secret detail: password=hunter2")

    monkeypatch.setattr("app.web.dashboard.reports.load_report", explode)
    response = client.get(f"/stores/{store_id}/rfm", headers=HTML)
    body = response.get_data(as_text=True)
    assert response.status_code == 500 and "Something went wrong on our side" in body
    assert "hunter2" not in body and "Traceback" not in body and "dashboard.css" in body


def test_a_store_above_the_small_cohort_line_gets_plain_shares_and_a_coloured_mix(
        client, store_id, monkeypatch):
    # Nine customers stand in for a large store: only fewer than 5 now counts as small.
    monkeypatch.setattr("app.core.profiles.reports.SMALL_COHORT_CUSTOMERS", 5)
    page = client.get(f"/stores/{store_id}/").get_data(as_text=True)
    assert 'id="mix-small"' not in page and 'class="mix"' in page
    rfm_table = page.split('data-family="rfm"')[1].split("</table>")[0]
    assert 'class="badge small"' not in rfm_table
    shares = re.findall(r'</span></span> (\d+\.\d)%</td>', rfm_table)
    assert shares and abs(sum(map(float, shares)) - 100.0) < 0.5  # everyone is in one group
