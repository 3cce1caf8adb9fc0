"""The services every measurement shares: configuration, a fresh database, gunicorn and Celery.

Every process of a run (this one, gunicorn's workers, Celery's) gets the same environment from
``bench_env()``, so they share the database, the Redis db and the secrets.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
INSTANCE = ROOT / "bench" / ".instance"
LOGS = INSTANCE / "logs"
SHOPIFY_SECRET = "bench-shopify-app-secret"
SHOP_DOMAIN = "bench-shop.myshopify.com"
ACCESS_TOKEN = "shpat_test"  # the Shopify stand-in's default token
ENCRYPTION_KEY = "YmVuY2gtb25seS1mZXJuZXQta2V5LTMyLWJ5dGVzISE="  # bench-only Fernet key
WEB_PORT = 8765


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


def fresh_database() -> None:
    """Empty the bench database and migrate it to head (the database and Redis db are ours)."""
    env = bench_env()
    engine = create_engine(env["DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    subprocess.run([str(BIN / "tagwise"), "db", "upgrade"], env=env, check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()


def add_store(app, api_base_url: str | None = None) -> int:
    """A Shopify store with its own webhook secret and a live tag destination; its id."""
    from app.storage.models import Destination, Store

    box = app.extensions["secret_box"]
    with app.extensions["db"].session() as session:
        store = Store(platform="shopify", domain=SHOP_DOMAIN, api_base_url=api_base_url,
                      access_token_enc=box.encrypt(ACCESS_TOKEN),
                      webhook_secret_enc=box.encrypt(SHOPIFY_SECRET), tag_prefix="tw:")
        session.add(store)
        session.flush()
        session.add(Destination(store_id=store.id, kind="shopify_tags", mode="live"))
        return store.id


def _wait_http(url: str, seconds: float = 30.0) -> None:
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
def gunicorn(wsgi: str, port: int = WEB_PORT):
    """The Procfile's web process (``--workers ${WEB_CONCURRENCY:-2} --threads
    ${WEB_THREADS:-4} --no-control-socket``)."""
    LOGS.mkdir(parents=True, exist_ok=True)
    workers = os.environ.get("WEB_CONCURRENCY", "2")
    threads = os.environ.get("WEB_THREADS", "4")
    log = open(LOGS / "gunicorn.log", "ab")
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", workers,
         "--threads", threads, "--no-control-socket", wsgi],
        env=bench_env(), cwd=ROOT, stdout=log, stderr=log)
    try:
        _wait_http(f"http://127.0.0.1:{port}/")
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
