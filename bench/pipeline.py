"""Pipeline: orders/s from committed inbox row to profile + segments + queued tag diff, and the
latency from a webhook's delivery to the tag write arriving at the Shopify stand-in.

Needs the synthetic store loaded and rescored (profiles and memberships exist). Every customer's
current tags are first recorded as confirmed, so only real changes reach the stand-in, whose
cost bucket is kept full (pacing by a real shop's budget would measure Shopify, not Tagwise).

1. Throughput: with the Procfile's Celery worker idle, ``n`` orders/create deliveries (78%
   returning customers, 10% new, 12% anonymous guests) are committed as inbox rows in one
   transaction, then each is signalled with the webhook's own call (``signal_store``: the first
   marks the store and queues its drain, the rest find it marked) as fast as possible.
   Orders/s = processed / (seen all processed - first signal).
   CPU milliseconds per processed order: the CPU time the worker's process tree, the
   PostgreSQL backends of the bench database and the Redis server used over the phase.
2. Latency: with the worker running, signed orders for new customers go through
   ``POST /webhooks/shopify`` under gunicorn at a fixed rate (the issue's 300/s for 60 s in the
   full run); per customer, the time from the request being sent to the first tag mutation
   naming them at the stand-in (p50/p99).
3. Burst: 20 stores, 30,000 signed deliveries within 60 s through gunicorn, one store
   receiving half (full run; QUICK scales it down): share answered 200, lost, time until all
   are processed after the burst, and the small stores' webhook → tag during it.
"""

from __future__ import annotations

import io
import itertools
import json
import statistics
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import func, select, text, update

from app.jobs import QUEUES
from app.storage.models import INBOX_PENDING, Destination, InboxEvent, Profile, Store
from bench import rescore, stack, synthetic
from bench.synthetic import REGISTERED_ID_BASE
from connectors.shopify.webhooks import sign
from demo.standins.shopify import GID, ShopifyStandIn
from tests.seeding import order_payload
from tests.standins.server import serving

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


def _redis_pid(app) -> int | None:
    """The Redis server's process id when it runs on this machine (its CPU is measured)."""
    pid = int(app.extensions["redis"].info("server")["process_id"])
    try:
        return pid if "redis" in Path(f"/proc/{pid}/comm").read_text() else None
    except OSError:
        return None


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
    from app.ingest.inbox import signal_store

    rng = np.random.default_rng(5)
    kinds = rng.choice(3, n, p=[0.78, 0.10, 0.12])
    returning = iter(rng.choice(registered, n, replace=False))
    customers = [int(next(returning)) if k == 0 else
                 (NEW_CUSTOMER_BASE + i if k == 1 else None) for i, k in enumerate(kinds)]
    bodies = _payloads(store_id, customers, ORDER_BASE)
    db = app.extensions["db"]
    with stack.celery_worker(env) as worker:
        meter = stack.CpuMeter(worker.pid, _redis_pid(app))
        with db.session() as session:
            ids = list(session.execute(db.insert(InboxEvent).returning(InboxEvent.id), [
                {"store_id": store_id, "source": "shopify", "topic": "orders/create",
                 "dedupe_key": f"tp-{i}", "body": body} for i, body in enumerate(bodies)
            ]).scalars())
        meter.start()
        began = datetime.now(UTC)
        with app.app_context():
            for _ in ids:  # the webhook's signal after each commit (app/web/webhooks/inbox.py)
                signal_store(app.extensions["redis"], store_id)
        enqueue_seconds = (datetime.now(UTC) - began).total_seconds()
        counts = _wait_processed(db, "tp-%", n, timeout=timeout)
        # Seen done by polling (every 0.1 s): processed_at is when a batch began, not ended.
        last = datetime.now(UTC)
        cpu = meter.stop()
        done = n - counts.get(INBOX_PENDING, 0)
        with db.session() as session:
            refreshed = session.execute(select(func.count()).select_from(Profile).where(
                Profile.store_id == store_id, Profile.computed_at >= began)).scalar()
    seconds = (last - began).total_seconds()
    return {"orders": n, "processed": done, "seconds": round(seconds, 2),
            "orders_per_s": done / seconds, "statuses": counts,
            "profiles_refreshed": refreshed, "enqueue_seconds": round(enqueue_seconds, 2),
            "cpu_seconds": cpu,
            "cpu_ms_per_order": {group: round(1000 * seconds / max(done, 1), 3)
                                 for group, seconds in {**cpu, "total": sum(cpu.values())}
                                 .items()},
            "mix": {"returning": int((kinds == 0).sum()), "new": int((kinds == 1).sum()),
                    "anonymous_guest": int((kinds == 2).sum())}}


