"""Pipeline: orders/s from committed inbox row to profile + segments + queued tag diff, and the
latency from a webhook's delivery to the tag write arriving at the Shopify stand-in.

Needs the synthetic store loaded and rescored (profiles and memberships exist). Every customer's
current tags are first recorded as confirmed, so only real changes reach the stand-in, whose
cost bucket is kept full (pacing by a real shop's budget would measure Shopify, not Tagwise).

1. Throughput: with the Procfile's Celery worker idle, ``n`` orders/create deliveries (78%
   returning customers, 10% new, 12% anonymous guests) are committed as inbox rows in one
   transaction, then each is enqueued with the webhook's own call (``ingest_event.apply_async``)
   as fast as possible. Orders/s = processed / (seen all processed - first enqueue).
2. Latency: with the worker running, signed orders for new customers go through
   ``POST /webhooks/shopify`` under gunicorn at a fixed rate; per customer, the time from the
   request being sent to the first tag mutation naming them at the stand-in (p50/p99).
"""

from __future__ import annotations

import http.client
import io
import itertools
import json
import statistics
import threading
import time
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import func, select, text, update

from app.storage.models import INBOX_PENDING, Destination, InboxEvent, Profile, Store
from bench import stack
from bench.synthetic import REGISTERED_ID_BASE
from connectors.shopify.webhooks import sign
from tests.seeding import order_payload
from tests.standins.server import serving
from tests.standins.shopify import GID, ShopifyStandIn

NEW_CUSTOMER_BASE = REGISTERED_ID_BASE + 500_000_000
ORDER_BASE = 8_000_000_000
SENDERS = 8


class TimedShop:
    """The Shopify stand-in, noting when each customer first appears in a tag mutation."""

    def __init__(self, shop: ShopifyStandIn):
        self.shop = shop
        self.first_seen: dict[str, float] = {}
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        arrived = time.time()
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        try:
            variables = json.loads(body).get("variables") or {}
        except ValueError:
            variables = {}
        with self.lock:
            for name, value in variables.items():
                if name.startswith("id") and isinstance(value, str):
                    self.first_seen.setdefault(value.removeprefix(GID), arrived)
        environ["wsgi.input"] = io.BytesIO(body)
        return self.shop(environ, start_response)


def _confirm_current_tags(db, store_id: int) -> None:
    """Record every customer's wanted tags as confirmed; drop queued syncs and dirty sets."""
    with db.session() as session:
        destination_id = session.execute(select(Destination.id).filter_by(
            store_id=store_id)).scalar_one()
        session.execute(text("DELETE FROM sync_states WHERE destination_id = :d"),
                        {"d": destination_id})
        session.execute(text(
            "INSERT INTO sync_states (destination_id, customer_id, tags, confirmed_at) "
            "SELECT :d, p.customer_id, COALESCE((SELECT json_agg(s.tag_prefix || k) "
            "  FROM json_array_elements_text(p.segment_keys) AS k), '[]'::json), now() "
            "FROM profiles p JOIN customers c ON c.id = p.customer_id "
            "JOIN stores s ON s.id = p.store_id "
            "WHERE p.store_id = :s AND c.platform_id IS NOT NULL"),
            {"d": destination_id, "s": store_id})


def _payloads(store_id: int, customers: list[int | None], first_order: int) -> list[bytes]:
    now = datetime.now(UTC)
    bodies = []
    for i, customer in enumerate(customers):
        body = order_payload(first_order + i, customer_id=customer, created=now,
                             total=f"{40 + (i * 7919) % 260}.00",
                             email=f"p{customer}@example.com" if customer else None)
        bodies.append(json.dumps(body).encode())
    return bodies


def _status_counts(db, keys_like: str) -> dict[str, int]:
    with db.session() as session:
        return dict(session.execute(select(InboxEvent.status, func.count()).where(
            InboxEvent.dedupe_key.like(keys_like)).group_by(InboxEvent.status)).all())


