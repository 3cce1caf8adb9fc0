"""A web process sends its deliveries' store marks and counts to Redis together, after the
answers (``app/web/webhooks/signals.py``); the tests' app sends each with its answer."""

from __future__ import annotations

import time

from app.storage import redis_state
from app.web.webhooks.signals import Signals
from tests.ingest.test_live_path import CLOSED_PORT_URL, inbox
from tests.seeding import OTHER_SHOP, add_store, days_ago, deliver, order_payload, run_queued
from tests.web.test_metrics import scrape, webhooks


def gathering(app, seconds: float) -> Signals:
    """Have the app gather its signals for ``seconds`` before sending them."""
    signals = app.extensions["webhook_signals"] = Signals(app, seconds)
    return signals


def test_deliveries_are_signalled_together_one_drain_per_store(app, client, shop):
    big, small = add_store(app, shop), add_store(app, shop, domain=OTHER_SHOP)
    signals = gathering(app, 3600)  # sent only when closed, within this test
    redis = app.extensions["redis"]
    for i in range(5):
        deliver(client, "orders/create", order_payload(100 + i, created=days_ago(1)), f"b{i}")
    deliver(client, "orders/create", order_payload(1, created=days_ago(1)), "s1",
            shop=OTHER_SHOP)
    deliver(client, "orders/create", order_payload(100, created=days_ago(1)), "b0")  # again
    deliver(client, "orders/create", order_payload(7), "u1", shop="nobody.example")
    assert set(inbox(app).values()) == {("pending", 0)}  # committed before any signal
    assert redis.llen("realtime") == 0 and not redis_state.is_pending(redis, big)
    assert webhooks(scrape(client), "orders/create", "accepted") == 0

    signals.close()

    assert redis_state.is_pending(redis, big) and redis_state.is_pending(redis, small)
    assert sorted(args[0] for _, args, _ in run_queued(app)) == sorted([big, small])
    assert set(inbox(app).values()) == {("done", 1)}
    samples = scrape(client)
    assert webhooks(samples, "orders/create", "accepted") == 6
    assert webhooks(samples, "orders/create", "duplicate") == 1
    assert webhooks(samples, "orders/create", "ignored") == 1  # the unknown shop


def test_the_sending_thread_signals_without_being_asked(app, client, shop):
    store_id = add_store(app, shop)
    signals = gathering(app, 0.01)
    redis = app.extensions["redis"]
    deliver(client, "orders/create", order_payload(1, created=days_ago(1)), "t1")
    deadline = time.monotonic() + 10
    while redis.llen("realtime") == 0 and time.monotonic() < deadline:
        time.sleep(0.01)  # waits for an outcome, bounded; nothing depends on how long
    signals.close()
    assert [args for _, args, _ in run_queued(app)] == [[store_id]]
    assert inbox(app) == {"t1": ("done", 1)}


def test_with_redis_down_the_rows_stay_for_the_sweeper_and_nothing_raises(app, client, shop,
                                                                          caplog):
    store_id = add_store(app, shop)
    signals = gathering(app, 3600)
    deliver(client, "orders/create", order_payload(1, created=days_ago(1)), "r1")
    good = app.extensions["redis"]
    app.extensions["redis"] = good.from_url(CLOSED_PORT_URL)
    try:
        signals.close()
    finally:
        app.extensions["redis"] = good
    assert "committed but not signalled: ConnectionError" in caplog.text
    assert not redis_state.is_pending(good, store_id) and good.llen("realtime") == 0
    app.config["INBOX_SWEEP_AFTER_SECONDS"] = -1
    from tasks.sweep import sweep_inbox

    sweep_inbox.apply()
    run_queued(app)
    assert inbox(app) == {"r1": ("done", 1)}
