"""The quick start as a new user runs it: embedded defaults, real processes, a signed webhook,
and the tag write arriving at a local stand-in shop; then a clean shutdown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from demo.standins.shopify import ShopifyStandIn
from tests.conftest import fixture_bytes, shopify_headers
from tests.standins.server import serving

pytestmark = pytest.mark.smoke
BIN = Path(sys.executable).parent
SECRET = "smoke-secret"
SHOP = "smoke-test.myshopify.com"
CUSTOMER = "115310627314723954"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def child(parent: int, word: str) -> int:
    """The pid of ``parent``'s child process whose command line contains ``word``."""
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, NotADirectoryError):
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and word in cmdline:
            return int(entry.name)
    raise AssertionError(f"no {word} process under {parent}")


def niceness(pid: int) -> int:
    """A process's nice value."""
    return os.getpriority(os.PRIO_PROCESS, pid)


def test_run_accepts_a_signed_webhook_and_pushes_the_tag(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(TAGWISE_INSTANCE_PATH=str(tmp_path / "instance"), SHOPIFY_API_SECRET=SECRET,
               SYNC_DEBOUNCE_SECONDS="0.5", LOG_LEVEL="WARNING")
    tagwise = str(BIN / "tagwise")
    shop = ShopifyStandIn(access_token="shpat_smoke", customers={CUSTOMER: ["VIP"]})
    with serving(shop) as shop_url:
        subprocess.run([tagwise, "db", "upgrade"], env=env, check=True, timeout=120)
        added = subprocess.run(
            [tagwise, "stores", "add", "shopify", "--domain", SHOP, "--access-token",
             "shpat_smoke", "--api-base-url", shop_url],
            env=env, check=True, timeout=120, capture_output=True, text=True)
        assert added.stdout.strip().isdigit()
        port = free_port()
        run = subprocess.Popen([tagwise, "run", "--port", str(port), "--workers", "1"], env=env)
        try:
            base = f"http://127.0.0.1:{port}"

            def ready() -> bool:
                try:  # gunicorn listens before its worker has imported the app
                    return requests.get(f"{base}/readyz", timeout=5).status_code == 200
                except requests.RequestException:
                    return False

            wait_for(ready, 60, "the web process")
            body = fixture_bytes("shopify", "orders_create__sample.json")
            # A generous timeout: on a loaded machine the first request also warms the worker.
            response = requests.post(f"{base}/webhooks/shopify", data=body, timeout=30,
                                     headers=shopify_headers(body, "orders/create", "smoke-1",
                                                             shop=SHOP, secret=SECRET))
            assert response.status_code == 200 and response.json()["status"] == "accepted"
            # The worker yields the CPU to the web: webhooks are answered first.
            assert niceness(child(run.pid, " worker ")) == niceness(child(run.pid, "gunicorn")) + 10
            wait_for(lambda: shop.mutation_requests(), 60, "the tag write at the shop")
            tags = shop.tags_of(CUSTOMER)
            assert "VIP" in tags  # the merchant's own tag survives
            assert any(t.startswith("tw:") for t in tags)
        finally:
            run.send_signal(signal.SIGTERM)
            code = run.wait(timeout=60)
    assert code == 0
    assert not (tmp_path / "instance" / "redis.sock").exists()  # embedded Redis stopped too
