"""Real Celery workers: two workers (separate hostnames) reach the state one worker reaches, on
the Redis broker and on RabbitMQ (skipped, saying why, where nothing listens on its port)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app import create_app
from app.storage.models import INBOX_PENDING, InboxEvent
from tests.ingest.test_live_path import app_env
from tests.ingest.test_pipeline import deliver_many_customers, reset, snapshot
from tests.seeding import add_store, days_ago, deliver, order_payload, refund_payload

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"
SETTLE_TIMEOUT_SECONDS = 180


def answers(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


class Workers:
    """Celery worker processes (solo pool, one process each) against the test's database."""

    def __init__(self, app, tmp_path: Path):
        self.app, self.tmp_path, self.processes, self.logs = app, tmp_path, [], []

    def start(self, count: int, broker_url: str) -> None:
        celery = str(Path(sys.executable).parent / "celery")
        for n in range(count):
            log = self.tmp_path / f"worker-{len(self.logs)}.log"
            self.logs.append(log)
            with log.open("w") as log_file:  # the child keeps its own copy of the descriptor
                self.processes.append(subprocess.Popen(
                    [celery, "-A", "tasks.worker", "worker", "--pool", "solo", "--loglevel",
                     "INFO", "-Q", "realtime,sync,bulk", "-n", f"w{n}@host{n}",
                     "--without-gossip", "--without-mingle", "--without-heartbeat"],
                    env=app_env(self.app, TAGWISE_BROKER_URL=broker_url,
                                TAGWISE_INSTANCE_PATH=str(self.tmp_path / f"instance-{n}")),
                    stdout=log_file, stderr=subprocess.STDOUT))

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()  # warm shutdown: the task at hand finishes
        for process in self.processes:
            process.wait(timeout=60)
        self.processes = []

    def tail(self) -> str:
        return "\n".join(log.read_text()[-1500:] for log in self.logs)


@pytest.fixture
def workers(app, tmp_path):
    started = Workers(app, tmp_path)
    yield started
    started.stop()


def settled(app) -> bool:
    """No inbox event pending and no drain running or signalled."""
    redis = app.extensions["redis"]
    with app.extensions["db"].session() as session:
        pending = session.execute(select(func.count()).where(
            InboxEvent.status == INBOX_PENDING)).scalar()
    return (pending == 0 and not redis.scard("tw:pending-stores")
            and not list(redis.scan_iter("tw:drain:*")))


def run_with_workers(app, shop, workers, count: int, broker_url: str, now: datetime,
                     tmp_path: Path) -> dict:
    """Start the workers, send the events through a web app publishing to ``broker_url``,
    wait until everything settled, stop the workers; return the state in SQL."""
    web = create_app({"INSTANCE_PATH": tmp_path / f"web-{count}", "TAGWISE_ENV": "test",
                      "DATABASE_URL": app.config["DATABASE_URL"],
                      "REDIS_URL": app.config["REDIS_URL"], "TAGWISE_BROKER_URL": broker_url,
                      "TAGWISE_ENCRYPTION_KEY": app.config["TAGWISE_ENCRYPTION_KEY"],
                      "SHOPIFY_API_SECRET": app.config["SHOPIFY_API_SECRET"]})
    workers.start(count, broker_url)
    try:
        client = web.test_client()
        deliver_many_customers(client, 40, now)
        deliver(client, "refunds/create", refund_payload(9, 105, "5.00", now), "rf")
        deliver(client, "orders/updated", order_payload(
            101, customer_id=9001, email="c1@example.com", created=now, cancelled=True,
            updated=now), "cx")
        deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
        while not settled(app):
            assert time.monotonic() < deadline, "workers did not settle:\n" + workers.tail()
            time.sleep(0.2)  # polling a condition, not waiting for a time
    finally:
        workers.stop()
        web.extensions["db"].engine.dispose()
        web.extensions["celery"].close()  # its broker connections
        app.extensions["celery"].set_current()
    state = snapshot(app, shop)
    del state["shop"]  # a sync may still have been on its way when the workers stopped
    return state


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_two_workers_reach_the_state_one_worker_reaches(app, shop, workers, broker, tmp_path):
    if broker == "rabbitmq" and not answers("127.0.0.1", 5672):
        pytest.skip("RabbitMQ does not answer on 127.0.0.1:5672 (CI runs it there)")
    add_store(app, shop)
    broker_url = RABBITMQ_URL if broker == "rabbitmq" else app.config["REDIS_URL"]
    now = days_ago(0)
    one = run_with_workers(app, shop, workers, 1, app.config["REDIS_URL"], now, tmp_path)
    assert len(one["profiles"]) == 20
    reset(app, shop)
    two = run_with_workers(app, shop, workers, 2, broker_url, now, tmp_path)
    assert two == one
