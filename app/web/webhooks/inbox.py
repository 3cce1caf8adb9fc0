"""Record a delivery in the inbox and signal its store, in that order (the views commit the row,
then call ``enqueue``), and count every answer by platform, topic and outcome."""

from __future__ import annotations

import json
import logging

from flask import Response, current_app, g, jsonify, request
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

from app.ingest.inbox import queue_drain
from app.storage import redis_state
from app.storage.metrics import count_in
from app.web.errors import ApiError
from app.web.webhooks import bp
from connectors.shopify import consts as shopify_consts
from connectors.woocommerce import consts as woocommerce_consts

log = logging.getLogger(__name__)
KNOWN_TOPICS = {"shopify": shopify_consts.SUPPORTED_TOPICS,
                "woocommerce": frozenset(woocommerce_consts.TOPICS_USED)}
TOPIC_HEADERS = {"shopify": shopify_consts.HEADER_TOPIC,
                 "woocommerce": woocommerce_consts.HEADER_TOPIC}


def enqueue(store_id: int, inserted: int | None):
    """After the inbox row is committed: answer, and have ``signal_and_count`` mark its store
    pending (a duplicate is not signalled). A drain is queued only when the store's mark is
    new (``tasks/ingest``)."""
    if inserted is None:
        return _answer({"status": "duplicate"})
    g.inbox_signal = (store_id, inserted)
    return _answer({"status": "accepted", "id": inserted})


@bp.after_request
def signal_and_count(response: Response) -> Response:
    """Count the answer by platform, topic and outcome and, after a committed insert, mark its
    store pending: one Redis round trip. Neither may fail the answer: a store left unmarked is
    re-signalled by the sweeper, a lost count is only a count."""
    platform = (request.endpoint or "").removeprefix("webhooks.receive_")
    topic = (request.headers.get(TOPIC_HEADERS.get(platform, "")) or "").strip()
    if topic not in KNOWN_TOPICS.get(platform, ()):
        topic = "other"  # a label must not take whatever a caller sends
    outcome = g.pop("webhook_outcome", "accepted")  # popped: g may outlive the request (tests)
    if response.status_code >= 400:
        outcome = "rejected"
    signal = g.pop("inbox_signal", None)
    redis = current_app.extensions["redis"]
    try:
        pipe = redis.pipeline(transaction=False)
        count_in(pipe, "tagwise_webhooks", (platform, topic, outcome))
        if signal is not None:
            redis_state.mark_pending_in(pipe, signal[0])
        results = pipe.execute()
        if signal is not None and results[-1]:  # the mark is new: no drain is on its way
            queue_drain(redis, signal[0])
    except (BrokerError, RedisError, OSError) as exc:
        if signal is not None:
            # The row is committed: the sweeper signals its store once the broker is back.
            log.warning("inbox %s committed but not signalled: %s", signal[1],
                        type(exc).__name__)
        else:
            log.warning("metric tagwise_webhooks not counted: %s", type(exc).__name__)
    return response


def parse_json_object(raw: bytes) -> dict:
    """The body as a JSON object, or a 400 saying why not."""
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "malformed_json", "body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise ApiError(400, "malformed_json", "body must be a JSON object")
    return payload


def acknowledge(reason: str):
    """A 200 that says the delivery was understood and deliberately not processed."""
    return _answer({"status": "ignored", "reason": reason})


def _answer(body: dict):
    """A 200 with ``body``, its status noted for ``signal_and_count`` (no re-parse of it)."""
    g.webhook_outcome = body["status"]
    return jsonify(body), 200
