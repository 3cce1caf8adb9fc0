"""429 answers per 10,000 changes per destination, without and with the Redis rate governor.

Several worker processes (here: writers that share nothing but Redis) send small batches at
once, the case where vendor limits bite:

- Klaviyo: three workers take turns sending batches of 40 (below the bulk threshold, so one
  profile-import each) against the stand-in's documented limits (75/s burst, 750/min steady
  per endpoint). Time is the stand-in's virtual clock, advanced by every wait (retry sleeps,
  governor waits), so an hour of Klaviyo budget runs in seconds of wall time.
- Mailchimp: sixteen worker threads, each with its own client (its own pool of 10), send
  batches of 40 at once to a stand-in that answers in 20 ms and refuses an 11th simultaneous
  connection with 429. Wall time.

Every change must arrive exactly once either way: the row says how many were delivered.
"""

from __future__ import annotations

import os
import threading
import time

import redis

from app.storage.rate_governor import RedisRateGovernor
from connectors.base import RetryPolicy, TagChange
from connectors.klaviyo import KlaviyoClient, KlaviyoWriter
from connectors.mailchimp import MailchimpClient, MailchimpWriter
from tests.standins.klaviyo import KlaviyoStandin
from tests.standins.mailchimp import MailchimpStandin
from tests.standins.server import serving

BATCH = 40
KLAVIYO_WORKERS = 3
MAILCHIMP_WORKERS = 16
MAILCHIMP_LATENCY_SECONDS = 0.02
MAILCHIMP_KEY = "0123456789abcdef-us6"


def _changes(start: int, count: int) -> list[TagChange]:
    return [TagChange(customer_id=i, platform_customer_id=str(i), email=f"s{i}@example.com",
                      tags=frozenset({"tw:champions"}), add=frozenset({"tw:champions"}),
                      remove=frozenset(), properties={"rfm_group": "champions"})
            for i in range(start, start + count)]


def _redis() -> redis.Redis:
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    for key in client.scan_iter("tw:rate:bench-*"):
        client.delete(key)
    return client


def klaviyo(n: int, governed: bool) -> dict:
    """Three workers stream n single profile imports; count the 429s the stand-in sent."""
    standin = KlaviyoStandin("pk_bench")
    client_redis = _redis()
    delivered = 0
    with serving(standin) as url:
        writers = []
        for _ in range(KLAVIYO_WORKERS):
            governor = RedisRateGovernor(client_redis, "bench-klaviyo", clock=lambda: standin.now,
                                         sleep=standin.advance) if governed else None
            client = KlaviyoClient("pk_bench", base_url=url, governor=governor,
                                   policy=RetryPolicy(sleep=standin.advance))
            writers.append(KlaviyoWriter(client, sleep=standin.advance,
                                         clock=lambda: standin.now))
        started = time.perf_counter()
        for index, start in enumerate(range(0, n, BATCH)):
            outcomes = writers[index % KLAVIYO_WORKERS].write(_changes(start, min(BATCH,
                                                                                  n - start)))
            delivered += sum(o.status == "ok" for o in outcomes)
    return {"destination": "klaviyo", "governed": governed, "changes": n,
            "workers": KLAVIYO_WORKERS, "throttled": standin.throttled,
            "throttled_per_10k": round(standin.throttled * 10_000 / n, 1),
            "requests": standin.total_requests(), "delivered": delivered,
            "written_once": all(v == 1 for v in standin.profile_writes.values()),
            "virtual_seconds": round(standin.now, 1),
            "wall_seconds": round(time.perf_counter() - started, 1)}


def mailchimp(n: int, governed: bool) -> dict:
    """Sixteen workers send n changes in batches of 40 at once; count the 429s."""
    standin = MailchimpStandin(MAILCHIMP_KEY, list_id="list1",
                               latency_seconds=MAILCHIMP_LATENCY_SECONDS)
    # The tag exists already (workers racing to create it would measure something else).
    standin.add_member("seed@example.com", tags={"champions"})
    client_redis = _redis()
    batches = [_changes(start, min(BATCH, n - start)) for start in range(0, n, BATCH)]
    lock = threading.Lock()
    delivered = [0]

    def work(url: str) -> None:
        governor = RedisRateGovernor(client_redis, "bench-mailchimp") if governed else None
        client = MailchimpClient(MAILCHIMP_KEY, base_url=f"{url}/3.0", governor=governor,
                                 policy=RetryPolicy(max_attempts=8, base_seconds=0.05))
        writer = MailchimpWriter(client, "list1")
        while True:
            with lock:
                if not batches:
                    return
                batch = batches.pop()
            ok = sum(o.status == "ok" for o in writer.write(batch))
            with lock:
                delivered[0] += ok

    with serving(standin) as url:
        started = time.perf_counter()
        threads = [threading.Thread(target=work, args=(url,)) for _ in range(MAILCHIMP_WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return {"destination": "mailchimp", "governed": governed, "changes": n,
            "workers": MAILCHIMP_WORKERS, "throttled": standin.throttled,
            "throttled_per_10k": round(standin.throttled * 10_000 / n, 1),
            "requests": standin.total_requests() + standin.throttled,
            "delivered": delivered[0],
            "written_once": len(standin.tagged("champions")) == delivered[0] + 1,
            "max_connections": standin.max_in_flight,
            "wall_seconds": round(time.perf_counter() - started, 1)}


def measure(n: int) -> list[dict]:
    """Both destinations, ungoverned then governed, back to back."""
    return [run(n, governed) for run in (klaviyo, mailchimp) for governed in (False, True)]


def table(rows: list[dict]) -> str:
    """The rows as a markdown table."""
    lines = ["| destination | governor | changes | workers | 429s | 429s per 10k | requests "
             "| delivered | s |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['destination']} | {'yes' if r['governed'] else 'no'} "
                     f"| {r['changes']} | {r['workers']} | {r['throttled']} "
                     f"| {r['throttled_per_10k']} | {r['requests']} | {r['delivered']} "
                     f"| {r['wall_seconds']} |")
    return "\n".join(lines)
