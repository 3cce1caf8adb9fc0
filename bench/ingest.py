"""Ingest: signed ``POST /webhooks/shopify`` under gunicorn against a bare Flask route.

Both apps run under the Procfile's gunicorn settings at once on loopback; ``wrk`` (a separate
process, bench/webhook.lua) drives each in turn, rounds interleaved so machine noise hits all
three rows alike: the bare route, the webhook with distinct ids, the webhook with 30% repeated
ids. The body is the captured orders/create payload, signed with the store's secret. After each
webhook round the inbox must hold exactly one new row per distinct id sent.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import uuid

from sqlalchemy import func, select

from app.storage.models import InboxEvent
from bench import stack
from connectors.shopify.webhooks import sign

FIXTURE = (stack.ROOT / "tests" / "connectors" / "shopify" / "fixtures"
           / "orders_create__sample.json")
SCRIPT = stack.ROOT / "bench" / "webhook.lua"
KINDS = {"bare": 0.0, "webhook": 0.0, "webhook_dup30": 0.3}
CONNECTIONS = 4  # two per gunicorn worker: each worker always has the next request waiting


def _wrk(url: str, seconds: int, dup_share: float, timeout: int = 10) -> dict:
    body = FIXTURE.read_bytes()
    env = dict(os.environ, BODY_FILE=str(FIXTURE), HMAC=sign(stack.SHOPIFY_SECRET, body),
               SHOP=stack.SHOP_DOMAIN, RUN_ID=uuid.uuid4().hex[:12], DUP_SHARE=str(dup_share))
    out = subprocess.run(["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency",
                          f"--timeout={timeout}s", "-s", str(SCRIPT), f"{url}/webhooks/shopify"],
                         env=env, check=True, capture_output=True, text=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK_JSON "))
    result = json.loads(line.removeprefix("WRK_JSON "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["run_id"] = env["RUN_ID"]
    return result


def _warm_up(url: str) -> None:
    """Drive the server until both workers have booted and imported their lazy modules."""
    for _ in range(20):
        result = _wrk(url, 3, 0.0, timeout=20)
        if result["requests"] >= 10 and result["p99_us"] < 1_000_000:
            return
    raise RuntimeError(f"{url} never settled: {result}")


def _inbox_rows(db, run_id: str) -> int:
    with db.session() as session:
        return session.execute(select(func.count()).select_from(InboxEvent).where(
            InboxEvent.dedupe_key.like(f"{run_id}-%"))).scalar()


def measure(rounds: int, seconds: int) -> dict:
    """Median rps, p50 and p99 per kind over ``rounds`` interleaved rounds."""
    stack.fresh_database()
    app = stack.make_app()
    stack.add_store(app)
    db = app.extensions["db"]
    runs: dict[str, list[dict]] = {kind: [] for kind in KINDS}
    with stack.gunicorn("bench.bare_app:app", stack.WEB_PORT + 1) as bare_url, \
            stack.gunicorn("app.wsgi:app", stack.WEB_PORT) as app_url:
        for url in (bare_url, app_url):
            _warm_up(url)
        for _ in range(rounds):
            for kind, dup_share in KINDS.items():
                result = _wrk(bare_url if kind == "bare" else app_url, seconds, dup_share)
                if result["non_2xx"]:
                    raise RuntimeError(f"{kind}: answers other than 200: {result}")
                if kind != "bare":
                    result["inbox_rows"] = _inbox_rows(db, result["run_id"])
                    in_flight = CONNECTIONS  # committed, not yet counted by wrk at the end
                    if not 0 < result["inbox_rows"] <= result["requests"] + in_flight:
                        raise RuntimeError(f"{kind}: inbox rows do not match: {result}")
                runs[kind].append(result)
    app.extensions["redis"].flushdb()  # the ingest messages no worker consumed
    summary = {}
    for kind, results in runs.items():
        summary[kind] = {
            "rps": statistics.median(r["rps"] for r in results),
            "p50_ms": statistics.median(r["p50_us"] for r in results) / 1000,
            "p99_ms": statistics.median(r["p99_us"] for r in results) / 1000,
            "socket_errors": sum(r["socket_errors"] for r in results),  # timeouts past 10 s
            "rounds": results,
        }
    summary["connections"] = CONNECTIONS
    summary["seconds_per_round"] = seconds
    return summary
