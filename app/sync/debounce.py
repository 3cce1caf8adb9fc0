"""The adaptive debounce: when a destination's pending changes go out, and when they wait.

A debounced run sends what is pending SYNC_DEBOUNCE_SECONDS after the first change. When
changes arrive sparsely, each run would hold a handful and a bulk-capable destination would
pay per change (one Klaviyo profile-import each, where one bulk job carries 10,000). So a run
lets the pending set grow while it is smaller than the destination's ``bulk_from`` and still
growing (when arrivals have stopped, waiting gains nothing), or while the destination's rate
budget is low, but never past SYNC_MAX_DELAY_SECONDS after the oldest pending change. A run
in flight takes only what was pending when it started; what arrives meanwhile gathers for the
next run. Destinations with ``bulk_from`` 0 (the store's own tags)
never wait beyond the debounce.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Pending:
    """What waits for one destination when its debounced run comes due."""

    count: int  # customers in the dirty set
    oldest_age_seconds: float  # since the oldest of them was marked
    budget_low: bool = False  # the vendor's advertised budget is nearly spent, or a 429 runs
    growing: bool = True  # more than at the previous look (or the first look)


def hold_seconds(pending: Pending, *, bulk_from: int, debounce_seconds: float,
                 max_delay_seconds: float) -> float:
    """Seconds to let the pending set grow before sending it; 0 means send it now."""
    if pending.count == 0:
        return 0.0
    worth_waiting = pending.budget_low or (pending.count < bulk_from and pending.growing)
    left = max_delay_seconds - pending.oldest_age_seconds
    if not worth_waiting or left <= 0:
        return 0.0
    return min(max(debounce_seconds, 0.5), left)