def _wait_processed(db, keys_like: str, expected: int, timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        counts = _status_counts(db, keys_like)
        if counts.get(INBOX_PENDING, 0) == 0 and sum(counts.values()) >= expected:
            return counts
        if time.monotonic() > deadline:
            return counts
        time.sleep(0.1)


def throughput(app, store_id: int, n: int, timeout: float, registered: np.ndarray,
               env) -> dict:
    """Phase 1: ``n`` committed inbox rows, enqueued as the webhook does, drained by the worker
    (or what ``timeout`` seconds allow)."""
    from tasks.ingest import ingest_event

    rng = np.random.default_rng(5)
    kinds = rng.choice(3, n, p=[0.78, 0.10, 0.12])
    returning = iter(rng.choice(registered, n, replace=False))
    customers = [int(next(returning)) if k == 0 else
                 (NEW_CUSTOMER_BASE + i if k == 1 else None) for i, k in enumerate(kinds)]
    bodies = _payloads(store_id, customers, ORDER_BASE)
    db = app.extensions["db"]
    with stack.celery_worker(env):
        with db.session() as session:
            ids = list(session.execute(db.insert(InboxEvent).returning(InboxEvent.id), [
                {"store_id": store_id, "source": "shopify", "topic": "orders/create",
                 "dedupe_key": f"tp-{i}", "body": body} for i, body in enumerate(bodies)
            ]).scalars())
        began = datetime.now(UTC)
        with app.app_context():
            for inbox_id in ids:  # the webhook's enqueue (app/webhooks/inbox.py)
                ingest_event.apply_async(args=[inbox_id], retry=False)
        enqueue_seconds = (datetime.now(UTC) - began).total_seconds()
        counts = _wait_processed(db, "tp-%", n, timeout=timeout)
        # Seen done by polling (every 0.1 s): processed_at is when a batch began, not ended.
        last = datetime.now(UTC)
        done = n - counts.get(INBOX_PENDING, 0)
        with db.session() as session:
            refreshed = session.execute(select(func.count()).select_from(Profile).where(
                Profile.store_id == store_id, Profile.computed_at >= began)).scalar()
    seconds = (last - began).total_seconds()
    return {"orders": n, "processed": done, "seconds": round(seconds, 2),
            "orders_per_s": done / seconds, "statuses": counts,
            "profiles_refreshed": refreshed, "enqueue_seconds": round(enqueue_seconds, 2),
            "mix": {"returning": int((kinds == 0).sum()), "new": int((kinds == 1).sum()),
                    "anonymous_guest": int((kinds == 2).sum())}}


def _send_paced(url: str, bodies: list[bytes], rate: float, prefix: str) -> list[float]:
    """POST each body at ``rate``/s from a few sender threads; the send time of each."""
    host, port = url.removeprefix("http://").split(":")
    sent = [0.0] * len(bodies)
    counter = itertools.count()
    start = time.time() + 0.5
    signature = {}

    def sender() -> None:
        while (i := next(counter)) < len(bodies):
            time.sleep(max(0.0, start + i / rate - time.time()))
            body = bodies[i]
            if body not in signature:
                signature[body] = sign(stack.SHOPIFY_SECRET, body)
            connection = http.client.HTTPConnection(host, int(port), timeout=60)
            sent[i] = time.time()
            connection.request("POST", "/webhooks/shopify", body, {
                "Content-Type": "application/json", "X-Shopify-Topic": "orders/create",
                "X-Shopify-Hmac-Sha256": signature[body], "X-Shopify-Shop-Domain":
                stack.SHOP_DOMAIN, "X-Shopify-Webhook-Id": f"{prefix}-{i}"})
            if connection.getresponse().status != 200:
                raise RuntimeError(f"delivery {i} refused")
            connection.close()

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sent


def latency(app, store_id: int, seconds: float, rate: float, timed: TimedShop) -> dict:
    """Phase 2: webhook to tag write for new customers delivered at ``rate``/s for ``seconds``."""
    n = max(20, int(rate * seconds))
    customers = [NEW_CUSTOMER_BASE + 100_000_000 + i for i in range(n)]
    for customer in customers:
        timed.shop.customers[str(customer)] = []
    bodies = _payloads(store_id, customers, ORDER_BASE + 10_000_000)
    db = app.extensions["db"]
    with stack.gunicorn("app.wsgi:app") as url:
        # Warm both workers (lazy imports on a worker's first delivery) with guest orders.
        _send_paced(url, _payloads(store_id, [None] * 6, ORDER_BASE + 20_000_000), 2.0, "warm")
        began = time.time()
        sent = _send_paced(url, bodies, rate, "lat")
        send_seconds = time.time() - began
        counts = _wait_processed(db, "lat-%", n, timeout=300)
        deadline = time.monotonic() + 60
        with db.session() as session:
            tagged = set(session.execute(select(Profile.customer_id).where(
                Profile.store_id == store_id, Profile.computed_at >= datetime.fromtimestamp(
                    began, UTC), func.json_array_length(Profile.segment_keys) > 0)).scalars())
        expected = min(len(tagged), n)
        while len([c for c in customers if str(c) in timed.first_seen]) < expected:
            if time.monotonic() > deadline:
                break
            time.sleep(0.25)
    waits = [timed.first_seen[str(c)] - t for c, t in zip(customers, sent, strict=True)
             if str(c) in timed.first_seen]
    return {"orders": n, "offered_rate": rate, "achieved_send_rate": n / send_seconds,
            "statuses": counts, "tagged_customers": len(waits),
            "p50_s": statistics.median(waits) if waits else None,
            "p99_s": float(np.percentile(waits, 99)) if waits else None,
            "max_s": max(waits) if waits else None}


def measure(app, store_id: int, n_throughput: int, timeout: float, latency_seconds: float,
            max_rate: float) -> dict:
    """Both phases against the loaded, rescored store; the latency phase offers 70% of what
    the worker drained and of ``max_rate`` (the webhook's measured requests/s), at most 1,000/s.
    """
    db = app.extensions["db"]
    _confirm_current_tags(db, store_id)
    app.extensions["redis"].flushdb()
    with db.session() as session:
        registered = np.array([int(p) for p in session.execute(text(
            "SELECT platform_id FROM customers WHERE store_id = :s AND platform_id IS NOT NULL"
        ), {"s": store_id}).scalars()])
    shop = ShopifyStandIn(customers={str(p): [] for p in registered})
    shop.clock = itertools.count(step=1000).__next__  # a full cost bucket for every request
    timed = TimedShop(shop)
    env = stack.bench_env()
    with serving(timed) as shop_url:
        with db.session() as session:
            session.execute(update(Store).where(Store.id == store_id).values(
                api_base_url=shop_url))
        for p in range(n_throughput):
            shop.customers[str(NEW_CUSTOMER_BASE + p)] = []
        result = {"throughput": throughput(app, store_id, n_throughput, timeout, registered,
                                           env)}
        app.extensions["redis"].flushdb()  # what the worker had not reached by the timeout
        rate = min(1000.0, 0.7 * result["throughput"]["orders_per_s"], 0.7 * max_rate)
        with stack.celery_worker(env):
            result["latency"] = latency(app, store_id, latency_seconds, rate, timed)
        result["tag_requests"] = len(shop.mutation_requests())
    app.extensions["redis"].flushdb()
    return result
