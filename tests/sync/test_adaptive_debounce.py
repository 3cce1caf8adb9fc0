"""The adaptive debounce: small pending sets gather for bulk destinations, within a bound;
the store's own tags never wait."""

from __future__ import annotations

from sqlalchemy import select

from app.storage import redis_state
from app.storage.models import Destination
from app.sync.debounce import Pending, hold_seconds
from tests.seeding import add_store, seed_orders, sync_dirty
from tests.standins.klaviyo import KlaviyoStandin
from tests.standins.server import serving

API_KEY = "pk_test_gather"
BOUNDS = {"bulk_from": 50, "debounce_seconds": 2.0, "max_delay_seconds": 15.0}


def test_a_small_young_set_waits_one_debounce_at_a_time():
    assert hold_seconds(Pending(10, 1.0), **BOUNDS) == 2.0
    assert hold_seconds(Pending(10, 14.0), **BOUNDS) == 1.0  # never past the bound


def test_a_set_large_enough_for_bulk_or_old_enough_goes_now():
    assert hold_seconds(Pending(50, 0.0), **BOUNDS) == 0.0
    assert hold_seconds(Pending(10, 15.0), **BOUNDS) == 0.0
    assert hold_seconds(Pending(0, 0.0), **BOUNDS) == 0.0


def test_a_small_set_that_stopped_growing_goes_now():
    assert hold_seconds(Pending(10, 4.0, growing=False), **BOUNDS) == 0.0


def test_a_low_budget_holds_even_a_large_set_within_the_bound():
    assert hold_seconds(Pending(500, 3.0, budget_low=True), **BOUNDS) == 2.0
    assert hold_seconds(Pending(500, 16.0, budget_low=True), **BOUNDS) == 0.0


def test_store_tags_never_wait():
    assert hold_seconds(Pending(1, 0.0), **{**BOUNDS, "bulk_from": 0}) == 0.0


def test_klaviyo_changes_gather_while_arriving_and_the_shop_is_tagged_at_once(
        app, client, seeded_shop):
    app.config["SYNC_MAX_DELAY_SECONDS"] = 15
    store_id = add_store(app, seeded_shop)
    standin = KlaviyoStandin(API_KEY)
    with serving(standin) as url:
        added = app.test_cli_runner().invoke(args=[
            "destinations", "add", "klaviyo", "--store", str(store_id), "--api-key", API_KEY,
            "--api-base-url", url, "--include-all"])
        assert added.exit_code == 0, added.output
        with app.extensions["db"].session() as session:
            klaviyo = session.execute(select(Destination).filter_by(kind="klaviyo")).scalar()
            klaviyo.mode = "live"
            klaviyo_id = klaviyo.id
        redis = app.extensions["redis"]

        seed_orders(client, app)  # nine customers change: marked dirty for both destinations
        sync_dirty(app)

        assert any(seeded_shop.tags_of(c) for c in ("7000", "7001"))  # tagged at once
        assert standin.total_requests() == 0  # 9 < 50 and younger than 15 s: gathering
        assert redis.scard(redis_state.dirty_key(klaviyo_id)) == 9
        assert redis.exists(redis_state.scheduled_key(klaviyo_id))  # its next run is queued

        # The next look finds nothing new: waiting gains nothing, all of it goes out, once.
        sync_dirty(app)

        assert standin.counts["POST profile_import"] == 9
        assert len(standin.profiles) == 9
        assert redis.scard(redis_state.dirty_key(klaviyo_id)) == 0
        sync_dirty(app)
        assert standin.counts["POST profile_import"] == 9  # nothing sent twice
