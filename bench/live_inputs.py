"""Live path CPU: worker CPU milliseconds per processed order and the share of a drain spent
reading the touched customers' inputs, in one process under cProfile.

A synthetic store (``--customers``) is loaded and rescored, then ``--orders`` orders/create
deliveries (the pipeline bench's mix: 78% returning customers, 10% new, 12% anonymous guests)
are committed as inbox rows and drained with ``drain_batch`` in batches of the configured
``INGEST_BATCH_SIZE``, the first half unprofiled (CPU), the second under cProfile (shares).
Worker CPU is this process's user + system time (``resource.getrusage``); the PostgreSQL
backends of the bench database and the Redis server are measured apart, from /proc (whole
servers: on a shared machine other clients' work counts too). Run from the tree to measure
(``PYTHONPATH=.``) with ``BENCH_DATABASE_URL`` / ``BENCH_REDIS_URL`` pointing at a database
and Redis db of its own; ``LIVE_INPUTS_STATS=REGEX`` prints the matching profile rows.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import resource

import numpy as np
from sqlalchemy import select

from bench import pipeline, stack, synthetic
from tests.seeding import order_payload

READS = ("load_inputs", "facts_inputs")  # the live path's input read, before and after


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    """Load, rescore, drain; print the figures as JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--orders", type=int, default=3_000)
    args = parser.parse_args()
    stack.fresh_database()
    app = stack.make_app()
    with app.app_context():
        print(json.dumps(measure(app, args.customers, args.orders)))


def measure(app, n_customers: int, n_orders: int) -> dict:
    """Load and rescore the store, commit the deliveries, drain them (see the module note)."""
    from app.ingest.categories import cache_key
    from app.ingest.events import EMPTY, drain_batch
    from app.scoring.recompute import rescore_store
    from app.storage.db import utcnow
    from app.storage.models import Customer, InboxEvent, Store

    db = app.extensions["db"]
    store_id = stack.add_store(app)
    synthetic.load(db, store_id, synthetic.generate(n_customers))
    with db.session() as session:
        rescore_store(db, session, session.get(Store, store_id), utcnow())
        registered = np.array([int(p) for p in session.execute(select(Customer.platform_id).where(
            Customer.store_id == store_id, Customer.platform_id.is_not(None))).scalars()])
    # The payload's products are known to have no category: no lookup (the store has no API).
    products = {str(line["product_id"]): "" for line in order_payload(1)["line_items"]}
    app.extensions["redis"].hset(cache_key(store_id), mapping=products)
    rng = np.random.default_rng(5)
    kinds = rng.choice(3, n_orders, p=[0.78, 0.10, 0.12])
    returning = iter(rng.choice(registered, n_orders, replace=False))
    customers = [int(next(returning)) if k == 0 else
                 (pipeline.NEW_CUSTOMER_BASE + i if k == 1 else None)
                 for i, k in enumerate(kinds)]
    bodies = pipeline._payloads(store_id, customers, pipeline.ORDER_BASE)
    with db.session() as session:
        session.execute(db.insert(InboxEvent), [
            {"store_id": store_id, "source": "shopify", "topic": "orders/create",
             "dedupe_key": f"li-{i}", "body": body} for i, body in enumerate(bodies)])
    batch = app.config["INGEST_BATCH_SIZE"]
    meter = stack.CpuMeter(os.getpid(), pipeline._redis_pid(app))
    meter.start()
    began, unprofiled = _cpu_seconds(), 0
    while unprofiled < n_orders // 2:
        unprofiled += len(drain_batch(db, store_id, batch).statuses)
    cpu = _cpu_seconds() - began
    servers = meter.stop()
    profiler = cProfile.Profile()
    profiler.enable()
    while drain_batch(db, store_id, batch).status != EMPTY:
        pass
    profiler.disable()
    stats = pstats.Stats(profiler)
    cumulative = {key[2]: row[3] for key, row in stats.stats.items()}
    profiled = n_orders - unprofiled
    if os.environ.get("LIVE_INPUTS_STATS"):
        stats.sort_stats("cumulative").print_stats(os.environ["LIVE_INPUTS_STATS"], 40)
    read = sum(cumulative.get(name, 0.0) for name in READS)
    return {
        "customers": n_customers, "orders": n_orders, "batch": batch,
        "unprofiled_orders": unprofiled,
        "cpu_ms_per_order": round(1000 * cpu / max(unprofiled, 1), 3),
        "server_cpu_ms_per_order": {group: round(1000 * servers[group] / max(unprofiled, 1), 3)
                                    for group in ("postgresql", "redis")},
        "input_read_share_of_drain": round(read / cumulative["drain_batch"], 3),
        "profiled_ms_per_order": {name: round(1000 * cumulative.get(name, 0.0) / profiled, 3)
                                  for name in ("drain_batch", "apply_records",
                                               "refresh_customers", *READS, "predict",
                                               "write_profiles")},
        "loadavg": os.getloadavg(),
    }


if __name__ == "__main__":
    main()
