"""The full run's pipeline phases alone: ``python -m bench.pipeline_only`` (bench/.venv).

Loads the full run's 100k-customer store, rescores it once, then measures throughput,
webhook-to-tag latency (300/s for 60 s) and the 20-store burst exactly as ``bench.run`` does,
and prints the figures (nothing is written): about 7 minutes, for checking a change to the
live path without the whole 25-minute run.
"""

from __future__ import annotations

import json
import logging

from bench import pipeline
from bench.run import FULL


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the stand-ins' request lines
    config = FULL
    app, store_id = pipeline.loaded_store(config["customers"])
    result = pipeline.measure(
        app, store_id, config["pipeline_orders"], config["pipeline_timeout"],
        config["latency_seconds"], config["latency_rate"], config["burst_stores"],
        config["burst_deliveries"], config["burst_seconds"])
    print(json.dumps({phase: {k: v for k, v in result[phase].items()
                              if not isinstance(v, list | dict)}
                      for phase in ("throughput", "latency", "burst")}, indent=1))


if __name__ == "__main__":
    main()
