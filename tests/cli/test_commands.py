"""The ``tagwise`` command as an operator meets it: lists, a checked ``stores add``, its own
version and help, one-line errors, and no embedded Redis left behind by a one-off command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.storage import embedded_redis
from app.storage.models import Store
from tests.conftest import SHOP
from tests.seeding import add_store, seed_orders

TAGWISE = str(Path(sys.executable).parent / "tagwise")


def run(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def store_count(app) -> int:
    with app.extensions["db"].session() as session:
        return session.scalar(select(func.count()).select_from(Store))


def test_stores_add_checks_the_token_takes_the_shops_settings_and_says_what_next(app, shop):
    result = run(app, "stores", "add", "shopify", "--domain", SHOP, "--access-token",
                 shop.access_token, "--api-base-url", shop.url)
    assert result.exit_code == 0, result.output
    store_id = int(result.stdout)  # stdout is the bare id, for scripts
    assert "/webhooks/shopify" in result.stderr and f"--store {store_id}" in result.stderr
    assert len(shop.requests) == 1  # one cheap call
    with app.extensions["db"].session() as session:
        store = session.get(Store, store_id)
        assert (store.currency, store.timezone) == (shop.install.currency, shop.install.timezone)


def test_stores_add_with_a_wrong_token_adds_nothing_and_says_why_in_one_line(app, shop):
    result = run(app, "stores", "add", "shopify", "--domain", SHOP, "--access-token",
                 "shpat_WRONG", "--api-base-url", shop.url)
    assert result.exit_code == 1
    assert result.output.startswith("Error: the shop refused the access token")
    assert result.output.count("\n") == 1 and "nothing added" in result.output
    assert store_count(app) == 0


def test_stores_and_destinations_list_show_size_and_sync_health(app, client, shop):
    store_id = add_store(app, shop)
    seed_orders(client, app)
    assert run(app, "destinations", "add", "klaviyo", "--store", str(store_id), "--api-key",
               "pk_test").exit_code == 0
    [line] = run(app, "stores", "list").output.splitlines()
    assert line.startswith(f"{store_id}\tshopify\t{SHOP}\t9 customers")
    assert "sync ok" in line and "(dry run)" in line  # the Klaviyo destination is in dry run
    listed = run(app, "destinations", "list", "--store", str(store_id)).output.splitlines()
    assert [row.split("\t")[2:4] for row in listed] == [["shopify_tags", "live"],
                                                       ["klaviyo", "dry_run"]]
    assert run(app, "destinations", "list", "--store", "99").output == "Error: no store 99\n"


def tagwise(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    clean.update(TAGWISE_INSTANCE_PATH=str(tmp_path / "instance"), LOG_LEVEL="WARNING", **env)
    return subprocess.run([TAGWISE, *args], env=clean, capture_output=True, text=True,
                          timeout=120)


def test_version_and_help_are_tagwise_not_flask(tmp_path):
    assert tagwise(tmp_path, "--version").stdout.strip().startswith("Tagwise ")
    shown = tagwise(tmp_path, "--help").stdout
    for flask_only in ("--app", "--env-file", "--debug", " shell ", " routes "):
        assert flask_only not in shown
    assert "segments" in shown and "stores" in shown
    assert tagwise(tmp_path, "no-such-command").returncode == 2
    assert not embedded_redis.socket_path(tmp_path / "instance").exists()  # no app was built


@pytest.mark.parametrize("env, message", [
    ({"TAGWISE_ENV": "production"}, "Error: configuration: production needs these secrets"),
    ({"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"},
     "Error: cannot use the database: "),
    ({"DATABASE_URL": "nonsense://x"}, "Error: DATABASE_URL is not usable: "),
])
def test_configuration_and_connection_failures_are_one_line(tmp_path, env, message):
    result = tagwise(tmp_path, "db", "upgrade", **env)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and errors[0].startswith(message), result.stderr
    assert "Traceback" not in result.stderr


def test_a_command_before_the_first_migration_says_to_run_it(tmp_path):
    result = tagwise(tmp_path, "stores", "list")
    assert result.returncode == 1
    assert "Error: the database has no Tagwise tables yet: run `tagwise db upgrade`" in (
        result.stderr)


def test_a_one_off_command_stops_the_embedded_redis_it_started(tmp_path):
    assert tagwise(tmp_path, "db", "upgrade").returncode == 0
    result = tagwise(tmp_path, "stores", "list")
    assert result.returncode == 0 and "no stores yet" in result.stdout
    instance = tmp_path / "instance"
    assert (instance / "redis.rdb").exists()  # it did run one (and saved it)
    assert not embedded_redis.socket_path(instance).exists()
