"""``make demo`` as a newcomer runs it (the default 2,000 customers): the shop is imported through
the real backfill path, the printed credentials open a populated dashboard, the worker writes
the tags to the shop and its page shows them; Ctrl-C stops everything."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from tests.smoke.test_make_run import free_port, wait_for

pytestmark = pytest.mark.smoke
DEMO_CUSTOMERS = 2000


@pytest.mark.timeout(900)  # two years of a 2,000-customer shop on a shared machine
def test_demo_imports_the_shop_and_serves_a_populated_dashboard(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    port, shop_port = free_port(), free_port()
    instance = tmp_path / "demo"
    env.update(TAGWISE_INSTANCE_PATH=str(instance), PORT=str(port),
               DEMO_SHOP_PORT=str(shop_port), LOG_LEVEL="WARNING",
               SYNC_DEBOUNCE_SECONDS="0.5")
    demo = subprocess.Popen([sys.executable, "-m", "demo"], env=env, text=True,
                            stdout=subprocess.PIPE, cwd=Path(__file__).parents[2])
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in demo.stdout],
                     daemon=True).start()
    printed: list[str] = []

    def said(pattern: str) -> re.Match | None:
        while not lines.empty():
            printed.append(lines.get())
        return re.search(pattern, "".join(printed))

    try:
        wait_for(lambda: said(r"password\s+(\S+)"), 600, "the demo's sign-in details")
        assert said(rf"backfill completed: {DEMO_CUSTOMERS} customers, \d+ orders, 0 rejected")
        dashboard = said(r"dashboard\s+(http://\S+)").group(1)
        email, password = said(r"sign in as\s+(\S+)").group(1), said(r"password\s+(\S+)").group(1)

        def web_ready() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).ok
            except requests.RequestException:
                return False

        wait_for(web_ready, 90, "the web process")
        browser = requests.Session()
        login = browser.get(f"http://127.0.0.1:{port}/login", timeout=30)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
        browser.post(f"http://127.0.0.1:{port}/login", timeout=30, data={
            "email": email, "password": password, "csrf_token": csrf})
        overview = browser.get(dashboard, timeout=30)
        assert overview.status_code == 200 and "champions" in overview.text

        def shop_shows_tags() -> bool:
            page = requests.get(f"http://127.0.0.1:{shop_port}/?tag=tw:champions", timeout=10)
            return "<td>" in page.text and "tw:champions" in page.text

        wait_for(shop_shows_tags, 120, "the tags written to the shop")
    finally:
        demo.send_signal(signal.SIGINT)
        code = demo.wait(timeout=90)
        demo.stdout.close()
    assert code == 0
    assert not (instance / "redis.sock").exists()