def _send_paced(url: str, bodies: list[bytes], rate: float, prefix: str,
                domains: list[str] | None = None, senders: int = SENDERS
                ) -> tuple[list[float], list[int]]:
    """POST each body (to its shop in ``domains``, else the bench shop) at ``rate``/s from
    ``senders`` threads; the send time and answer status of each (0: no answer)."""
    sent, statuses = [0.0] * len(bodies), [0] * len(bodies)
    counter = itertools.count()
    start = time.time() + 0.5

    def sender() -> None:
        while (i := next(counter)) < len(bodies):
            time.sleep(max(0.0, start + i / rate - time.time()))
            body = bodies[i]
            sent[i] = time.time()
            try:
                statuses[i] = stack.post_webhook(
                    url, body, f"{prefix}-{i}", sign(stack.SHOPIFY_SECRET, body),
                    domains[i] if domains else stack.SHOP_DOMAIN)
            except OSError:
                statuses[i] = 0

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sent, statuses


def _wait_tagged(timed: TimedShop, customers: list[int], expected: int, seconds: float) -> None:
    """Until ``expected`` of the customers reached the shop in a tag mutation, or time is up."""
    deadline = time.monotonic() + seconds
    while len([c for c in customers if str(c) in timed.first_seen]) < expected:
        if time.monotonic() > deadline:
            return
        time.sleep(0.25)


def _tagged_since(db, store_ids: list[int], since: float) -> set[int]:
    """Platform ids of the stores' customers refreshed since ``since`` with segments."""
    from app.storage.models import Customer

    with db.session() as session:
        return {int(p) for p in session.execute(
            select(Customer.platform_id).join(Profile, Profile.customer_id == Customer.id)
            .where(Profile.store_id.in_(store_ids),
                   Customer.platform_id.is_not(None),
                   Profile.computed_at >= datetime.fromtimestamp(since, UTC),
                   func.json_array_length(Profile.segment_keys) > 0)).scalars()}


def _waits(timed: TimedShop, customers: list[int], sent: list[float]) -> list[float]:
    return [timed.first_seen[str(c)] - t for c, t in zip(customers, sent, strict=True)
            if str(c) in timed.first_seen]


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
        sent, statuses = _send_paced(url, bodies, rate, "lat")
        send_seconds = time.time() - began
        counts = _wait_processed(db, "lat-%", n, timeout=300)
        tagged = _tagged_since(db, [store_id], began) & set(customers)
        _wait_tagged(timed, customers, len(tagged), 60)
    waits = _waits(timed, customers, sent)
    processed = _quantiles(_processed_waits(db, "lat", sent, list(range(n))))
    return {"orders": n, "offered_rate": rate, "achieved_send_rate": n / send_seconds,
            "answered_200": statuses.count(200), "statuses": counts,
            "tagged_customers": len(waits),
            "p50_s": statistics.median(waits) if waits else None,
            "p99_s": float(np.percentile(waits, 99)) if waits else None,
            "max_s": max(waits) if waits else None,
            # webhook -> the start of the batch that processed it: the rest is the sync's
            "processed_p50_s": processed["p50_s"], "processed_p99_s": processed["p99_s"]}


BURST_SENDERS = 16
BURST_CUSTOMER_BASE = NEW_CUSTOMER_BASE + 200_000_000
BURST_ORDER_BASE = ORDER_BASE + 30_000_000


