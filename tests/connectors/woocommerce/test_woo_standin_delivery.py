"""The stand-in's webhook sender signs and pings exactly as our receiving helpers expect."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from connectors.woocommerce import consts
from connectors.woocommerce.normalise import normalise_record
from connectors.woocommerce.webhooks import dedupe_key, is_ping, verify_signature
from tests.standins.server import serving
from tests.standins.woocommerce import MAX_DELIVERY_FAILURES, deliver_ping, deliver_webhook

from .payloads import ORDER_CREATED, fixture_bytes

SECRET = b"per-webhook-secret"


class Receiver:
    """A minimal receiving endpoint that follows the rules the Flask view will follow."""

    def __init__(self, secret: bytes, answer_status: int = 200):
        self.secret = secret
        self.answer_status = answer_status
        self.seen: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        raw = request.get_data()
        webhook_id = is_ping(request.content_type, raw)
        if webhook_id is not None and consts.HEADER_SIGNATURE not in request.headers:
            self.seen.append({"ping": webhook_id})
            return Response("", 200)(environ, start_response)
        if not verify_signature(self.secret, raw, request.headers.get(consts.HEADER_SIGNATURE)):
            return Response("bad signature", 401)(environ, start_response)
        topic = request.headers[consts.HEADER_TOPIC]
        payload = json.loads(raw)
        self.seen.append(
            {
                "topic": topic,
                "resource": request.headers[consts.HEADER_RESOURCE],
                "event": request.headers[consts.HEADER_EVENT],
                "webhook_id": request.headers[consts.HEADER_WEBHOOK_ID],
                "delivery_id": request.headers[consts.HEADER_DELIVERY_ID],
                "key": dedupe_key(topic, payload),
                "record": normalise_record(topic, payload),
            }
        )
        return Response("", self.answer_status)(environ, start_response)


@pytest.fixture(scope="module")
def _served_receiver() -> Iterator[tuple[Receiver, str]]:
    # One server per module: stopping a werkzeug server waits out its poll interval.
    receiver = Receiver(SECRET)
    with serving(receiver) as url:
        yield receiver, url + "/webhooks/woocommerce/7"


@pytest.fixture
def receiver(_served_receiver: tuple[Receiver, str]) -> Receiver:
    receiver, _ = _served_receiver
    receiver.seen.clear()
    receiver.answer_status = 200
    return receiver


@pytest.fixture
def receiver_url(_served_receiver: tuple[Receiver, str]) -> str:
    return _served_receiver[1]


def test_signed_fixture_bytes_are_accepted_and_normalised(receiver, receiver_url) -> None:
    body = fixture_bytes(ORDER_CREATED)
    response = deliver_webhook(receiver_url, "order.created", body, SECRET, webhook_id=27)

    assert response.status_code == 200
    (seen,) = receiver.seen
    assert (seen["topic"], seen["resource"], seen["event"], seen["webhook_id"]) == (
        "order.created",
        "order",
        "created",
        "27",
    )
    assert seen["record"].platform_id == "727"


def test_wrong_secret_is_refused(receiver, receiver_url) -> None:
    response = deliver_webhook(
        receiver_url, "order.created", fixture_bytes(ORDER_CREATED), b"other"
    )
    assert response.status_code == 401
    assert receiver.seen == []


def test_redelivery_has_a_new_delivery_id_but_the_same_dedupe_key(receiver, receiver_url) -> None:
    body = fixture_bytes(ORDER_CREATED)
    deliver_webhook(receiver_url, "order.updated", body, SECRET)
    deliver_webhook(receiver_url, "order.updated", body, SECRET)

    first, second = receiver.seen
    assert first["delivery_id"] != second["delivery_id"]
    assert first["key"] == second["key"]


def test_creation_ping_is_unsigned_and_recognised(receiver, receiver_url) -> None:
    response = deliver_ping(receiver_url, 27)
    assert response.status_code == 200
    assert receiver.seen == [{"ping": 27}]


def test_fire_reaches_active_webhooks_and_disables_after_repeated_failures(
    site, client, receiver, receiver_url
) -> None:
    hook = client.create_webhook("order.updated", receiver_url, SECRET.decode())
    client.create_webhook("customer.updated", receiver_url, SECRET.decode())
    order = json.loads(fixture_bytes(ORDER_CREATED))

    assert [r.status_code for r in site.fire("order.updated", order)] == [200]
    assert [s["topic"] for s in receiver.seen] == ["order.updated"]

    receiver.answer_status = 500
    for _ in range(MAX_DELIVERY_FAILURES + 1):
        site.fire("order.updated", order)
    assert site.webhooks[hook["id"]]["status"] == "disabled"
    assert site.fire("order.updated", order) == []  # disabled webhooks send nothing


def test_creating_an_active_webhook_pings_its_delivery_url(site, client, receiver, receiver_url):
    site.ping_on_create = True
    hook = client.create_webhook("order.created", receiver_url, SECRET.decode())
    assert receiver.seen == [{"ping": hook["id"]}]
    assert site.webhooks[hook["id"]]["ping_status"] == 200
