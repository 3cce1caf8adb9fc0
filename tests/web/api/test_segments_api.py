"""Segments through the API: rules checked with positions, previews, edits that take effect."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.storage.models import Membership, Segment
from tests.conftest import API_TOKEN
from tests.seeding import CUSTOMER_ID, add_store, rescore, seed_orders
from tests.web.api.spec import assert_conforms

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
SEGMENTS = "/stores/{store_id}/segments"
SEGMENT = "/stores/{store_id}/segments/{key}"
PREVIEW = "/stores/{store_id}/segments/preview"


@pytest.fixture
def store_id(app, client, shop):
    store_id = add_store(app, shop)
    seed_orders(client, app)
    rescore(app, store_id)
    return store_id


@pytest.fixture
def eager(app):
    """Run queued tasks inline, as a worker would at once (refresh, then the debounced sync)."""
    celery = app.extensions["celery"]
    celery.conf.task_always_eager = True
    yield
    celery.conf.task_always_eager = False


def api(client, method: str, template: str, store_id: int, key: str = "", **kwargs):
    path = template.format(store_id=store_id, key=key)
    response = client.open(f"/api/v1{path}", method=method, headers=AUTH, **kwargs)
    assert_conforms(response, method, template)
    return response


def members(app, store_id: int, key: str) -> int:
    with app.extensions["db"].session() as session:
        return session.scalar(select(func.count()).select_from(Membership).where(
            Membership.store_id == store_id, Membership.segment_key == key,
            Membership.left_at.is_(None)))


def test_preview_counts_shares_and_explains_the_sample(client, store_id):
    response = api(client, "POST", PREVIEW, store_id,
                   json={"rule": "orders_count >= 2 and net_spent > 50", "sample_size": 5})
    assert response.status_code == 200
    body = response.json
    assert (body["count"], body["total"]) == (1, 9) and body["share"] == pytest.approx(1 / 9)
    assert body["sample"] == [{"platform_customer_id": str(CUSTOMER_ID),
                               "explanation": "orders_count 3 >= 2 and net_spent 300 > 50"}]
    everyone = api(client, "POST", PREVIEW, store_id, json={"rule": "has_email"}).json
    assert everyone["count"] == 9 and len(everyone["sample"]) == 9


def test_a_bad_rule_is_refused_with_its_position_and_nothing_is_saved(app, client, store_id):
    response = api(client, "POST", SEGMENTS, store_id,
                   json={"key": "regulars", "rule": "orders_count >= 2 and order_count < 5"})
    assert response.status_code == 422
    error = response.json["error"]
    assert error["reason"] == "invalid_rule"
    assert error["detail"]["reason"] == "unknown_field"
    assert (error["detail"]["line"], error["detail"]["column"]) == (1, 23)
    assert "did you mean 'orders_count'" in error["message"]
    preview = api(client, "POST", PREVIEW, store_id, json={"rule": "orders_count >="})
    assert preview.status_code == 422 and preview.json["error"]["detail"]["column"] == 16  # the end
    with app.extensions["db"].session() as session:
        assert session.scalar(select(func.count()).select_from(Segment)) == 0


def test_creating_a_rule_segment_tags_its_members_in_the_shop(app, client, shop, store_id,
                                                             eager):
    response = api(client, "POST", SEGMENTS, store_id,
                   json={"key": "regulars", "name": "Regulars",
                         "rule": "orders_count >= 2 and net_spent > 50"})
    assert response.status_code == 201, response.json
    assert response.json["tag"] == "tw:regulars" and response.json["kind"] == "rule"
    assert members(app, store_id, "regulars") == 1
    assert "tw:regulars" in shop.tags_of(str(CUSTOMER_ID))
    assert "VIP" in shop.tags_of(str(CUSTOMER_ID))  # the merchant's own tag stays
    view = client.get(f"/api/v1/stores/{store_id}/customers/{CUSTOMER_ID}", headers=AUTH).json
    [regular] = [s for s in view["segments"] if s["key"] == "regulars"]
    assert regular["explanation"] == "orders_count 3 >= 2 and net_spent 300 > 50"
    listed = api(client, "GET", SEGMENTS, store_id).json["segments"]
    assert {s["key"]: s["members"] for s in listed}["regulars"] == 1
    assert {"champions", "category-*", "lifecycle-new"} <= {s["key"] for s in listed}


def test_changing_and_disabling_a_rule_moves_tags(app, client, shop, store_id, eager):
    api(client, "POST", SEGMENTS, store_id, json={"key": "regulars", "rule": "orders_count >= 2"})
    assert members(app, store_id, "regulars") == 1
    changed = api(client, "PATCH", SEGMENT, store_id, "regulars",
                  json={"rule": "orders_count >= 1", "name": "Buyers", "holdout_percent": 10})
    assert changed.status_code == 200
    assert (changed.json["name"], changed.json["holdout_percent"]) == ("Buyers", 10)
    assert members(app, store_id, "regulars") == 9
    disabled = api(client, "DELETE", SEGMENT, store_id, "regulars")
    assert disabled.status_code == 200 and disabled.json["enabled"] is False
    assert members(app, store_id, "regulars") == 0
    assert "tw:regulars" not in shop.tags_of(str(CUSTOMER_ID))
    shown = api(client, "GET", SEGMENT, store_id, "regulars").json
    assert shown["rule"] == "orders_count >= 1" and shown["enabled"] is False


def test_a_builtin_can_be_switched_off_and_on_but_not_rewritten(app, client, store_id, eager):
    group = next(s["key"] for s in api(client, "GET", SEGMENTS, store_id).json["segments"]
                 if s["kind"] == "builtin" and s["members"] > 0)
    refused = api(client, "PATCH", SEGMENT, store_id, group, json={"rule": "orders_count > 1"})
    assert refused.status_code == 422 and refused.json["error"]["reason"] == "builtin_segment"
    off = api(client, "DELETE", SEGMENT, store_id, group)
    assert off.json["enabled"] is False and members(app, store_id, group) == 0
    on = api(client, "PATCH", SEGMENT, store_id, group, json={"enabled": True})
    assert on.json["enabled"] is True and members(app, store_id, group) > 0


@pytest.mark.parametrize("body, status, reason", [
    ({"key": "champions", "rule": "orders_count > 1"}, 409, "segment_exists"),
    ({"key": "category-shoes", "rule": "orders_count > 1"}, 409, "segment_exists"),
    ({"key": "preview", "rule": "orders_count > 1"}, 409, "segment_exists"),
    ({"key": "Big Spenders", "rule": "orders_count > 1"}, 400, "invalid_body"),
    ({"key": "x" * 65, "rule": "orders_count > 1"}, 400, "invalid_body"),
])
def test_keys_that_cannot_be_tags_or_collide_are_refused(app, client, store_id, body, status,
                                                         reason):
    response = api(client, "POST", SEGMENTS, store_id, json=body)
    assert (response.status_code, response.json["error"]["reason"]) == (status, reason)
    with app.extensions["db"].session() as session:
        assert session.scalar(select(func.count()).select_from(Segment)) == 0


def test_a_second_segment_with_the_same_key_is_a_conflict(client, store_id):
    body = {"key": "regulars", "rule": "orders_count >= 2", "enabled": False}
    assert api(client, "POST", SEGMENTS, store_id, json=body).status_code == 201
    again = api(client, "POST", SEGMENTS, store_id, json=body)
    assert again.status_code == 409 and "already exists" in again.json["error"]["message"]


def test_unknown_segments_are_404(client, store_id):
    assert api(client, "GET", SEGMENT, store_id, "nope").status_code == 404
    assert api(client, "PATCH", SEGMENT, store_id, "nope",
               json={"enabled": False}).status_code == 404
    assert api(client, "DELETE", SEGMENT, store_id, "nope").status_code == 404
