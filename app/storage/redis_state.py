"""What the workers coordinate through in Redis: dirty sets for debounced sync, and the live
path's per-store pending marks and drain locks.

Nothing here is the only copy of anything: profiles live in SQL only, a lost dirty set is
caught by the periodic full comparison of wanted and confirmed tags, a lost pending mark by
the sweeper.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import redis


def dirty_key(destination_id: int) -> str:
    """Redis set of customer ids waiting to be synced to a destination."""
    return f"tw:dirty:{destination_id}"


def scheduled_key(destination_id: int) -> str:
    """Flag set while a debounced sync of a destination is already queued."""
    return f"tw:sync-scheduled:{destination_id}"


def mark_dirty(client: redis.Redis, destination_id: int, customer_ids: Iterable[int],
               debounce_seconds: float) -> bool:
    """Add customers to the dirty set; True when the caller must schedule the sync."""
    ids = [str(c) for c in customer_ids]
    if not ids:
        return False
    pipe = client.pipeline()
    pipe.sadd(dirty_key(destination_id), *ids)
    pipe.set(scheduled_key(destination_id), "1", nx=True, ex=int(debounce_seconds) + 300)
    _, first = pipe.execute()
    return bool(first)


def take_dirty(client: redis.Redis, destination_id: int, limit: int) -> list[int]:
    """Pop up to ``limit`` dirty customer ids."""
    return sorted(int(v) for v in client.spop(dirty_key(destination_id), limit) or [])


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


def release_drain_lock(client: redis.Redis, store_id: int, token: str) -> None:
    """Release the lock if it is still ours (an expired lock may have passed to another)."""
    client.eval(_RELEASE_IF_OURS, 1, drain_lock_key(store_id), token)
