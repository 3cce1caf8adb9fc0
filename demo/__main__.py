"""``make demo``: serve a stand-in shop, import it into a fresh Tagwise, then run Tagwise.

Steps, each through the ``tagwise`` command a merchant would use: migrate, add the shop as a
store (the token is checked against the shop), backfill its history through Shopify's bulk
operation path (which rescores and queues the tag sync), add a dashboard user, print where to
sign in, then ``tagwise run`` in the foreground (``PORT`` and the rest of the environment apply
as for ``make run``). The shop keeps serving meanwhile: the worker writes the tags to it and its
page at ``/`` shows them. Everything lives in its own instance folder (``instance/demo`` unless
``TAGWISE_INSTANCE_PATH`` says otherwise), rebuilt on every start, on the embedded SQLite and
Redis whatever ``DATABASE_URL`` / ``REDIS_URL`` say.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from werkzeug.serving import WSGIRequestHandler, make_server

from app.storage import embedded_redis
from demo.shop_page import ShopPage
from demo.standins.shopify import ShopifyStandIn
from demo.store import populate

DOMAIN = "demo-coffee.myshopify.com"
ACCESS_TOKEN = "shpat_demo_token"
WEBHOOK_SECRET = "demo-webhook-secret"
USER_EMAIL = "demo@example.com"
DEFAULT_CUSTOMERS = 2000
# A Shopify Plus shop's GraphQL bucket (20,000 points, 1,000 restored a second), so the first
# sync of every customer's tags takes seconds rather than minutes.
PLUS_BUCKET_POINTS = 20_000.0
PLUS_RESTORE_PER_SECOND = 1_000.0


class QuietHandler(WSGIRequestHandler):
    """Requests to the shop are not logged: the worker's own log says what it sent."""

    def log_request(self, *args: object) -> None:
        pass


def tagwise(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """Run one ``tagwise`` command; return its output (shown as it goes unless captured)."""
    command = [str(Path(sys.executable).parent / "tagwise"), *args]
    capture = args[0] in {"stores", "users"}
    done = subprocess.run(command, env=env, input=stdin, text=True, check=False,
                          stdout=subprocess.PIPE if capture else None)
    if done.returncode != 0:
        sys.exit(f"demo: `tagwise {' '.join(args)}` failed ({done.returncode})")
    return done.stdout or ""


def fresh_instance(path: Path) -> None:
    """Stop a previous demo's embedded Redis and remove its folder."""
    if path.exists():
        embedded_redis.shutdown(path)
        shutil.rmtree(path)
    path.mkdir(parents=True)


def main() -> None:
    """Build the shop, import it, print the sign-in, run Tagwise until Ctrl-C or SIGTERM."""
    instance = Path(os.environ.get("TAGWISE_INSTANCE_PATH") or "instance/demo").resolve()
    port = int(os.environ.get("PORT") or 8000)
    shop_port = int(os.environ.get("DEMO_SHOP_PORT") or port + 1)
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(TAGWISE_INSTANCE_PATH=str(instance), PORT=str(port))
    env.setdefault("APP_URL", f"http://127.0.0.1:{port}")
    fresh_instance(instance)

    shop = ShopifyStandIn(access_token=ACCESS_TOKEN, bucket_size=PLUS_BUCKET_POINTS,
                          available=PLUS_BUCKET_POINTS, restore_rate=PLUS_RESTORE_PER_SECOND)
    customers = int(os.environ.get("DEMO_CUSTOMERS") or DEFAULT_CUSTOMERS)
    orders = populate(shop.history, customers, datetime.now(UTC))
    server = make_server("127.0.0.1", shop_port, ShopPage(shop), threaded=True,
                         request_handler=QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    shop_url = f"http://127.0.0.1:{shop_port}"
    print(f"demo: stand-in shop {DOMAIN} with {customers} customers and {orders} orders "
          f"at {shop_url}", flush=True)

    tagwise(env, "db", "upgrade")
    # Secrets through the environment, as the command asks (not on the command line).
    added = tagwise({**env, "TAGWISE_SHOPIFY_ACCESS_TOKEN": ACCESS_TOKEN,
                     "TAGWISE_WEBHOOK_SECRET": WEBHOOK_SECRET},
                    "stores", "add", "shopify", "--domain", DOMAIN, "--api-base-url", shop_url,
                    "--timezone", "America/New_York")
    store_id = added.split()[0]
    tagwise(env, "backfill", "--store", store_id)
    password = secrets.token_urlsafe(12)
    tagwise(env, "users", "add", USER_EMAIL, "--all-stores", "--password-stdin",
            stdin=password + "\n")

    app_url = env["APP_URL"].rstrip("/")
    print(f"""
demo: ready.
  dashboard   {app_url}/stores/{store_id}/
  sign in as  {USER_EMAIL}
  password    {password}
  the shop    {shop_url}/  (its customers and the tags Tagwise writes to them)
  webhooks    {app_url}/webhooks/shopify  (secret {WEBHOOK_SECRET})
""", flush=True)
    run = subprocess.Popen([str(Path(sys.executable).parent / "tagwise"), "run"], env=env)

    def forward(signum: int, _frame: object) -> None:
        run.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = run.wait()
    server.shutdown()
    sys.exit(code)


if __name__ == "__main__":
    main()
