"""What the workers coordinate through in Redis: dirty sets for debounced sync, and the live
path's per-store pending marks and drain locks.

Nothing here is the only copy of anything: profiles live in SQL only, a lost dirty set is
caught by the periodic full comparison of wanted and confirmed tags, a lost pending mark by
the sweeper.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

import redis


def dirty_key(destination_id: int) -> str:
    """Redis set of customer ids waiting to be synced to a destination."""
    return f"tw:dirty:{destination_id}"


def scheduled_key(destination_id: int) -> str:
    """Flag set while a debounced sync of a destination is already queued."""
    return f"tw:sync-scheduled:{destination_id}"


def dirty_since_key(destination_id: int) -> str:
    """When (epoch seconds) the oldest change in a destination's dirty set was marked."""
    return f"tw:dirty-since:{destination_id}"


def mark_dirty(client: redis.Redis, destination_id: int, customer_ids: Iterable[int],
               debounce_seconds: float) -> bool:
    """Add customers to the dirty set; True when the caller must schedule the sync."""
    ids = [str(c) for c in customer_ids]
    if not ids:
        return False
    pipe = client.pipeline()
    pipe.sadd(dirty_key(destination_id), *ids)
    pipe.set(dirty_since_key(destination_id), repr(time.time()), nx=True)
    pipe.set(scheduled_key(destination_id), "1", nx=True, ex=int(debounce_seconds) + 300)
    *_, first = pipe.execute()
    return bool(first)


def mark_scheduled(client: redis.Redis, destination_id: int, countdown_seconds: float) -> None:
    """Note that a sync of the destination is queued (so new changes do not queue another)."""
    client.set(scheduled_key(destination_id), "1", ex=int(countdown_seconds) + 300)


def dirty_age_seconds(client: redis.Redis, destination_id: int) -> float:
    """Seconds since the oldest change still waiting in the dirty set was marked (0 if none)."""
    since = client.get(dirty_since_key(destination_id))
    return max(0.0, time.time() - float(since)) if since else 0.0


def dirty_seen_key(destination_id: int) -> str:
    """How many changes waited when a run last chose to let them gather."""
    return f"tw:dirty-seen:{destination_id}"


def note_dirty_count(client: redis.Redis, destination_id: int, count: int) -> int | None:
    """Record how many changes wait now; return the count of the previous look, if any."""
    previous = client.set(dirty_seen_key(destination_id), count, ex=3600, get=True)
    return int(previous) if previous is not None else None


def taking_key(destination_id: int) -> str:
    """Redis set of the customers a sync run took when it began and has not sent yet (what a
    run that died midway left is taken first by the next)."""
    return f"tw:dirty-taking:{destination_id}"


def start_taking_dirty(client: redis.Redis, destination_id: int) -> int:
    """Begin a run: every waiting customer moves to the run's own set, at once, so what the run
    sends is what waited when it began, oldest change included (later changes wait in the
    dirty set for the next run, however the pops fall), and the age clock restarts; return
    how many the run takes."""
    pipe = client.pipeline()  # MULTI/EXEC: a change is either taken now or left for the next run
    pipe.delete(dirty_since_key(destination_id), dirty_seen_key(destination_id))
    pipe.sunionstore(taking_key(destination_id), taking_key(destination_id),
                     dirty_key(destination_id))
    pipe.delete(dirty_key(destination_id))
    return int(pipe.execute()[1])


def take_dirty(client: redis.Redis, destination_id: int, limit: int) -> list[int]:
    """Pop up to ``limit`` of the customers the run took (``start_taking_dirty``)."""
    return sorted(int(v) for v in client.spop(taking_key(destination_id), limit) or [])


# The live path's signals. A webhook adds its store to the pending set after committing the
# inbox row; one drain per store holds the drain lock while it takes a batch. Neither is the
# only record of work: the pending rows are in SQL, and the sweeper re-signals their stores.
PENDING_STORES_KEY = "tw:pending-stores"
_RELEASE_IF_OURS = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
                    "return redis.call('del', KEYS[1]) else return 0 end")


def drain_lock_key(store_id: int) -> str:
    """Redis key held (with an expiry) by the one drain working through a store's inbox."""
    return f"tw:drain:{store_id}"


def mark_pending(client: redis.Redis, store_id: int) -> bool:
    """Note that the store has committed, unprocessed events; True when it was not noted yet
    (the caller then queues a drain)."""
    return bool(client.sadd(PENDING_STORES_KEY, store_id))


def mark_pending_in(pipe: redis.client.Pipeline, store_id: int) -> None:
    """``mark_pending`` queued on a pipeline: its result (1 when the mark is new) comes back
    with the pipeline's, so the webhook sends it with its other Redis commands at once."""
    pipe.sadd(PENDING_STORES_KEY, store_id)


def unmark_pending(client: redis.Redis, store_id: int) -> None:
    """Clear the store's mark (a drain does this before it reads the inbox)."""
    client.srem(PENDING_STORES_KEY, store_id)


def is_pending(client: redis.Redis, store_id: int) -> bool:
    """Whether the store was marked since its mark was last cleared."""
    return bool(client.sismember(PENDING_STORES_KEY, store_id))


def take_drain_lock(client: redis.Redis, store_id: int, seconds: int) -> str | None:
    """The store's drain lock for ``seconds`` (a killed holder's lock expires), or None when
    another drain holds it. Returns the token that releases it."""
    token = uuid.uuid4().hex
    return token if client.set(drain_lock_key(store_id), token, nx=True, ex=seconds) else None


# Earlier versions kept a hot copy of every profile in a hash ``tw:p:<store>:<customer>``.
# Nothing reads them any more (profiles live in SQL only) and they would outlive a customer's
# redaction, so the first upkeep after an upgrade deletes them, once per Redis.
LEGACY_PROFILE_PATTERN = "tw:p:*"
LEGACY_PROFILES_DROPPED_KEY = "tw:legacy-profiles-dropped"


def drop_legacy_profile_hashes(client: redis.Redis, batch: int = 1000) -> int | None:
    """Delete the profile hashes earlier versions left behind; return how many went, or None
    when this Redis was cleaned before. The mark is set only once the scan has finished, so an
    interrupted clean-up is resumed by the next one."""
    if client.exists(LEGACY_PROFILES_DROPPED_KEY):
        return None
    dropped, keys = 0, []
    for key in client.scan_iter(match=LEGACY_PROFILE_PATTERN, count=batch):
        keys.append(key)
        if len(keys) == batch:
            dropped += client.unlink(*keys)
            keys = []
    if keys:
        dropped += client.unlink(*keys)
    client.set(LEGACY_PROFILES_DROPPED_KEY, "1")
    return dropped


def release_drain_lock(client: redis.Redis, store_id: int, token: str) -> None:
    """Release the lock if it is still ours (an expired lock may have passed to another)."""
    client.eval(_RELEASE_IF_OURS, 1, drain_lock_key(store_id), token)
