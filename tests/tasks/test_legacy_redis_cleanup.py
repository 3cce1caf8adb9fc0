"""The profile hashes earlier versions kept in Redis (``tw:p:<store>:<customer>``) are deleted
once after an upgrade — by ``tagwise db upgrade`` or the daily upkeep — and nothing else is."""

from __future__ import annotations

from app.storage.redis_state import LEGACY_PROFILES_DROPPED_KEY


def _legacy_hashes(redis, count: int) -> None:
    pipe = redis.pipeline()
    for customer_id in range(count):
        pipe.hset(f"tw:p:1:{customer_id}", mapping={"r_score": 5, "segments": "tw:champions"})
    pipe.execute()


def test_the_upkeep_deletes_every_legacy_profile_hash_once_and_keeps_other_keys(app):
    from tasks.retention import drop_legacy_profile_hashes

    redis = app.extensions["redis"]
    _legacy_hashes(redis, 2_345)  # more than one scan-and-unlink batch
    redis.sadd("tw:pending-stores", 1)
    redis.set("tw:product-category:1", "{}")
    assert drop_legacy_profile_hashes.apply().get() == 2_345
    assert list(redis.scan_iter(match="tw:p:*")) == []
    assert redis.sismember("tw:pending-stores", 1) and redis.exists("tw:product-category:1")
    _legacy_hashes(redis, 1)  # a key written later is not an earlier version's
    assert drop_legacy_profile_hashes.apply().get() is None


def test_db_upgrade_deletes_them_and_runs_daily_on_the_bulk_queue(app):
    redis = app.extensions["redis"]
    _legacy_hashes(redis, 3)
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "deleted 3 profile hashes earlier versions kept in Redis" in result.output
    assert redis.exists(LEGACY_PROFILES_DROPPED_KEY)
    celery = app.extensions["celery"]
    entry = celery.conf.beat_schedule["drop-legacy-profile-hashes"]
    assert entry["task"] == "tasks.retention.drop_legacy_profile_hashes"
    assert celery.amqp.router.route({}, entry["task"])["queue"].name == "bulk"
