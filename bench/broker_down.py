"""Webhook answer with the broker and Redis down: the Procfile's gunicorn with ``REDIS_URL`` and
``TAGWISE_BROKER_URL`` pointing at a closed port, signed deliveries sent one after another;
the answer time of each, and whether every row was committed (the sweeper signals them once
the broker is back)."""

from __future__ import annotations

import statistics
import time
import uuid

from sqlalchemy import func, select

from app.storage.models import INBOX_PENDING, InboxEvent
from bench import stack
from bench.ingest import FIXTURE  # the captured orders/create body
from connectors.shopify.webhooks import sign

CLOSED_PORT_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def measure(app, deliveries: int) -> dict:
    """Answer times (ms) of ``deliveries`` signed webhooks with the broker and Redis down."""
    body = FIXTURE.read_bytes()
    signature = sign(stack.SHOPIFY_SECRET, body)
    run_id = uuid.uuid4().hex[:12]
    env = dict(stack.bench_env(), REDIS_URL=CLOSED_PORT_URL, TAGWISE_BROKER_URL=CLOSED_PORT_URL)
    answers, statuses = [], set()
    with stack.gunicorn("app.wsgi:app", env=env) as url:
        for i in range(deliveries + 2):  # the first two warm both workers up
            began = time.perf_counter()
            status = stack.post_webhook(url, body, f"{run_id}-{i}", signature)
            if i >= 2:
                answers.append((time.perf_counter() - began) * 1000)
                statuses.add(status)
    with app.extensions["db"].session() as session:
        committed = session.execute(select(func.count()).select_from(InboxEvent).where(
            InboxEvent.dedupe_key.like(f"{run_id}-%"),
            InboxEvent.status == INBOX_PENDING)).scalar()
    return {"sent": deliveries + 2, "rows_committed": committed, "statuses": sorted(statuses),
            "p50_ms": statistics.median(answers),
            "max_ms": max(answers)}