class QueueSampler:
    """Samples the Celery queues' lengths in Redis every ``every`` seconds in a thread, and
    how many messages workers hold unacknowledged (running, prefetched or waiting for their
    countdown: kombu's ``unacked`` hash)."""

    def __init__(self, client, every: float = 1.0):
        self.client, self.every = client, every
        self.samples: list[tuple[float, dict[str, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        began = time.time()
        while not self._stop.wait(self.every):
            pipe = self.client.pipeline()
            for queue in QUEUES:
                for key in (queue, *(f"{queue}\x06\x16{step}" for step in (3, 6, 9))):
                    pipe.llen(key)  # kombu's Redis transport: one list per priority step
            pipe.hlen("unacked")
            lengths = pipe.execute()
            sample = {queue: sum(lengths[4 * i:4 * i + 4]) for i, queue in enumerate(QUEUES)}
            self.samples.append((round(time.time() - began, 1),
                                 sample | {"unacked": lengths[-1]}))

    def __enter__(self) -> QueueSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def peaks(self) -> dict[str, int]:
        return {queue: max((s[queue] for _, s in self.samples), default=0)
                for queue in (*QUEUES, "unacked")}


def _processed_waits(db, prefix: str, sent: list[float], indices: list[int]) -> list[float]:
    """Seconds from send to the start of the batch that processed each delivery
    ``prefix-<index>`` (the inbox row's ``processed_at``) for ``indices``."""
    with db.session() as session:
        processed = dict(session.execute(select(InboxEvent.dedupe_key, InboxEvent.processed_at)
                                         .where(InboxEvent.dedupe_key.like(f"{prefix}-%"),
                                                InboxEvent.processed_at.is_not(None))).all())
    return [processed[key].timestamp() - sent[i] for i in indices
            if (key := f"{prefix}-{i}") in processed]


def _quantiles(values: list[float]) -> dict[str, float | None]:
    return {"p50_s": statistics.median(values) if values else None,
            "p99_s": float(np.percentile(values, 99)) if values else None}


def burst(app, store_id: int, stores: int, deliveries: int, seconds: float,
          timed: TimedShop, shop_url: str, registered: np.ndarray) -> dict:
    """Phase 3: ``deliveries`` signed orders through gunicorn within ``seconds``, half of them
    to the loaded store (returning customers, new ones and guests, as in phase 1), the other
    half spread over ``stores - 1`` small stores (new customers); the worker running.

    Reports the share answered 200, deliveries answered 200 but missing from the inbox
    (lost), how long after the last send every row was processed, and webhook → tag for the
    small stores' customers sent during the burst, split into webhook → processed (the batch
    that took the row began) and the rest (debounce and sync); the Celery queues' lengths are
    sampled throughout.
    """
    db = app.extensions["db"]
    small = [stack.add_store(app, shop_url, f"bench-burst-{i}.myshopify.com")
             for i in range(stores - 1)]
    with db.session() as session:
        # Brand-new stores whose every order is a new customer: the sync's safety brake
        # (a run changing over 30% of the audience waits for a person) would hold them. The
        # row measures stores that are past their first days, so the brake is off here.
        session.execute(update(Destination).where(Destination.store_id.in_(small))
                        .values(config={"brake_share": 1}))
    domains = {store_id: stack.SHOP_DOMAIN} | {
        sid: f"bench-burst-{i}.myshopify.com" for i, sid in enumerate(small)}
    rng = np.random.default_rng(7)
    big = deliveries // 2
    kinds = rng.choice(3, big, p=[0.78, 0.10, 0.12])
    targets = [store_id] * big + [small[i % len(small)] for i in range(deliveries - big)]
    customers: list[int | None] = [
        (int(rng.choice(registered)) if k == 0 else (BURST_CUSTOMER_BASE + i if k == 1 else None))
        for i, k in enumerate(kinds)] + [BURST_CUSTOMER_BASE + i for i in range(big, deliveries)]
    order = rng.permutation(deliveries)  # the stores' deliveries interleave
    targets = [targets[i] for i in order]
    customers = [customers[i] for i in order]
    bodies = [_payloads(sid, [c], BURST_ORDER_BASE + i)[0]
              for i, (sid, c) in enumerate(zip(targets, customers, strict=True))]
    watched = [c for c, sid in zip(customers, targets, strict=True) if sid != store_id]
    for customer in customers:
        if customer is not None:
            timed.shop.customers.setdefault(str(customer), [])
    with stack.gunicorn("app.wsgi:app") as url, QueueSampler(app.extensions["redis"]) as queues:
        _send_paced(url, _payloads(store_id, [None] * 6, BURST_ORDER_BASE - 10), 2.0,
                    "burst-warm")
        began = time.time()
        sent, statuses = _send_paced(url, bodies, deliveries / seconds, "burst",
                                     [domains[sid] for sid in targets], BURST_SENDERS)
        ended = time.time()
        accepted = statuses.count(200)
        counts = _wait_processed(db, "burst-%", accepted, timeout=600)
        drained = time.time() - ended
        with db.session() as session:
            rows = session.execute(select(func.count()).where(
                InboxEvent.dedupe_key.like("burst-%"),
                InboxEvent.dedupe_key.not_like("burst-warm-%"))).scalar()
        tagged = _tagged_since(db, small, began) & set(watched)
        _wait_tagged(timed, watched, len(tagged), 60)
    watched_sent = [t for t, sid in zip(sent, targets, strict=True) if sid != store_id]
    waits = _waits(timed, watched, watched_sent)
    small_indices = [i for i, sid in enumerate(targets) if sid != store_id]
    big_indices = [i for i, sid in enumerate(targets) if sid == store_id]
    return {"stores": stores, "deliveries": deliveries, "offered_seconds": seconds,
            "send_seconds": round(ended - began, 2), "answered_200": accepted,
            "answered_200_share": accepted / deliveries, "inbox_rows": rows,
            "lost": accepted - rows if rows < accepted else 0,
            "statuses": counts, "all_processed_after_s": round(drained, 2),
            "small_store_orders": len(watched), "small_store_tagged": len(waits),
            "small_p50_s": statistics.median(waits) if waits else None,
            "small_p99_s": float(np.percentile(waits, 99)) if waits else None,
            "small_processed": _quantiles(_processed_waits(db, "burst", sent, small_indices)),
            "big_processed": _quantiles(_processed_waits(db, "burst", sent, big_indices)),
            "queue_peaks": queues.peaks(), "queue_samples": queues.samples}


def loaded_store(customers: int):
    """A fresh bench database with one synthetic store of ``customers``, rescored once (as a
    store is before its live traffic); the app and the store's id."""
    stack.fresh_database()
    app = stack.make_app()
    store_id = stack.add_store(app)
    synthetic.load(app.extensions["db"], store_id, synthetic.generate(customers))
    rescore.measure(store_id)
    return app, store_id


@contextmanager
def shop_for(app, store_id: int):
    """The loaded store's current tags confirmed, Redis emptied and the Shopify stand-in serving
    its registered customers (a full cost bucket for every request), the store pointed at it:
    yields the stand-in, its timing wrapper, its URL and the registered customers' ids."""
    db = app.extensions["db"]
    _confirm_current_tags(db, store_id)
    app.extensions["redis"].flushdb()
    with db.session() as session:
        registered = np.array([int(p) for p in session.execute(text(
            "SELECT platform_id FROM customers WHERE store_id = :s AND platform_id IS NOT NULL"
        ), {"s": store_id}).scalars()])
    shop = ShopifyStandIn(customers={str(p): [] for p in registered})
    shop.clock = itertools.count(step=1000).__next__
    timed = TimedShop(shop)
    with serving(timed) as shop_url:
        with db.session() as session:
            session.execute(update(Store).where(Store.id == store_id).values(
                api_base_url=shop_url))
        yield shop, timed, shop_url, registered


def measure(app, store_id: int, n_throughput: int, timeout: float, latency_seconds: float,
            latency_rate: float, burst_stores: int, burst_deliveries: int,
            burst_seconds: float) -> dict:
    """The three phases against the loaded, rescored store."""
    env = stack.bench_env()
    with shop_for(app, store_id) as (shop, timed, shop_url, registered):
        for p in range(n_throughput):
            shop.customers[str(NEW_CUSTOMER_BASE + p)] = []
        result = {"throughput": throughput(app, store_id, n_throughput, timeout, registered,
                                           env)}
        app.extensions["redis"].flushdb()  # what the worker had not reached by the timeout
        with stack.celery_worker(env):
            result["latency"] = latency(app, store_id, latency_seconds, latency_rate, timed)
        with stack.celery_worker(env):
            result["burst"] = burst(app, store_id, burst_stores, burst_deliveries,
                                    burst_seconds, timed, shop_url, registered)
        result["tag_requests"] = len(shop.mutation_requests())
    app.extensions["redis"].flushdb()
    return result
