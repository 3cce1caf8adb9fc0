"""Ingest: signed ``POST /webhooks/shopify`` under gunicorn against a bare Flask route.

Both apps run under the Procfile's gunicorn settings at once on loopback; ``wrk`` (a separate
process, bench/webhook.lua) drives each in turn, rounds interleaved so machine noise hits every
row alike: the bare route, the webhook with distinct ids, the webhook with 30% repeated ids, all
at 16 connections, then the bare route and the webhook at 4 connections (the earlier setting).
The body is the captured orders/create payload, signed with the store's secret. After each
webhook round the inbox must hold exactly one new row per distinct id sent.

Each round also reads the CPU time (user + system, from /proc) that the serving gunicorn
(master and workers), every PostgreSQL server process and redis-server spent over the wrk
window, divided by the requests answered: CPU milliseconds per accepted webhook. PostgreSQL and
Redis are whole servers, so on a shared machine their share includes other clients' work;
``postgres_backends`` is the part spent by the backends serving the run's own database (it is
inside ``postgres``, not added to the total), the figure to compare on a shared machine.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import uuid
from pathlib import Path

from sqlalchemy import func, make_url, select

from app.storage.models import InboxEvent
from bench import stack
from connectors.shopify.webhooks import sign

FIXTURE = (stack.ROOT / "tests" / "connectors" / "shopify" / "fixtures"
           / "orders_create__sample.json")
SCRIPT = stack.ROOT / "bench" / "webhook.lua"
# kind -> (share of repeated ids, wrk connections). 16 connections: two per gunicorn thread
# (2 workers x 4 threads), so every thread always has the next request waiting; 4 is the
# setting of earlier runs, kept for comparison.
KINDS = {"bare": (0.0, 16), "webhook": (0.0, 16), "webhook_dup30": (0.3, 16),
         "bare_c4": (0.0, 4), "webhook_c4": (0.0, 4)}
CONNECTIONS = 16
# Each wrk connection is re-opened about every this many requests (bench/webhook.lua), so the
# connections keep spreading over both gunicorn workers instead of staying all round with
# whichever worker accepted them first.
RECONNECT_EVERY = int(os.environ.get("BENCH_RECONNECT_EVERY", "100"))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(match) -> float:
    """User + system CPU seconds of every live process whose ``(comm, cmdline)`` matches, with
    that of their reaped children (PostgreSQL backends that closed during the window)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace")
        except OSError:  # the process ended while we looked
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        if match(comm, cmdline):
            fields = stat[stat.rindex(")") + 2:].split()
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / CLOCK_TICKS


def _cpu_now(port: int) -> dict[str, float]:
    """CPU seconds so far of the gunicorn serving ``port``, PostgreSQL and redis-server, and of
    the PostgreSQL backends serving the run's database alone."""
    bind = f"127.0.0.1:{port} "
    database = make_url(stack.bench_env()["DATABASE_URL"]).database
    return {
        "web": _cpu_seconds(lambda comm, cmd: "gunicorn" in cmd and bind in cmd),
        "postgres": _cpu_seconds(lambda comm, cmd: comm == "postgres"),
        "redis": _cpu_seconds(lambda comm, cmd: comm == "redis-server"),
        "postgres_backends": _cpu_seconds(
            lambda comm, cmd: cmd.startswith("postgres: ") and f" {database} " in cmd),
    }


def _wrk(url: str, seconds: int, dup_share: float, connections: int = CONNECTIONS,
         timeout: int = 10) -> dict:
    body = FIXTURE.read_bytes()
    env = dict(os.environ, BODY_FILE=str(FIXTURE), HMAC=sign(stack.SHOPIFY_SECRET, body),
               SHOP=stack.SHOP_DOMAIN, RUN_ID=uuid.uuid4().hex[:12], DUP_SHARE=str(dup_share),
               RECONNECT_EVERY=str(RECONNECT_EVERY))
    port = int(url.rsplit(":", 1)[1])
    before = _cpu_now(port)
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                          f"--timeout={timeout}s", "-s", str(SCRIPT), f"{url}/webhooks/shopify"],
                         env=env, check=True, capture_output=True, text=True).stdout
    after = _cpu_now(port)
    line = next(x for x in out.splitlines() if x.startswith("WRK_JSON "))
    result = json.loads(line.removeprefix("WRK_JSON "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["run_id"] = env["RUN_ID"]
    result["connections"] = connections
    answered = max(result["requests"], 1)
    result["cpu_ms"] = {k: (after[k] - before[k]) * 1000 / answered for k in before}
    result["cpu_ms"]["total"] = sum(v for k, v in result["cpu_ms"].items()
                                    if k != "postgres_backends")
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


def measure(rounds: int, seconds: int, kinds: dict[str, tuple[float, int]] = KINDS) -> dict:
    """Median rps, p50 and p99 per kind over ``rounds`` interleaved rounds (every kind of
    ``KINDS`` unless ``kinds`` names fewer)."""
    stack.fresh_database()
    app = stack.make_app()
    stack.add_store(app)
    db = app.extensions["db"]
    runs: dict[str, list[dict]] = {kind: [] for kind in kinds}
    with stack.gunicorn("bench.bare_app:app", stack.WEB_PORT + 1) as bare_url, \
            stack.gunicorn("app.wsgi:app", stack.WEB_PORT) as app_url:
        for url in (bare_url, app_url):
            _warm_up(url)
        for _ in range(rounds):
            for kind, (dup_share, connections) in kinds.items():
                url = bare_url if kind.startswith("bare") else app_url
                result = _wrk(url, seconds, dup_share, connections)
                if result["non_2xx"]:
                    raise RuntimeError(f"{kind}: answers other than 200: {result}")
                if not kind.startswith("bare"):
                    result["inbox_rows"] = _inbox_rows(db, result["run_id"])
                    in_flight = connections  # committed, not yet counted by wrk at the end
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
            "connections": results[0]["connections"],
            "cpu_ms": {part: statistics.median(r["cpu_ms"][part] for r in results)
                       for part in results[0]["cpu_ms"]},
            "rounds": results,
        }
    summary["connections"] = CONNECTIONS
    summary["seconds_per_round"] = seconds
    summary["reconnect_every"] = RECONNECT_EVERY
    return summary
