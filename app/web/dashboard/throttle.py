"""Sign-in throttling: failed attempts back off per account, per client address and per pair.

Each failure counts against three keys in Redis: the (account, address) pair, the address and
the account. Once a key has used its free failures, each further one doubles its wait (30 s,
60 s, 120 s, ..., at most ``MAX_WAIT_SECONDS``); while any key waits, attempts are answered 429 with
``Retry-After`` before the password hash is even computed. Counts fade after an hour without
failures, and a success clears the pair, so a real user is delayed, never locked out for good:
an attacker at another address only reaches the account key, whose allowance is much larger.
When Redis is unreachable sign-in is not throttled (logged), rather than impossible.
"""

from __future__ import annotations

import hashlib
import logging

from flask import current_app
from redis.exceptions import RedisError

from app.ingest.upsert import email_key

log = logging.getLogger(__name__)

FAILURE_MEMORY_SECONDS = 3600
FIRST_WAIT_SECONDS = 30
MAX_WAIT_SECONDS = 900
FREE_FAILURES = {"pair": 5, "address": 30, "account": 100}


def _keys(account: str | None, address: str) -> dict[str, str]:
    keys = {"address": f"tw:login:address:{address}"}
    if account:
        name = hashlib.sha256(email_key(account).encode()).hexdigest()[:32]
        keys |= {"pair": f"tw:login:pair:{name}:{address}", "account": f"tw:login:account:{name}"}
    return keys


def retry_after(account: str | None, address: str) -> int | None:
    """Seconds before this account may try again from this address; None: try now."""
    redis = current_app.extensions["redis"]
    try:
        waits = [redis.ttl(f"{key}:wait") for key in _keys(account, address).values()]
    except RedisError as exc:
        log.warning("sign-in throttle unavailable: %s", type(exc).__name__)
        return None
    longest = max(waits)
    return longest if longest > 0 else None


def record_failure(account: str | None, address: str) -> None:
    """Count a failed attempt; start or double the wait of every key past its allowance."""
    redis = current_app.extensions["redis"]
    try:
        for kind, key in _keys(account, address).items():
            failures = redis.incr(key)
            redis.expire(key, FAILURE_MEMORY_SECONDS)
            over = failures - FREE_FAILURES[kind]
            if over >= 0:
                wait = FIRST_WAIT_SECONDS * 2 ** min(over, 10)
                redis.set(f"{key}:wait", 1, ex=min(MAX_WAIT_SECONDS, wait))
    except RedisError as exc:
        log.warning("sign-in failure not counted: %s", type(exc).__name__)


def record_success(account: str | None, address: str) -> None:
    """Forget this pair's failures (the address and account counts fade on their own)."""
    key = _keys(account, address).get("pair")
    if key is None:
        return
    try:
        current_app.extensions["redis"].delete(key, f"{key}:wait")
    except RedisError as exc:
        log.warning("sign-in success not recorded: %s", type(exc).__name__)
