"""``tagwise run``: web, worker and beat in one supervised process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app.cli.base import main

SHUTDOWN_GRACE_SECONDS = 20
# gunicorn's default access line minus the query string (%(U)s is the path alone) and the
# referrer: signed launch and OAuth links carry a reusable hmac= in their query.
ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(a)s"'

WEB_THREADS = 4  # as the Procfile's default WEB_THREADS
# The worker runs at a lower CPU priority than the web workers: on one small machine a
# webhook must be answered within Shopify's 5 s whatever the worker is doing, while the
# worker's backlog waits safely in the inbox and drains as soon as the web is idle. Measured
# with bench/embedded.py (8 senders while the worker drains): about twice the webhooks
# accepted per second than at equal priority.
WORKER_NICENESS = 10


def _lower_priority() -> None:
    """In the worker's child before it starts: nice it (its pool processes inherit this)."""
    os.nice(WORKER_NICENESS)


@main.command("run")
@click.option("--port", type=int, default=None, help="Defaults to PORT, then 8000")
@click.option("--workers", type=int, default=2, show_default=True, help="Web workers")
@with_appcontext
def run_command(port: int | None, workers: int) -> None:
    """Serve the web app, a Celery worker and beat; stop them all on Ctrl-C or SIGTERM."""
    port = port or current_app.config["PORT"]
    env = dict(os.environ, REDIS_URL=current_app.config["REDIS_URL"],
               DATABASE_URL=current_app.config["DATABASE_URL"])
    bin_dir = Path(sys.executable).parent
    commands = {
        # No control socket: its default path in $HOME would collide between instances.
        # Threads overlap a request's waits on the database commit and the broker.
        "web": [str(bin_dir / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers",
                str(workers), "--threads", str(WEB_THREADS), "--access-logfile", "-",
                "--access-logformat", ACCESS_LOG_FORMAT, "--no-control-socket", "app.wsgi:app"],
        "worker": [str(bin_dir / "celery"), "-A", "tasks.worker", "worker", "--loglevel",
                   "INFO", "-Q", "realtime,sync,bulk", "--concurrency", "2"],
        "beat": [str(bin_dir / "celery"), "-A", "tasks.worker", "beat", "--loglevel", "INFO",
                 "--schedule", str(Path(current_app.instance_path) / "celerybeat-schedule")],
    }
    processes = {name: subprocess.Popen(
        cmd, env=env, preexec_fn=_lower_priority if name == "worker" else None)
        for name, cmd in commands.items()}
    click.echo(f"Tagwise is running on http://127.0.0.1:{port} (Ctrl-C stops it)")
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping and all(p.poll() is None for p in processes.values()):
        time.sleep(0.5)
    for name, process in processes.items():
        if process.poll() is None:
            process.terminate()
        elif not stopping:
            click.echo(f"{name} exited with {process.returncode}; stopping the rest", err=True)
    deadline = time.monotonic() + SHUTDOWN_GRACE_SECONDS
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
    if not os.environ.get("REDIS_URL"):
        from app.storage import embedded_redis

        embedded_redis.shutdown(Path(current_app.instance_path))
    click.echo("Tagwise stopped")
