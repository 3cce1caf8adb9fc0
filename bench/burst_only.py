"""The pipeline's burst phase alone: ``python -m bench.burst_only [--customers N]`` (bench/.venv).

Loads a synthetic store (100k customers as in the full run unless ``--customers`` says),
rescores it, then runs ``bench.pipeline.burst`` with the full run's settings (20 stores, 30,000
deliveries within 60 s, one store receiving half) and prints its figures, the Celery queues'
lengths over time and the CPU seconds the worker, PostgreSQL and Redis used during it. Nothing
is written: for checking a change to the many-stores path in a few minutes.
"""

from __future__ import annotations

import argparse
import json
import logging

from bench import pipeline, stack
from bench.run import FULL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=FULL["customers"])
    parser.add_argument("--deliveries", type=int, default=FULL["burst_deliveries"])
    parser.add_argument("--seconds", type=float, default=FULL["burst_seconds"])
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the stand-ins' request lines
    app, store_id = pipeline.loaded_store(args.customers)
    with pipeline.shop_for(app, store_id) as (_, timed, shop_url, registered):
        with stack.celery_worker() as worker:
            meter = stack.CpuMeter(worker.pid, pipeline._redis_pid(app))
            meter.start()
            result = pipeline.burst(app, store_id, FULL["burst_stores"], args.deliveries,
                                    args.seconds, timed, shop_url, registered)
            result["cpu_seconds"] = meter.stop()
    samples = result.pop("queue_samples")
    print(json.dumps(result, indent=1))
    for at, lengths in samples[::5]:
        print(at, lengths)


if __name__ == "__main__":
    main()
