"""Vendor rate limits shared by every worker process, kept in Redis.

One :class:`RedisRateGovernor` per vendor account (``scope``). Before each request it asks
Redis, atomically, whether the request may go now:

- not while a 429's ``Retry-After`` runs (any process that drew it blocks them all);
- not when the budget the vendor advertised (Klaviyo's ``RateLimit-Remaining`` for the
  steady window, decremented here by every request sent since) is spent before its
  ``RateLimit-Reset``;
- not beyond the documented burst of the current second;
- not beyond the number of connections open at once (Mailchimp's 10 per user), held as
  leases that expire, so a process that dies does not keep its slot.

Otherwise it waits (the injected ``sleep``) and asks again. Nothing is dropped: a request
that still draws a 429 is retried by :class:`connectors.base.ApiClient` as before.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping

import redis

from connectors.base import RateBucket, parse_retry_after

LEASE_SECONDS = 150  # longer than any request may take (Mailchimp times out at 120 s)
WAIT_WHEN_FULL_SECONDS = 0.05  # a connection slot frees when another request ends

# State lives an hour after its last use. KEYS: state hash, lease zset. ARGV: now, burst
# (0 = none), max concurrent (0 = none), lease token, lease seconds, poll seconds.
# Returns "0" (go) or the seconds to wait.
_BEFORE = """
local now = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local concurrent = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'blocked_until', 'remaining', 'reset_at',
                         'second', 'used')
local blocked_until = tonumber(state[1]) or 0
if blocked_until > now then return tostring(blocked_until - now) end
local remaining = tonumber(state[2])
local reset_at = tonumber(state[3]) or 0
local steady = remaining ~= nil and reset_at > now
if steady and remaining <= 0 then return tostring(reset_at - now) end
local second = math.floor(now)
local used = 0
if tonumber(state[4]) == second then used = tonumber(state[5]) or 0 end
if burst > 0 and used >= burst then return tostring(second + 1 - now) end
if concurrent > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
  if redis.call('ZCARD', KEYS[2]) >= concurrent then return ARGV[6] end
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), ARGV[4])
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[5]))
end
redis.call('HSET', KEYS[1], 'second', second, 'used', used + 1)
if steady then redis.call('HSET', KEYS[1], 'remaining', remaining - 1) end
redis.call('EXPIRE', KEYS[1], 3600)
return '0'
"""

# KEYS: state hash, lease zset. ARGV: now, lease token, retry after ("" = none),
# remaining ("" = none), reset seconds ("" = none).
_AFTER = """
local now = tonumber(ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[2])
if ARGV[3] ~= '' then
  local until_ = now + tonumber(ARGV[3])
  local current = tonumber(redis.call('HGET', KEYS[1], 'blocked_until')) or 0
  if until_ > current then redis.call('HSET', KEYS[1], 'blocked_until', tostring(until_)) end
end
if ARGV[4] ~= '' and ARGV[5] ~= '' then
  local remaining = tonumber(ARGV[4])
  local reset_at = now + tonumber(ARGV[5])
  local state = redis.call('HMGET', KEYS[1], 'remaining', 'reset_at')
  local known = tonumber(state[1])
  local known_reset = tonumber(state[2]) or 0
  -- Within one window the budget only shrinks: an answer that left before requests other
  -- processes have sent since must not hand their share back.
  if known ~= nil and math.abs(reset_at - known_reset) < 1 and known < remaining then
    remaining = known
    reset_at = known_reset
  end
  redis.call('HSET', KEYS[1], 'remaining', remaining, 'reset_at', tostring(reset_at))
end
redis.call('EXPIRE', KEYS[1], 3600)
return 0
"""


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        return ""
    try:
        # "RateLimit-Remaining: 12" (Klaviyo sends plain integers); anything else is ignored.
        return str(max(0.0, float(value.split(",")[0].split(";")[0])))
    except ValueError:
        return ""


class RedisRateGovernor:
    """A :class:`connectors.base.RateGovernor` whose state every process shares via Redis."""

    def __init__(self, client: redis.Redis, scope: str, *,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep):
        self.client = client
        self.scope = scope
        self.clock = clock
        self.sleep = sleep
        self.waited_seconds = 0.0
        self._before = client.register_script(_BEFORE)
        self._after = client.register_script(_AFTER)

    def _keys(self, bucket: RateBucket) -> list[str]:
        base = f"tw:rate:{self.scope}:{bucket.name}"
        return [base, f"{base}:leases"]

    def before(self, bucket: RateBucket) -> str:
        """Block until a request in ``bucket`` may be sent; return its lease."""
        lease = uuid.uuid4().hex
        while True:
            wait = float(self._before(keys=self._keys(bucket), args=[
                repr(self.clock()), bucket.burst_per_second or 0, bucket.max_concurrent or 0,
                lease, LEASE_SECONDS, WAIT_WHEN_FULL_SECONDS]))
            if wait <= 0:
                return lease
            self.waited_seconds += wait
            self.sleep(wait)

    def after(self, bucket: RateBucket, lease: str, status: int | None,
              headers: Mapping[str, str]) -> None:
        """Free the lease; remember a 429's Retry-After and the advertised budget."""
        retry_after = ""
        if status == 429:
            seconds = parse_retry_after(headers.get("Retry-After"))
            retry_after = repr(1.0 if seconds is None else seconds)
        self._after(keys=self._keys(bucket), args=[
            repr(self.clock()), lease, retry_after,
            _header(headers, "RateLimit-Remaining"), _header(headers, "RateLimit-Reset")])

    def budget_low(self, bucket: RateBucket) -> bool:
        """True while the bucket waits out a 429, has less than a second's burst left of its
        advertised budget, or has every connection taken."""
        base, leases = self._keys(bucket)
        blocked_until, remaining, reset_at = self.client.hmget(
            base, "blocked_until", "remaining", "reset_at")
        now = self.clock()
        if blocked_until is not None and float(blocked_until) > now:
            return True
        if bucket.max_concurrent and self.client.zcount(leases, now, "+inf") >= \
                bucket.max_concurrent:
            return True
        if remaining is None or reset_at is None or float(reset_at) <= now:
            return False
        return float(remaining) < (bucket.burst_per_second or 1)
