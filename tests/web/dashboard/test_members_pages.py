"""The dashboard's customer list (browsable, filtered by segment, CSV), the tag reference page
and the stores page with sizes and sync health."""

from __future__ import annotations

import csv
import io

import pytest

from app.core.segments.catalogue import CATALOGUE
from tests.conftest import API_TOKEN
from tests.seeding import two_stores
from tests.web.dashboard.test_pages import sign_in_as


@pytest.fixture
def signed_in(client, stores):
    sign_in_as(client, token=API_TOKEN)
    return stores


@pytest.fixture
def stores(app, client, shop):
    return two_stores(app, client, shop)


def page(client, path: str, **query) -> str:
    response = client.get(path, query_string=query)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_the_customer_list_is_browsable_without_a_search(client, signed_in):
    mine, _ = signed_in
    text = page(client, f"/stores/{mine}/customers")
    assert "9 customers" in text and text.count("<tr><td>") == 9


def test_the_customer_list_narrows_to_a_segment_and_offers_its_csv(client, signed_in):
    mine, _ = signed_in
    text = page(client, f"/stores/{mine}/customers", segment="new")
    members = text.count("<tr><td>")
    assert 0 < members < 9 and f"{members} customer" in text
    assert f'/stores/{mine}/segments/new/members.csv' in text
    download = client.get(f"/stores/{mine}/segments/new/members.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))
    assert len(rows) == members and all(r["explanation"] for r in rows)


def test_an_unknown_segment_is_a_404_page_not_a_500(client, signed_in):
    mine, _ = signed_in
    response = client.get(f"/stores/{mine}/customers", query_string={"segment": "<b>x"})
    assert response.status_code == 404 and "<b>x" not in response.get_data(as_text=True)
    assert client.get(f"/stores/{mine}/segments/nope/members.csv").status_code == 404


def test_the_reference_page_explains_every_built_in(client, signed_in):
    mine, _ = signed_in
    text = page(client, f"/stores/{mine}/segments/reference")
    for entry in CATALOGUE:
        assert f"tw:{entry.key}" in text
    assert "Where families disagree" in text


def test_the_stores_page_shows_sizes_and_sync_health(client, signed_in):
    text = page(client, "/")
    assert text.count("9</td>") >= 2 and text.count(">ok<") == 2


def test_a_store_with_a_dry_run_destination_says_so_on_every_page(app, client, signed_in):
    mine, theirs = signed_in
    assert 'id="dry-run-banner"' not in page(client, f"/stores/{mine}/")
    added = app.test_cli_runner().invoke(args=["destinations", "add", "klaviyo", "--store",
                                               str(mine), "--api-key", "pk_test"])
    assert added.exit_code == 0, added.output
    for path in ("", "segments", "customers"):
        assert "Dry run:</strong> klaviyo records" in page(client, f"/stores/{mine}/{path}")
    assert 'id="dry-run-banner"' not in page(client, f"/stores/{theirs}/")
