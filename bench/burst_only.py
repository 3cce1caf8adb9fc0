"""The pipeline's burst phase alone: ``python -m bench.burst_only [--customers N]`` (bench/.venv).

Loads a synthetic store (100k customers as in the full run unless ``--customers`` says),
rescores it, then runs ``bench.pipeline.burst`` with the full run's settings (20 stores, 30,000
deliveries within 60 s, one store receiving half) and prints its figures, the Celery queues'
lengths over time and the CPU seconds the worker, PostgreSQL and Redis used during it. Nothing
is written: for checking a change to the many-stores path in a few minutes.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging

import numpy as np
from sqlalchemy import text, update

from app.storage.models import Store
from bench import pipeline, rescore, stack, synthetic
from bench.run import FULL
from demo.standins.shopify import ShopifyStandIn
from tests.standins.server import serving


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=FULL["customers"])
    parser.add_argument("--deliveries", type=int, default=FULL["burst_deliveries"])
    parser.add_argument("--seconds", type=float, default=FULL["burst_seconds"])
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the stand-ins' request lines
    stack.fresh_database()
    app = stack.make_app()
    store_id = stack.add_store(app)
    synthetic.load(app.extensions["db"], store_id, synthetic.generate(args.customers))
    rescore.measure(store_id)
    db = app.extensions["db"]
    pipeline._confirm_current_tags(db, store_id)
    app.extensions["redis"].flushdb()
    with db.session() as session:
        registered = [int(p) for p in session.execute(text(
            "SELECT platform_id FROM customers WHERE store_id = :s AND platform_id IS NOT NULL"
        ), {"s": store_id}).scalars()]
    shop = ShopifyStandIn(customers={str(p): [] for p in registered})
    shop.clock = itertools.count(step=1000).__next__  # a full cost bucket for every request
    timed = pipeline.TimedShop(shop)
    with serving(timed) as shop_url:
        with db.session() as session:
            session.execute(update(Store).where(Store.id == store_id)
                            .values(api_base_url=shop_url))
        with stack.celery_worker() as worker:
            meter = stack.CpuMeter(worker.pid, pipeline._redis_pid(app))
            meter.start()
            result = pipeline.burst(app, store_id, FULL["burst_stores"], args.deliveries,
                                    args.seconds, timed, shop_url,
                                    np.array(registered))
            result["cpu_seconds"] = meter.stop()
    samples = result.pop("queue_samples")
    print(json.dumps(result, indent=1))
    for at, lengths in samples[::5]:
        print(at, lengths)


if __name__ == "__main__":
    main()
