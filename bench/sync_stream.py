"""Requests per 1,000 changes that arrive as a stream, per destination, old vs adaptive debounce.

Changes arrive evenly over a minute (QUICK: 250 over 15 s). One worker per destination runs
the sync the way tasks/sync.py does, on the real Redis dirty sets (app/storage/redis_state)
and the real writers against the stand-ins, on wall time:

- ``fixed``: the previous behaviour: SYNC_DEBOUNCE_SECONDS after the first change, drain the
  dirty set, including what arrives while the run is in flight.
- ``adaptive``: tasks/sync.py now: app/sync/debounce.hold_seconds decides whether to let the
  set grow (below the destination's ``bulk_from`` and growing, or its rate budget low,
  bounded by SYNC_MAX_DELAY_SECONDS), and such a run takes only what was pending when it
  began; the store's own tags (``bulk_from`` 0) go as before.
- ``one batch``: the same changes in a single write, the floor.

The scheduling loop stands in for Celery's countdowns (a run comes due when its countdown
ends and never overlaps another run of the destination, as the lock ensures); everything it
calls is the production code. Latency is from a change's arrival to the end of the write
that carried it.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import os
import statistics
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import redis

from app.config import DEFAULTS
from app.storage import redis_state
from app.storage.rate_governor import RedisRateGovernor
from app.sync.debounce import Pending, hold_seconds
from connectors.base import RetryPolicy, TagChange
from connectors.klaviyo import KlaviyoClient, KlaviyoWriter
from connectors.mailchimp import MailchimpClient, MailchimpWriter
from connectors.registry import destination_kind
from connectors.shopify.client import ShopifyClient
from connectors.shopify.writer import ShopifyTagWriter
from demo.standins.shopify import ShopifyStandIn
from tests.standins.klaviyo import KlaviyoStandin
from tests.standins.mailchimp import MailchimpStandin
from tests.standins.server import serving

DEBOUNCE_SECONDS = DEFAULTS["SYNC_DEBOUNCE_SECONDS"]
MAX_DELAY_SECONDS = DEFAULTS["SYNC_MAX_DELAY_SECONDS"]
BATCH_SIZE = DEFAULTS["SYNC_BATCH_SIZE"]
MAILCHIMP_KEY = "0123456789abcdef-us6"
DESTINATIONS = ("shopify_tags", "klaviyo", "mailchimp")
_ids = itertools.count(1)


def _take_all(client_redis, destination_id: int, send) -> None:
    """One run as tasks/sync.py does it: what waited when it began, in batches."""
    redis_state.start_taking_dirty(client_redis, destination_id)
    while ids := redis_state.take_dirty(client_redis, destination_id, BATCH_SIZE):
        send(ids)


def _unique_id() -> int:
    """An id no other stream of this run uses, in this process or another (dirty sets, scopes)."""
    return os.getpid() * 1000 + next(_ids)


def _change(i: int) -> TagChange:
    return TagChange(customer_id=i, platform_customer_id=str(i + 1), email=f"s{i}@example.com",
                     tags=frozenset({"tw:champions"}), add=frozenset({"tw:champions"}),
                     remove=frozenset(), properties={"rfm_group": "champions"})


class _Target:
    """A stand-in served on loopback, a writer for it and its request count."""

    def __init__(self, kind: str, n: int, client_redis: redis.Redis):
        self.kind = kind
        self.bucket = destination_kind(kind).rate_bucket
        self.governor = None
        if kind == "shopify_tags":
            self.standin = ShopifyStandIn(customers={str(i + 1): [] for i in range(n)})
            self.standin.clock = itertools.count(step=1000).__next__  # no cost pacing
            self.count = lambda: len(self.standin.requests)
        elif kind == "klaviyo":
            self.standin = KlaviyoStandin("pk_bench", clock=time.time)
            self.count = self.standin.total_requests
        else:
            self.standin = MailchimpStandin(MAILCHIMP_KEY, list_id="list1")
            self.count = self.standin.total_requests
        self._serving = serving(self.standin)
        url = self._serving.__enter__()
        scope = f"bench-stream-{_unique_id()}"
        if kind == "shopify_tags":
            self.writer = ShopifyTagWriter(ShopifyClient(url, self.standin.access_token,
                                                         "2026-07",
                                                         policy=RetryPolicy(sleep=lambda s: None)))
        elif kind == "klaviyo":
            self.governor = RedisRateGovernor(client_redis, scope)
            self.writer = KlaviyoWriter(KlaviyoClient("pk_bench", base_url=url,
                                                      governor=self.governor))
        else:
            self.governor = RedisRateGovernor(client_redis, scope)
            self.writer = MailchimpWriter(MailchimpClient(MAILCHIMP_KEY, base_url=f"{url}/3.0",
                                                          governor=self.governor), "list1")

    def budget_low(self) -> bool:
        return bool(self.governor and self.bucket and self.governor.budget_low(self.bucket))

    def close(self) -> None:
        self._serving.__exit__(None, None, None)


def one_batch(kind: str, n: int, client_redis: redis.Redis) -> int:
    """Requests for the n changes in a single write."""
    target = _Target(kind, n, client_redis)
    try:
        target.writer.write([_change(i) for i in range(n)])
        return target.count()
    finally:
        target.close()


def stream(kind: str, policy: str, n: int, seconds: float, client_redis: redis.Redis) -> dict:
    """n changes arrive evenly over ``seconds``; one worker syncs them under ``policy``."""
    target = _Target(kind, n, client_redis)
    destination_id = _unique_id()
    bulk_from = destination_kind(kind).bulk_from
    arrived: dict[int, float] = {}
    latencies: list[float] = []
    due: list[float] = []
    lock = threading.Lock()
    runs = 0
    for key in (redis_state.dirty_key(destination_id), redis_state.taking_key(destination_id),
                redis_state.scheduled_key(destination_id),
                redis_state.dirty_since_key(destination_id),
                redis_state.dirty_seen_key(destination_id)):
        client_redis.delete(key)

    def arrive() -> None:
        start = time.monotonic()
        for i in range(n):
            time.sleep(max(0.0, start + i * seconds / n - time.monotonic()))
            with lock:
                arrived[i] = time.monotonic()
                if redis_state.mark_dirty(client_redis, destination_id, [i], DEBOUNCE_SECONDS):
                    heapq.heappush(due, time.monotonic() + DEBOUNCE_SECONDS)

    def send(ids: list[int]) -> None:
        target.writer.write([_change(i) for i in ids])
        done = time.monotonic()
        latencies.extend(done - arrived[i] for i in ids)

    arrivals = threading.Thread(target=arrive)
    arrivals.start()
    try:
        while arrivals.is_alive() or due or client_redis.scard(
                redis_state.dirty_key(destination_id)):
            with lock:
                next_run = due[0] if due else None
            if next_run is None:
                if not arrivals.is_alive():  # a straggler marked after the last run
                    with lock:
                        heapq.heappush(due, time.monotonic())
                time.sleep(0.01)
                continue
            time.sleep(max(0.0, next_run - time.monotonic()))
            with lock:
                heapq.heappop(due)
                client_redis.delete(redis_state.scheduled_key(destination_id))
            if policy == "fixed":
                runs += 1
                _take_all(client_redis, destination_id, send)
                continue
            count = client_redis.scard(redis_state.dirty_key(destination_id))
            previous = redis_state.note_dirty_count(client_redis, destination_id, count)
            pending = Pending(count, redis_state.dirty_age_seconds(client_redis, destination_id),
                              budget_low=target.budget_low(),
                              growing=previous is None or count > previous)
            wait = hold_seconds(pending, bulk_from=bulk_from, debounce_seconds=DEBOUNCE_SECONDS,
                                max_delay_seconds=MAX_DELAY_SECONDS)
            if wait > 0:
                with lock:
                    redis_state.mark_scheduled(client_redis, destination_id, wait)
                    heapq.heappush(due, time.monotonic() + wait)
                continue
            runs += 1
            _take_all(client_redis, destination_id, send)
    finally:
        arrivals.join()
        target.close()
    ordered = sorted(latencies)
    return {"destination": kind, "policy": policy, "changes": n, "seconds": seconds,
            "delivered": len(latencies), "runs": runs, "requests": target.count(),
            "requests_per_1000": round(target.count() * 1000 / n, 1),
            "latency_p50_s": round(statistics.median(ordered), 2),
            "latency_p99_s": round(ordered[min(len(ordered) - 1,
                                               math.ceil(0.99 * len(ordered)) - 1)], 2),
            "latency_max_s": round(ordered[-1], 2)}


def _stream_in_process(kind: str, policy: str, n: int, seconds: float) -> dict:
    # One process per destination: a stand-in busy validating GraphQL must not starve another
    # destination's arrival thread of the GIL (that would look like arrivals stopping).
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    return stream(kind, policy, n, seconds, redis.Redis.from_url(os.environ["REDIS_URL"]))


def measure(n: int, seconds: float) -> list[dict]:
    """Every destination under each policy (the destinations side by side in their own
    processes, one policy after the other), plus the one-batch floor."""
    client_redis = redis.Redis.from_url(os.environ["REDIS_URL"])
    rows: list[dict] = []
    for policy in ("fixed", "adaptive"):
        with ProcessPoolExecutor(len(DESTINATIONS)) as pool:
            rows += pool.map(_stream_in_process, DESTINATIONS, [policy] * len(DESTINATIONS),
                             [n] * len(DESTINATIONS), [seconds] * len(DESTINATIONS))
    for kind in DESTINATIONS:
        requests = one_batch(kind, n, client_redis)
        rows.append({"destination": kind, "policy": "one batch", "changes": n, "seconds": 0,
                     "delivered": n, "runs": 1, "requests": requests,
                     "requests_per_1000": round(requests * 1000 / n, 1)})
    order = {"fixed": 0, "adaptive": 1, "one batch": 2}
    return sorted(rows, key=lambda r: (DESTINATIONS.index(r["destination"]),
                                       order[r["policy"]]))


def table(rows: list[dict]) -> str:
    """The rows as a markdown table."""
    lines = ["| destination | debounce | changes over s | runs | requests | per 1,000 "
             "| latency p50 / p99 / max s |", "|---|---|---:|---:|---:|---:|---|"]
    for r in rows:
        latency = (f"{r['latency_p50_s']} / {r['latency_p99_s']} / {r['latency_max_s']}"
                   if "latency_p50_s" in r else "—")
        lines.append(f"| {r['destination']} | {r['policy']} | {r['changes']} over "
                     f"{r['seconds']:g} | {r['runs']} | {r['requests']} "
                     f"| {r['requests_per_1000']} | {latency} |")
    return "\n".join(lines)
