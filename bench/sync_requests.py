"""Outbound requests to each destination: in one batch, under a stream, and 429s drawn.

Each destination writes to its local stand-in server (tests/standins/) over loopback.

- batch: N changed customers in one write; the baseline is the naive one request per
  customer per tag changed.
- throttle: 429 answers per 10,000 changes, without and with the Redis rate governor, when
  several worker processes write small batches at once (bench/sync_throttle.py).
- stream: requests per 1,000 changes arriving evenly over a minute, with the old debounce
  (send whatever is pending every 2 s) and the adaptive one (bench/sync_stream.py).

Run: ``PYTHONPATH=. REDIS_URL=redis://127.0.0.1:6379/N .venv/bin/python bench/sync_requests.py
[--customers N] [--quick]``; writes bench/results_sync.json and prints markdown tables.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import time
from pathlib import Path

from bench import sync_stream, sync_throttle
from connectors.base import RetryPolicy, TagChange
from connectors.klaviyo import KlaviyoClient, KlaviyoWriter
from connectors.mailchimp import MailchimpClient, MailchimpWriter
from connectors.shopify.client import ShopifyClient
from connectors.shopify.writer import CUSTOMERS_PER_DOCUMENT, ShopifyTagWriter
from connectors.woocommerce.client import WooCommerceClient
from connectors.woocommerce.writer import WooCommerceMetaWriter
from demo.standins.shopify import ShopifyStandIn
from tests.standins.klaviyo import KlaviyoStandin
from tests.standins.mailchimp import MailchimpStandin
from tests.standins.server import serving
from tests.standins.woocommerce import WooCommerceStandIn

OUT = Path(__file__).parent / "results_sync.json"
NO_SLEEP = RetryPolicy(sleep=lambda s: None)


def changes(n: int) -> list[TagChange]:
    """N customers who each gained two segments and lost one."""
    return [TagChange(customer_id=i, platform_customer_id=str(i + 1), email=f"c{i}@example.com",
                      tags=frozenset({"tw:champions", "tw:lifecycle-active"}),
                      add=frozenset({"tw:champions", "tw:lifecycle-active"}),
                      remove=frozenset({"tw:loyal"}),
                      properties={"r_score": 5, "f_score": 4, "m_score": 5,
                                  "rfm_group": "champions"}) for i in range(n)]


def measure(name: str, writer_factory, count_requests, batch: list[TagChange],
            minimum: int) -> dict:
    started = time.perf_counter()
    outcomes = writer_factory().write(batch)
    seconds = time.perf_counter() - started
    requests = count_requests()
    naive = sum(len(c.add) + len(c.remove) for c in batch)
    return {"destination": name, "customers": len(batch), "requests": requests,
            "bulk_minimum": minimum, "within_10pct_of_minimum": requests <= minimum * 1.1,
            "naive_requests": naive, "seconds": round(seconds, 2),
            "ok": sum(o.status == "ok" for o in outcomes)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--quick", action="store_true", help="shorter throttle and stream runs")
    args = parser.parse_args()
    n = args.customers
    batch = changes(n)
    rows = []
    shop = ShopifyStandIn(customers={str(i + 1): ["tw:loyal"] for i in range(n)})
    # Measure request shape, not the cost bucket's pacing: each request sees a full bucket
    # (a real shop restores 100 points/s, so 10k customers also take ~40 min of cost budget).
    shop.clock = itertools.count(step=1000).__next__
    with serving(shop) as url:
        rows.append(measure(
            "shopify_tags",
            lambda: ShopifyTagWriter(ShopifyClient(url, shop.access_token, "2026-07",
                                                   policy=NO_SLEEP)),
            lambda: len(shop.requests), batch, math.ceil(n / CUSTOMERS_PER_DOCUMENT)))
    site = WooCommerceStandIn()
    for i in range(n):
        site.add_customer({"id": i + 1, "email": f"c{i}@example.com"})
    with serving(site.wsgi_app) as url:
        rows.append(measure(
            "woocommerce_meta",
            lambda: WooCommerceMetaWriter(WooCommerceClient(url, site.consumer_key,
                                                            site.consumer_secret,
                                                            policy=NO_SLEEP), prefix="tw:"),
            lambda: len(site.requests), batch, math.ceil(n / 100)))
    klaviyo = KlaviyoStandin("pk_bench")
    with serving(klaviyo) as url:
        rows.append(measure(
            "klaviyo",
            lambda: KlaviyoWriter(KlaviyoClient("pk_bench", base_url=url, policy=NO_SLEEP),
                                  prefix="tw:", sleep=klaviyo.advance),
            klaviyo.total_requests, batch, math.ceil(n / 10_000) * 2))  # job + one poll
    mailchimp = MailchimpStandin("0123456789abcdef-us6", list_id="list1")
    with serving(mailchimp) as url:
        # members must exist (one batch-subscribe per 500) + one segment edit per gained tag
        # per 500; the lost tag never existed in this fresh audience, so removing it is free
        tags_touched = 2
        rows.append(measure(
            "mailchimp",
            lambda: MailchimpWriter(MailchimpClient("0123456789abcdef-us6",
                                                    base_url=f"{url}/3.0", policy=NO_SLEEP),
                                    "list1", prefix="tw:"),
            mailchimp.total_requests, batch,
            math.ceil(n / 500) + tags_touched * math.ceil(n / 500)))
    throttle = sync_throttle.measure(2_000 if args.quick else 10_000)
    stream = sync_stream.measure(*((250, 15.0) if args.quick else (1_000, 60.0)))
    args.out.write_text(json.dumps({"batch": rows, "throttle": throttle, "stream": stream},
                                   indent=2) + "\n")
    print(sync_throttle.table(throttle))
    print(sync_stream.table(stream))
    print("| destination | customers | requests | bulk minimum | within 10% | naive | s | ok |")
    print("|---|---:|---:|---:|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['destination']} | {r['customers']} | {r['requests']} | {r['bulk_minimum']} "
              f"| {'yes' if r['within_10pct_of_minimum'] else 'no'} | {r['naive_requests']} "
              f"| {r['seconds']} | {r['ok']} |")


if __name__ == "__main__":
    main()
