"""Rescore at scale: one big store (first, nightly, no-change runs) and a nightly fan-out.

``python -m bench.rescore_scale [--customers 100000] [--stores 50 --store-customers 2000]``
empties the bench database, loads a synthetic store (bench/synthetic.py) and measures, each
round in a fresh process (bench/rescore.py):

- the first rescore (no profiles yet), a nightly one (as of now: recency moved, a few
  profiles change) and a no-change one (the same as-of as the nightly: nothing may be
  written but the store-level reports);
- then ``--stores`` stores of ``--store-customers`` customers: ``tasks.rescore.rescore_all``
  fans out one task per store to the Procfile's Celery worker (one worker, default
  concurrency: 2 processes on this machine), twice (first rescore, then nightly); wall time
  until every store is rescored, and the per-store times from the worker's log.

Writes bench/results_rescore.json (or the path of ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from datetime import UTC, datetime

import pandas as pd

from bench import rescore, stack, synthetic

ID_COLUMNS = {"customers": ["id"], "orders": ["id", "customer_id"],
              "line_items": ["id", "order_id"], "refunds": ["id"]}


def shifted(tables: dict[str, pd.DataFrame], offset: int) -> dict[str, pd.DataFrame]:
    """The synthetic tables with every row id moved by ``offset`` (several stores, one db)."""
    out = {}
    for name, frame in tables.items():
        frame = frame.copy()
        for column in ID_COLUMNS[name]:
            frame[column] = frame[column] + offset
        out[name] = frame
    return out


def big_store(customers: int, no_change: bool = True) -> dict:
    """Load one store (drawn and copied in slices, bench/synthetic.py); its first, nightly
    and (unless ``no_change`` is false) no-change rescores."""
    stack.fresh_database()
    app = stack.make_app()
    store_id = stack.add_store(app)
    loaded = synthetic.load_chunks(app.extensions["db"], store_id,
                                   synthetic.generate_chunks(customers))
    first = rescore.measure(store_id)
    as_of = datetime.now(UTC).isoformat()
    nightly = rescore.measure(store_id, as_of)
    unchanged = {"no_change": rescore.measure(store_id, as_of)} if no_change else {}
    return {**loaded, "chunk_customers": synthetic.CHUNK_CUSTOMERS, "first": first,
            "nightly": nightly, **unchanged, "load_average": [round(x, 2) for x in os.getloadavg()]}


def fan_out(stores: int, customers: int) -> dict:
    """Load ``stores`` stores; time two nightly fan-outs through the Celery worker."""
    stack.fresh_database()
    app = stack.make_app()
    db = app.extensions["db"]
    ids = []
    stride = 40 * customers * 2  # more ids than the largest store's line items
    for n in range(stores):
        store_id = _add_store(app, n)
        # Stores of somewhat different sizes, so "biggest first" has something to order.
        size = int(customers * (0.5 + n / max(1, stores - 1)))
        synthetic.load(db, store_id, shifted(synthetic.generate(size, seed=100 + n),
                                             offset=n * stride))
        ids.append(store_id)
    rounds = []
    with stack.celery_worker():
        for label in ("first", "nightly"):
            rounds.append({"round": label, **_one_fan_out(app, ids)})
    return {"stores": stores, "customers_per_store_mean": customers, "rounds": rounds}


def _add_store(app, n: int) -> int:
    from app.storage.models import Store

    with app.extensions["db"].session() as session:
        store = Store(platform="shopify", domain=f"fanout-{n}.myshopify.com")
        session.add(store)
        session.flush()
        return store.id


def _one_fan_out(app, store_ids: list[int]) -> dict:
    from sqlalchemy import func, select

    from app.storage.models import Store
    from tasks.rescore import rescore_all

    log = stack.LOGS / "celery.log"
    log_start = log.stat().st_size
    started = datetime.now(UTC)
    began = time.perf_counter()
    with app.app_context():
        rescore_all.apply()
    db = app.extensions["db"]
    while True:
        with db.session() as session:
            done = session.execute(select(func.count()).select_from(Store).where(
                Store.rescored_at >= started)).scalar()
        if done == len(store_ids) or time.perf_counter() - began > 1800:
            break
        time.sleep(0.5)
    wall = time.perf_counter() - began
    seconds = _task_seconds(log, log_start)
    while len(seconds) < done and time.perf_counter() - began < wall + 30:
        time.sleep(0.5)  # the worker logs a task's time just after its commit
        seconds = _task_seconds(log, log_start)
    return {"stores_rescored": done, "wall_seconds": round(wall, 1),
            "task_seconds_sum": round(sum(seconds), 1),
            "task_seconds_max": round(max(seconds, default=0.0), 1),
            "tasks_logged": len(seconds),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def _task_seconds(log, start: int) -> list[float]:
    """Seconds of each rescore task the worker logged after byte ``start`` of its log."""
    with open(log, "rb") as stream:
        stream.seek(start)
        text = stream.read().decode(errors="replace")
    return [float(s) for s in re.findall(
        r"tasks\.rescore\.rescore\[[^\]]+\] succeeded in ([0-9.]+)s", text)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--stores", type=int, default=50)
    parser.add_argument("--store-customers", type=int, default=2_000)
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--out", default=str(stack.ROOT / "bench" / "results_rescore.json"))
    args = parser.parse_args()
    results: dict = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                     "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    if not args.skip_big:
        results["big_store"] = big_store(args.customers)
        print(json.dumps(results["big_store"]), flush=True)
    if args.stores:
        results["fan_out"] = fan_out(args.stores, args.store_customers)
        print(json.dumps(results["fan_out"]), flush=True)
    with open(args.out, "w") as out:
        out.write(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
