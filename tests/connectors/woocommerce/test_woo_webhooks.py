"""Signature, creation ping, dedupe key and draft detection on real WooCommerce payloads."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from connectors.base import PayloadError
from connectors.woocommerce import consts
from connectors.woocommerce.webhooks import dedupe_key, is_draft, is_ping, verify_signature

from .payloads import (
    CUSTOMER_CREATED,
    HEADERS_EXAMPLE,
    ORDER_CREATED,
    PING_REQUEST,
    fixture_bytes,
    header_lines,
    request_body,
)

WEBHOOK_SECRET = b"wc-webhook-secret-9f2c"


def woo_signature(secret: bytes, body: bytes) -> str:
    """Sign the way WC_Webhook::generate_signature() does, written out independently."""
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()


# --------------------------------------------------------------------------- signature


@pytest.mark.parametrize("name", [ORDER_CREATED, CUSTOMER_CREATED])
def test_signature_over_exact_fixture_bytes_verifies(name: str) -> None:
    body = fixture_bytes(name)
    assert verify_signature(WEBHOOK_SECRET, body, woo_signature(WEBHOOK_SECRET, body))


def test_one_changed_byte_fails_verification() -> None:
    body = fixture_bytes(ORDER_CREATED)
    signature = woo_signature(WEBHOOK_SECRET, body)
    tampered = body.replace(b'"total": "29.35"', b'"total": "29.36"')
    assert tampered != body
    assert not verify_signature(WEBHOOK_SECRET, tampered, signature)


def test_reserialised_json_does_not_verify() -> None:
    # The view must hand over the raw bytes: parsing and dumping again changes them.
    body = fixture_bytes(ORDER_CREATED)
    signature = woo_signature(WEBHOOK_SECRET, body)
    reserialised = json.dumps(json.loads(body)).encode()
    assert not verify_signature(WEBHOOK_SECRET, reserialised, signature)


def test_rest_consumer_secret_is_not_the_webhook_secret() -> None:
    body = fixture_bytes(ORDER_CREATED)
    signature = woo_signature(b"cs_consumer_secret", body)
    assert not verify_signature(WEBHOOK_SECRET, body, signature)


@pytest.mark.parametrize(
    "header", [None, "", "not base64 at all", "Sf5zeV4kFD9ZXrDWyN2dDkYece57SARBhCa4e056y1U=", "é"]
)
def test_missing_or_wrong_signature_header_fails(header: str | None) -> None:
    assert not verify_signature(WEBHOOK_SECRET, fixture_bytes(ORDER_CREATED), header)


def test_empty_secret_never_verifies() -> None:
    body = fixture_bytes(ORDER_CREATED)
    assert not verify_signature(b"", body, woo_signature(b"", body))


def test_header_constants_match_a_real_delivery() -> None:
    real = header_lines(HEADERS_EXAMPLE)
    for name in (
        consts.HEADER_SIGNATURE,
        consts.HEADER_TOPIC,
        consts.HEADER_SOURCE,
        consts.HEADER_RESOURCE,
        consts.HEADER_EVENT,
        consts.HEADER_WEBHOOK_ID,
        consts.HEADER_DELIVERY_ID,
    ):
        assert name in real
    assert real[consts.HEADER_TOPIC] in consts.TOPICS_USED


# --------------------------------------------------------------------------- ping


def test_creation_ping_fixture_is_detected_with_its_webhook_id() -> None:
    body = request_body(PING_REQUEST)
    assert body == b"webhook_id=27"
    assert is_ping(None, body) == 27
    assert is_ping("application/x-www-form-urlencoded", body) == 27


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", fixture_bytes(ORDER_CREATED)),
        (None, fixture_bytes(ORDER_CREATED)),
        ("application/json", b"webhook_id=27"),
        (None, b"webhook_id="),
        (None, b"webhook_id=27&topic=order.created"),
        (None, b"webhook_id=abc"),
        (None, b""),
    ],
)
def test_other_bodies_are_not_pings(content_type: str | None, body: bytes) -> None:
    assert is_ping(content_type, body) is None


# --------------------------------------------------------------------------- dedupe


def test_dedupe_key_is_resource_id_modified_time_and_topic(order_payload) -> None:
    key = dedupe_key("order.updated", order_payload)
    assert key == "order.updated:727:2017-03-22T19:28:08"


def test_repeated_update_with_same_state_gets_the_same_key(order_payload) -> None:
    # order.updated fires several times per change; each send has a new Delivery-ID.
    again = json.loads(json.dumps(order_payload))
    again["_links"] = {}
    assert dedupe_key("order.updated", order_payload) == dedupe_key("order.updated", again)


def test_a_later_modification_gets_a_new_key(order_payload) -> None:
    later = dict(order_payload, date_modified_gmt="2017-03-22T19:30:00")
    assert dedupe_key("order.updated", later) != dedupe_key("order.updated", order_payload)


def test_created_and_updated_with_the_same_state_are_distinct(order_payload) -> None:
    assert dedupe_key("order.created", order_payload) != dedupe_key("order.updated", order_payload)


def test_deleted_body_with_only_an_id_has_a_stable_key() -> None:
    first = dedupe_key("order.deleted", {"id": 727})
    assert first == dedupe_key("order.deleted", {"id": 727})
    assert first != dedupe_key("customer.deleted", {"id": 727})
    assert first != dedupe_key("order.deleted", {"id": 728})


def test_deleted_body_carrying_the_full_order_keys_on_its_modification(order_payload) -> None:
    # Trashing an order can send the whole order: then a later re-deletion is distinct.
    key = dedupe_key("order.deleted", order_payload)
    assert key == "order.deleted:727:2017-03-22T19:28:08"


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("order.deleted", {}),
        ("order.deleted", {"id": "727"}),
        ("order.updated", {"id": 727}),
        ("order.updated", {"id": 727, "date_modified_gmt": None}),
        ("customer.updated", {"id": True, "date_modified_gmt": "2017-03-22T19:28:08"}),
        ("order.updated", ["not", "an", "object"]),
    ],
)
def test_dedupe_key_rejects_malformed_payloads(topic: str, payload) -> None:
    with pytest.raises(PayloadError):
        dedupe_key(topic, payload)


# --------------------------------------------------------------------------- drafts


@pytest.mark.parametrize(
    ("status", "draft"),
    [("checkout-draft", True), ("draft", True), ("processing", False), ("pending", False)],
)
def test_block_checkout_drafts_are_recognised(order_payload, status: str, draft: bool) -> None:
    assert is_draft(dict(order_payload, status=status)) is draft
