"""The hot copies in Redis: profile hashes for fast reads, dirty sets for debounced sync, and
the live path's per-store pending marks and drain locks.

Nothing here is the only copy: profiles rebuild from SQL, and a lost dirty set is caught by
the periodic full comparison of wanted and confirmed tags.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import redis

# Short field names, and one ``s:<segment key>`` field per segment (a comma-joined list
# outgrows Redis's hash-max-listpack-value of 64 bytes and turns the hash into a hashtable of
# ~780 bytes): every value stays short, so the hash keeps the compact listpack encoding.
HOT_FIELDS = {
    "orders_count": "oc", "net_spent": "ns", "last_order_at": "lo", "r_score": "r",
    "f_score": "f", "m_score": "m", "rfm_group": "g", "lifecycle_stage": "lc",
    "p_alive": "pa", "predicted_clv_12m": "clv", "churn_risk": "cr", "value_tier": "vt",
}
SEGMENT_PREFIX = "s:"
HOT_COLUMNS = (*HOT_FIELDS, "segment_keys")  # the profile values a hot hash is built from
SAVE_BLOCK_PROFILES = 2000  # profiles whose hashes one pipeline round trip replaces
EXISTS_BLOCK = 1000  # keys counted by one EXISTS in missing_profiles


def profile_key(store_id: int, customer_id: int) -> str:
    """Redis key of a customer's hot profile."""
    return f"tw:p:{store_id}:{customer_id}"


def _encode(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return str(int(value.timestamp()))
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def save_profiles(client: redis.Redis, store_id: int,
                  profiles: Mapping[int, Mapping[str, Any]]) -> None:
    """Replace the hot hash of each profile (one pipeline round trip per
    ``SAVE_BLOCK_PROFILES``: a whole store's commands are never all in memory at once)."""
    pipe = client.pipeline(transaction=False)
    for n, (customer_id, profile) in enumerate(profiles.items(), start=1):
        mapping = {short: _encode(profile.get(name)) for name, short in HOT_FIELDS.items()}
        mapping.update({SEGMENT_PREFIX + key: "" for key in profile.get("segment_keys") or ()})
        key = profile_key(store_id, customer_id)
        pipe.delete(key)  # drops the fields of segments the customer left
        pipe.hset(key, mapping=mapping)
        if n % SAVE_BLOCK_PROFILES == 0:
            pipe.execute()
    pipe.execute()


def missing_profiles(client: redis.Redis, store_id: int,
                     customer_ids: Iterable[int]) -> list[int]:
    """The customers among ``customer_ids`` without a hot hash (lost or never written).

    One ``EXISTS`` counts a whole block of keys; only a block that falls short is looked at
    key by key, so the common case (nothing lost) costs one command per block.
    """
    ids = list(customer_ids)
    blocks = [ids[i:i + EXISTS_BLOCK] for i in range(0, len(ids), EXISTS_BLOCK)]
    pipe = client.pipeline(transaction=False)
    for block in blocks:
        pipe.exists(*(profile_key(store_id, c) for c in block))
    short = [block for block, found in zip(blocks, pipe.execute(), strict=True)
             if found < len(block)]
    missing = []
    for block in short:
        for customer_id in block:
            pipe.exists(profile_key(store_id, customer_id))
        missing.extend(c for c, present in zip(block, pipe.execute(), strict=True)
                       if not present)
    return missing


def read_profile(client: redis.Redis, store_id: int, customer_id: int) -> dict[str, str]:
    """The hot hash with its long field names, segment keys comma-joined (empty when absent)."""
    raw = {k.decode(): v.decode() for k, v in client.hgetall(
        profile_key(store_id, customer_id)).items()}
    if not raw:
        return {}
    names = {short: name for name, short in HOT_FIELDS.items()}
    profile = {names[k]: v for k, v in raw.items() if k in names}
    profile["segment_keys"] = ",".join(sorted(
        k.removeprefix(SEGMENT_PREFIX) for k in raw if k.startswith(SEGMENT_PREFIX)))
    return profile


def forget_profiles(client: redis.Redis, store_id: int, customer_ids: Iterable[int]) -> None:
    """Drop hot hashes (customer redacted or deleted)."""
    keys = [profile_key(store_id, c) for c in customer_ids]
    if keys:
        client.delete(*keys)


def forget_store(client: redis.Redis, store_id: int) -> None:
    """Drop every hot hash of a store (shop redacted)."""
    for key in client.scan_iter(f"tw:p:{store_id}:*"):
        client.delete(key)


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
