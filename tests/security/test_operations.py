"""Findings 8, 12: an unreachable broker, and secrets typed on the command line."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import select, update

from app.storage.db import utcnow
from app.storage.models import Destination, Membership, Store
from tests.conftest import API_TOKEN
from tests.seeding import add_store, rescore, seed_orders

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@contextmanager
def broker_down(app):
    """Point Celery at a port nothing listens on, as when Redis (the broker) is down."""
    celery = app.extensions["celery"]
    good = celery.conf.broker_url
    celery.conf.broker_url = "redis://127.0.0.1:1/0"
    celery._pool, celery.amqp._producer_pool = None, None
    try:
        yield
    finally:
        celery.conf.broker_url = good
        celery._pool, celery.amqp._producer_pool = None, None


def regulars(app, store_id: int) -> int:
    with app.extensions["db"].session() as session:
        return len(session.execute(select(Membership.id).filter_by(
            store_id=store_id, segment_key="regulars", left_at=None)).all())


def test_a_segment_saved_while_the_broker_is_down_succeeds_and_is_applied_later(
        app, client, shop):
    store_id = add_store(app, shop)
    seed_orders(client, app)
    rescore(app, store_id)
    segment = {"key": "regulars", "rule": "orders_count >= 2"}
    path = f"/api/v1/stores/{store_id}/segments"
    with broker_down(app):
        created = client.post(path, json=segment, headers=AUTH)
        edited = client.patch(f"{path}/regulars", json={"rule": "orders_count >= 3"},
                              headers=AUTH)
    assert created.status_code == 201 and edited.status_code == 200
    assert regulars(app, store_id) == 0  # saved, not applied yet
    with app.extensions["db"].session() as session:  # the sweeper's delay has passed
        session.execute(update(Store).values(
            segments_refresh_due=utcnow() - timedelta(minutes=5)))
    celery = app.extensions["celery"]
    celery.conf.task_always_eager = True
    try:
        from tasks.sweep import sweep_segment_refreshes

        assert sweep_segment_refreshes.apply().get() == 1
    finally:
        celery.conf.task_always_eager = False
    assert regulars(app, store_id) == 1
    with app.extensions["db"].session() as session:
        assert session.get(Store, store_id).segments_refresh_due is None


def test_secrets_can_come_from_the_environment_or_stdin_and_the_flag_is_warned_about(
        app, monkeypatch, caplog):
    runner = app.test_cli_runner()
    monkeypatch.setenv("TAGWISE_SHOPIFY_ACCESS_TOKEN", "shpat_from_env")
    from_env = runner.invoke(args=["stores", "add", "shopify", "--domain", "a.myshopify.com"])
    from_stdin = runner.invoke(args=["stores", "add", "shopify", "--domain", "b.myshopify.com",
                                     "--access-token", "-"], input="shpat_from_stdin\n")
    assert from_env.exit_code == 0 and from_stdin.exit_code == 0, from_stdin.output
    assert "command line" not in caplog.text
    monkeypatch.delenv("TAGWISE_SHOPIFY_ACCESS_TOKEN")
    from_flag = runner.invoke(args=["stores", "add", "shopify", "--domain", "c.myshopify.com",
                                    "--access-token", "shpat_in_ps"])
    assert from_flag.exit_code == 0  # existing scripts keep working
    assert "--access-token on the command line shows in ps" in caplog.text
    box = app.extensions["secret_box"]
    with app.extensions["db"].session() as session:
        tokens = [box.decrypt(t) for t in session.execute(
            select(Store.access_token_enc).order_by(Store.id)).scalars()]
    assert tokens == ["shpat_from_env", "shpat_from_stdin", "shpat_in_ps"]
    assert "shpat_" not in from_env.output + from_stdin.output + from_flag.output
    monkeypatch.setenv("TAGWISE_MAILCHIMP_API_KEY", "0123456789abcdef-us6")
    caplog.clear()
    destination = runner.invoke(args=["destinations", "add", "mailchimp", "--store", "1",
                                      "--list-id", "a1b2c3d4e5"])
    assert destination.exit_code == 0, destination.output
    assert "command line" not in caplog.text
    with app.extensions["db"].session() as session:
        [key] = session.execute(select(Destination.credentials_enc).filter_by(
            kind="mailchimp")).scalars()
    assert box.decrypt(key) == "0123456789abcdef-us6"
