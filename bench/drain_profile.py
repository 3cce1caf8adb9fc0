"""CPU per order of the live drain, in-process: ``python -m bench.drain_profile setup N`` seeds
a store of N synthetic customers and rescores it; ``python -m bench.drain_profile run DRAINS
[profile.out]`` then commits INGEST_BATCH_SIZE order deliveries per drain (the throughput
phase's mix: 78% returning customers, 10% new, 12% anonymous guests), applies them with the
worker's own calls (``drain_batch``, then ``apply_processed``) and prints the CPU milliseconds
per order of this process and of the database's PostgreSQL backends. With a file name the
drains run under cProfile (process CPU time, not wall time) and the profile is saved there.

For iterating on the drain's cost on a shared machine, where wall-clock figures are noise.
"""

from __future__ import annotations

import cProfile
import gc
import json
import resource
import sys
import time

import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from app.storage.models import InboxEvent, Store
from bench import pipeline, stack


def _process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _database_cpu() -> float:
    database = make_url(stack.bench_env()["DATABASE_URL"]).database
    return sum(stack.cpu_seconds(stack.database_backends(database)).values())


def setup(customers: int) -> None:
    app, store_id = pipeline.loaded_store(customers)
    print(json.dumps({"store_id": store_id}))
    pipeline._confirm_current_tags(app.extensions["db"], store_id)


def _commit_deliveries(app, store_id: int, n: int, round_: int, registered: np.ndarray
                        ) -> None:
    """``n`` committed orders/create inbox rows, the throughput phase's mix of customers."""
    db = app.extensions["db"]
    rng = np.random.default_rng(round_)
    kinds = rng.choice(3, n, p=[0.78, 0.10, 0.12])
    returning = iter(rng.choice(registered, n, replace=False))
    first = pipeline.ORDER_BASE + round_ * n
    customers = [int(next(returning)) if k == 0 else
                 (pipeline.NEW_CUSTOMER_BASE + first + i if k == 1 else None)
                 for i, k in enumerate(kinds)]
    bodies = pipeline._payloads(store_id, customers, first)
    with db.session() as session:
        session.execute(db.insert(InboxEvent), [
            {"store_id": store_id, "source": "shopify", "topic": "orders/create",
             "dedupe_key": f"dp-{first + i}", "body": body} for i, body in enumerate(bodies)])


def run(drains: int, profile_path: str | None) -> None:
    from app.ingest.categories import cache_key
    from app.ingest.events import drain_batch
    from tasks.ingest import apply_processed

    app = stack.make_app()
    db = app.extensions["db"]
    with db.session() as session:
        store_id = session.execute(select(Store.id)).scalars().first()
        registered = np.array([int(p) for p in session.execute(text(
            "SELECT platform_id FROM customers WHERE store_id = :s AND platform_id IS NOT NULL"
        ), {"s": store_id}).scalars()])
        start_round = session.execute(select(func.count()).select_from(InboxEvent)).scalar()
    start_round //= app.config["INGEST_BATCH_SIZE"]
    batch = app.config["INGEST_BATCH_SIZE"]
    # The steady state of a live store: its products' categories already cached (the stand-in
    # would answer them in the full run; here nothing listens at the shop's address).
    products = {str(line["product_id"]): "Tops" for line in
                pipeline.order_payload(1)["line_items"] if line.get("product_id")}
    app.extensions["redis"].hset(cache_key(store_id), mapping=products)
    gc.freeze()  # as the worker does once loaded (tasks.worker)
    profiler = cProfile.Profile(time.process_time) if profile_path else None
    worker = database = 0.0
    processed = 0
    with app.app_context():
        for round_ in range(start_round, start_round + drains):
            _commit_deliveries(app, store_id, batch, round_, registered)
            before = (_process_cpu(), _database_cpu())
            if profiler:
                profiler.enable()
            result = drain_batch(db, store_id, batch)
            apply_processed(result)
            if profiler:
                profiler.disable()
            worker += _process_cpu() - before[0]
            database += _database_cpu() - before[1]
            processed += len(result.statuses)
    if profiler:
        profiler.dump_stats(profile_path)
    print(json.dumps({"orders": processed,
                      "worker_ms_per_order": round(1000 * worker / processed, 3),
                      "postgresql_ms_per_order": round(1000 * database / processed, 3),
                      "total_ms_per_order": round(1000 * (worker + database) / processed, 3)}))


if __name__ == "__main__":
    if sys.argv[1] == "setup":
        setup(int(sys.argv[2]))
    else:
        run(int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
