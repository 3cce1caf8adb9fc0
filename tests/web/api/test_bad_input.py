"""Hostile and malformed requests answer a precise 4xx in the one error shape, and write nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.storage.models import Segment
from app.web.api.body import API_MAX_BODY_BYTES
from tests.conftest import API_TOKEN
from tests.seeding import add_store

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
JSON = "application/json"
RULE = "orders_count >= 1"


@pytest.fixture
def store_id(app, shop):
    return add_store(app, shop)


CASES = [
    # (body bytes, content type, status, reason)
    (b'{"key": "a", "rule": "orders_count >= 1"}', "text/plain", 415, "unsupported_media_type"),
    (b'key=a&rule=x', "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    (b'{"key": "a", "rule": "orders_count >= 1"}', None, 415, "unsupported_media_type"),
    (b"", JSON, 400, "invalid_json"),
    (b'{"key": "a", "rule": ', JSON, 400, "invalid_json"),
    (b'{"key": "a", "rule": "x", "holdout_percent": NaN}', JSON, 400, "invalid_json"),
    (b'{"key": "a", "rule": "x", "holdout_percent": Infinity}', JSON, 400, "invalid_json"),
    (b"\xff\xfe{}", JSON, 400, "invalid_json"),
    (b'["key", "rule"]', JSON, 400, "invalid_body"),
    (b'"just a string"', JSON, 400, "invalid_body"),
    (b"null", JSON, 400, "invalid_body"),
    (b'{"key": "a"}', JSON, 400, "invalid_body"),
    (b'{"key": "a", "rule": 42}', JSON, 400, "invalid_body"),
    (b'{"key": "a", "rule": "x", "enabled": "yes"}', JSON, 400, "invalid_body"),
    (b'{"key": "a", "rule": "x", "holdout_percent": 101}', JSON, 400, "invalid_body"),
    (b'{"key": "a", "rule": "x", "holdout_percent": 5.5}', JSON, 400, "invalid_body"),
    (b'{"key": "a", "rule": "x", "holdout_percent": true}', JSON, 400, "invalid_body"),
    (b'{"key": "a", "rule": "x", "store_id": 2}', JSON, 400, "invalid_body"),
    (b'{"key": "a", "rule": "x\\u0000"}', JSON, 400, "invalid_text"),
    (b'{"key": "a", "rule": "x", "name": "\\ud800"}', JSON, 400, "invalid_text"),
    (b'{"key": "a", "rule": "' + b"x" * 2001 + b'"}', JSON, 400, "invalid_body"),
]


@pytest.mark.parametrize("body, content_type, status, reason", CASES)
def test_a_malformed_segment_body_is_refused_precisely(app, client, store_id, body,
                                                      content_type, status, reason):
    headers = dict(AUTH, **({"Content-Type": content_type} if content_type else {}))
    response = client.post(f"/api/v1/stores/{store_id}/segments", data=body, headers=headers)
    assert response.status_code == status, response.json
    assert response.json["error"]["reason"] == reason
    with app.extensions["db"].session() as session:
        assert session.scalar(select(func.count()).select_from(Segment)) == 0


def test_a_whole_number_written_with_a_point_is_an_integer(client, store_id):
    response = client.post(f"/api/v1/stores/{store_id}/segments/preview", headers=AUTH,
                           json={"rule": RULE, "sample_size": 2.0})
    assert response.status_code == 200 and response.json["total"] == 0
    huge = client.post(f"/api/v1/stores/{store_id}/segments/preview", headers=AUTH,
                       data=b'{"rule": "orders_count > 1", "sample_size": 1e400}',
                       content_type=JSON)
    assert huge.status_code == 400 and huge.json["error"]["reason"] == "invalid_body"


def test_a_wrong_type_names_the_field(client, store_id):
    response = client.post(f"/api/v1/stores/{store_id}/segments", headers=AUTH,
                           json={"key": "a", "rule": RULE, "enabled": "yes"})
    assert response.json["error"]["message"] == "enabled: 'yes' is not of type 'boolean'"
    unknown = client.post(f"/api/v1/stores/{store_id}/segments", headers=AUTH,
                          json={"key": "a", "rule": RULE, "colour": "red"})
    assert "'colour' was unexpected" in unknown.json["error"]["message"]


def test_an_oversized_body_is_413(client, store_id):
    big = b'{"key": "a", "rule": "' + b" " * API_MAX_BODY_BYTES + b'orders_count > 1"}'
    declared = client.post(f"/api/v1/stores/{store_id}/segments/preview", data=big,
                           headers=dict(AUTH, **{"Content-Type": JSON}))
    assert declared.status_code == 413 and declared.json["error"]["reason"] == "body_too_large"


@pytest.mark.parametrize("body", [{}, {"enabled": None}, {"name": ""}, {"key": "renamed"}])
def test_an_empty_or_invalid_patch_is_refused(client, store_id, body):
    client.post(f"/api/v1/stores/{store_id}/segments", headers=AUTH,
                json={"key": "regulars", "rule": RULE, "enabled": False})
    response = client.patch(f"/api/v1/stores/{store_id}/segments/regulars", headers=AUTH,
                            json=body)
    assert response.status_code == 400 and response.json["error"]["reason"] == "invalid_body"


@pytest.mark.parametrize("path", [
    "/api/v1/stores/99999999999999999999999", "/api/v1/stores/1/segments/a%00b",
    "/api/v1/stores/1/customers/" + "9" * 300, "/api/v1/stores/abc",
    "/api/v1/stores/1/destinations/99999999999999999999999/diff", "/api/v1/nowhere",
])
def test_impossible_paths_are_404_not_500(client, store_id, path):
    response = client.get(path, headers=AUTH)
    assert response.status_code == 404 and "reason" in response.json["error"]


def test_the_spec_is_served_without_a_token(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json
    assert spec["openapi"].startswith("3.1") and "/stores/{store_id}/segments/preview" in \
        spec["paths"]


def test_every_api_route_is_in_the_spec(app):
    from app.web.api.openapi import document

    documented = {(method.upper(), path) for path, ops in document()["paths"].items()
                  for method in ops}
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = rule.rule.removeprefix("/api/v1")
            for name in rule.arguments:
                path = path.replace(f"<int:{name}>", f"{{{name}}}").replace(f"<{name}>",
                                                                            f"{{{name}}}")
            served |= {(m, path) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented
