"""The services every measurement shares: configuration, a fresh database, gunicorn and Celery.

Every process of a run (this one, gunicorn's workers, Celery's) gets the same environment from
``bench_env()``, so they share the database, the Redis db and the secrets.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
INSTANCE = ROOT / "bench" / ".instance"
LOGS = INSTANCE / "logs"
SHOPIFY_SECRET = "bench-shopify-app-secret"
SHOP_DOMAIN = "bench-shop.myshopify.com"
ACCESS_TOKEN = "shpat_test"  # the Shopify stand-in's default token
ENCRYPTION_KEY = "YmVuY2gtb25seS1mZXJuZXQta2V5LTMyLWJ5dGVzISE="  # bench-only Fernet key
WEB_PORT = int(os.environ.get("BENCH_WEB_PORT", "8765"))  # the bare Flask app uses the next


def bench_env() -> dict[str, str]:
    """The environment of every process of a run (BENCH_DATABASE_URL / BENCH_REDIS_URL override)."""
    return dict(
        os.environ,
        DATABASE_URL=os.environ.get("BENCH_DATABASE_URL",
                                    "postgresql+psycopg://postgres@127.0.0.1:5432/wt_bench"),
        REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5"),
        TAGWISE_ENV="development", TAGWISE_INSTANCE_PATH=str(INSTANCE),
        SECRET_KEY="bench-secret-key", TAGWISE_ENCRYPTION_KEY=ENCRYPTION_KEY,
        TAGWISE_API_TOKEN="bench-api-token", SHOPIFY_API_SECRET=SHOPIFY_SECRET,
        PYTHONPATH=str(ROOT),
    )


def make_app():
    """The Flask app configured like the run's other processes."""
    os.environ.update(bench_env())
    from app import create_app

    return create_app()


def _create_database_if_missing(url: str) -> None:
    """Create the bench database on its server when it does not exist yet (a fresh machine)."""
    target = make_url(url)
    engine = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                              {"name": target.database}).scalar() is None:
            connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    engine.dispose()


def fresh_database() -> None:
    """Empty the bench database and migrate it to head (the database and Redis db are ours);
    create the database first if the server does not have it."""
    env = bench_env()
    _create_database_if_missing(env["DATABASE_URL"])
    engine = create_engine(env["DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    subprocess.run([str(BIN / "tagwise"), "db", "upgrade"], env=env, check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()


def add_store(app, api_base_url: str | None = None, domain: str = SHOP_DOMAIN) -> int:
    """A Shopify store with its own webhook secret and a live tag destination; its id."""
    from app.storage.models import Destination, Store

    box = app.extensions["secret_box"]
    with app.extensions["db"].session() as session:
        store = Store(platform="shopify", domain=domain, api_base_url=api_base_url,
                      access_token_enc=box.encrypt(ACCESS_TOKEN),
                      webhook_secret_enc=box.encrypt(SHOPIFY_SECRET), tag_prefix="tw:")
        session.add(store)
        session.flush()
        session.add(Destination(store_id=store.id, kind="shopify_tags", mode="live"))
        return store.id


def wait_http(url: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # the server answers
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def gunicorn(wsgi: str, port: int = WEB_PORT, env: dict[str, str] | None = None):
    """The Procfile's web process (``--workers ${WEB_CONCURRENCY:-2} --threads
    ${WEB_THREADS:-4} --no-control-socket``), with ``env`` instead of the run's if given."""
    LOGS.mkdir(parents=True, exist_ok=True)
    workers = os.environ.get("WEB_CONCURRENCY", "2")
    threads = os.environ.get("WEB_THREADS", "4")
    log = open(LOGS / "gunicorn.log", "ab")
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", workers,
         "--threads", threads, "--no-control-socket", wsgi],
        env=env or bench_env(), cwd=ROOT, stdout=log, stderr=log)
    try:
        wait_http(f"http://127.0.0.1:{port}/")
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)
        log.close()


@contextmanager
def celery_worker(env: dict[str, str] | None = None):
    """The Procfile's worker process: ``-Q realtime,sync,bulk``, default concurrency."""
    LOGS.mkdir(parents=True, exist_ok=True)
    path = LOGS / "celery.log"
    path.write_bytes(b"")
    log = open(path, "ab")
    process = subprocess.Popen(
        [str(BIN / "celery"), "-A", "tasks.worker", "worker", "--loglevel", "INFO",
         "-Q", "realtime,sync,bulk"], env=env or bench_env(), cwd=ROOT, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while b" ready." not in path.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"celery worker did not start; see {path}")
            time.sleep(0.2)
        yield process
    finally:
        _stop(process)
        log.close()


def post_webhook(url: str, body: bytes, webhook_id: str, signature: str,
                 domain: str = SHOP_DOMAIN) -> int:
    """POST one signed ``orders/create`` delivery for a shop (the bench shop unless ``domain``
    says) on a fresh connection (as Shopify does); the answer's status."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection.request("POST", "/webhooks/shopify", body, {
            "Content-Type": "application/json", "X-Shopify-Topic": "orders/create",
            "X-Shopify-Hmac-Sha256": signature, "X-Shopify-Shop-Domain": domain,
            "X-Shopify-Webhook-Id": webhook_id})
        return connection.getresponse().status
    finally:
        connection.close()


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def process_tree(pid: int) -> list[int]:
    """``pid`` and every live descendant (a Celery worker and its pool processes)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _proc_stat(int(entry.name))):
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        tree.append(current := todo.pop())
        todo.extend(parents.get(current, []))
    return tree


def database_backends(database: str) -> list[int]:
    """The local PostgreSQL backends serving ``database`` (their title names it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {database} " in title:
            found.append(int(entry.name))
    return found


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds each live process of ``pids`` has used so far."""
    used = {}
    for pid in pids:
        if fields := _proc_stat(pid):
            used[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return used


class CpuMeter:
    """CPU seconds used between ``start`` and ``stop`` by a process tree (the Celery worker),
    the PostgreSQL backends of the run's database and the Redis server, when they run on this
    machine. A process that starts meanwhile counts whole; one that exits meanwhile is missed
    (the pools keep their connections, so few do)."""

    def __init__(self, worker_pid: int, redis_pid: int | None):
        self.worker_pid, self.redis_pid = worker_pid, redis_pid
        self.database = make_url(bench_env()["DATABASE_URL"]).database

    def _groups(self) -> dict[str, dict[int, float]]:
        return {"worker": cpu_seconds(process_tree(self.worker_pid)),
                "postgresql": cpu_seconds(database_backends(self.database)),
                "redis": cpu_seconds([self.redis_pid] if self.redis_pid else [])}

    def start(self) -> None:
        self.before = self._groups()

    def stop(self) -> dict[str, float]:
        """CPU seconds per group since ``start``."""
        after = self._groups()
        return {group: round(sum(t - self.before[group].get(pid, 0.0)
                                 for pid, t in used.items()), 3)
                for group, used in after.items()}
