"""A segment's members through the API: paged with reasons, as streamed CSV, and as a filter on
the customer list; plus ``tagwise segments export`` writing the same CSV."""

from __future__ import annotations

import csv
import io

import pytest

from app.services.segment_members import CSV_COLUMNS
from tests.conftest import API_TOKEN
from tests.seeding import rescored_store
from tests.web.api.spec import assert_conforms

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
MEMBERS = "/stores/{store_id}/segments/{key}/members"
CUSTOMERS = "/stores/{store_id}/customers"


@pytest.fixture
def store_id(app, client, shop):
    return rescored_store(app, client, shop)


def get(client, template: str, query: str = "", **ids):
    response = client.get(f"/api/v1{template.format(**ids)}{query}", headers=AUTH)
    assert_conforms(response, "GET", template)
    return response


def biggest_segment(client, store_id: int) -> dict:
    """The largest segment that leaves some customers out (so a filter visibly narrows)."""
    everyone = client.get(f"/api/v1/stores/{store_id}/customers", headers=AUTH).json["total"]
    segments = client.get(f"/api/v1/stores/{store_id}/segments", headers=AUTH).json["segments"]
    return max((s for s in segments if s["members"] < everyone and s["key"] != "category-*"),
               key=lambda s: (s["members"], s["key"]))


def test_members_page_through_the_whole_segment_each_with_why(client, store_id):
    segment = biggest_segment(client, store_id)
    assert segment["members"] >= 3
    seen = []
    for page in range(1, segment["members"] + 1):
        body = get(client, MEMBERS, f"?page={page}&per_page=2", store_id=store_id,
                   key=segment["key"]).json
        assert body["total"] == segment["members"] and body["tag"] == segment["tag"]
        seen += body["members"]
        if len(seen) >= body["total"]:
            break
    ids = [m["platform_customer_id"] for m in seen]
    assert len(ids) == segment["members"] and len(set(ids)) == len(ids)
    assert all(m["explanation"] and segment["key"] in m["segments"] for m in seen)


def test_the_customer_list_filters_by_segment(client, store_id):
    segment = biggest_segment(client, store_id)
    body = get(client, CUSTOMERS, f"?segment={segment['key']}&per_page=200",
               store_id=store_id).json
    assert body["total"] == segment["members"]
    assert all(segment["key"] in c["segments"] for c in body["customers"])
    everyone = get(client, CUSTOMERS, "?per_page=200", store_id=store_id).json
    assert everyone["total"] > body["total"]  # the filter really narrowed the list


@pytest.mark.parametrize("template, query", [(MEMBERS, ""), (CUSTOMERS, "?segment=nope")])
def test_an_unknown_segment_is_404(client, store_id, template, query):
    response = get(client, template, query, store_id=store_id, key="nope")
    assert response.status_code == 404
    assert response.json["error"]["reason"] == "segment_not_found"


def test_members_csv_is_streamed_with_every_member(client, store_id):
    segment = biggest_segment(client, store_id)
    response = client.get(f"/api/v1/stores/{store_id}/segments/{segment['key']}/members.csv",
                          headers=AUTH)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.is_streamed
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == segment["members"]
    assert all(row["explanation"] for row in rows)
    assert {row["email"].lower() for row in rows} <= {c["email"].lower() for c in get(
        client, CUSTOMERS, "?per_page=200", store_id=store_id).json["customers"]}
    assert any(row["email"] for row in rows)


def test_members_csv_of_an_unknown_segment_is_a_json_404(client, store_id):
    response = client.get(f"/api/v1/stores/{store_id}/segments/nope/members.csv", headers=AUTH)
    assert response.status_code == 404 and response.json["error"]["reason"] == "segment_not_found"


def test_segments_export_writes_the_same_csv(app, client, store_id, tmp_path):
    segment = biggest_segment(client, store_id)
    target = tmp_path / "members.csv"
    result = app.test_cli_runner().invoke(args=[
        "segments", "export", "--store", str(store_id), segment["key"], "-o", str(target)])
    assert result.exit_code == 0, result.output
    via_api = client.get(f"/api/v1/stores/{store_id}/segments/{segment['key']}/members.csv",
                         headers=AUTH).get_data(as_text=True)
    assert target.read_bytes().decode() == via_api
    missing = app.test_cli_runner().invoke(args=["segments", "export", "--store",
                                                 str(store_id), "nope"])
    assert missing.exit_code == 1 and "no segment nope" in missing.output
