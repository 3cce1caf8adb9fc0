"""Record a delivery in the inbox and enqueue it, in that order (the views commit the row in
the same transaction that looked up the store, then call ``enqueue``)."""

from __future__ import annotations

import json
import logging

from flask import jsonify
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

from app import jobs
from app.web.errors import ApiError

log = logging.getLogger(__name__)


def enqueue(inserted: int | None):
    """After the inbox row is committed: enqueue its id and answer (a duplicate is not)."""
    if inserted is None:
        return jsonify({"status": "duplicate"}), 200
    try:
        jobs.enqueue("tasks.ingest.ingest_event", inserted, retry=False)
    except (BrokerError, RedisError, OSError) as exc:
        # The row is committed: the sweeper enqueues it once the broker is back.
        log.warning("inbox %s committed but not enqueued: %s", inserted, type(exc).__name__)
    return jsonify({"status": "accepted", "id": inserted}), 200


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
    return jsonify({"status": "ignored", "reason": reason}), 200
