"""The Redis rate governor: vendor limits held across worker processes, against real Redis.

Each governor instance stands for one worker process; they share nothing but Redis. Time is
the Klaviyo stand-in's injected clock, so windows pass without sleeping.
"""

from __future__ import annotations

import pytest

from app.storage.rate_governor import LEASE_SECONDS, WAIT_WHEN_FULL_SECONDS, RedisRateGovernor
from connectors.base import RateBucket, RetryPolicy
from connectors.klaviyo import KlaviyoClient, KlaviyoWriter
from connectors.mailchimp.client import CONNECTIONS_BUCKET
from tests.connectors.changes import change
from tests.standins.klaviyo import KlaviyoStandin
from tests.standins.server import serving

API_KEY = "pk_test_governed"
PROFILE_IMPORT = RateBucket("profile-import", burst_per_second=75)


@pytest.fixture
def klaviyo():
    standin = KlaviyoStandin(API_KEY)
    with serving(standin) as url:
        standin.url = url
        yield standin


def process_writer(app, standin: KlaviyoStandin, governed: bool) -> KlaviyoWriter:
    """A writer as one worker process builds it: its own client, its own governor object."""
    governor = RedisRateGovernor(app.extensions["redis"], "klaviyo:account-1",
                                 clock=lambda: standin.now, sleep=standin.advance)
    client = KlaviyoClient(API_KEY, base_url=standin.url,
                           policy=RetryPolicy(sleep=standin.advance),
                           governor=governor if governed else None)
    return KlaviyoWriter(client, sleep=standin.advance, clock=lambda: standin.now)


def stream(writers: list[KlaviyoWriter]) -> list[str]:
    """Three processes take turns sending 40 single profile imports each, twice (240 > 75/s)."""
    statuses = []
    for round_ in range(2):
        for index, writer in enumerate(writers):
            first = 1 + 40 * (round_ * len(writers) + index)
            batch = [change(i) for i in range(first, first + 40)]
            statuses += [outcome.status for outcome in writer.write(batch)]
    return statuses


def test_processes_sharing_a_governor_stay_under_klaviyos_burst(app, klaviyo):
    writers = [process_writer(app, klaviyo, governed=True) for _ in range(3)]

    statuses = stream(writers)

    assert set(statuses) == {"ok"} and len(klaviyo.profiles) == 240
    assert klaviyo.throttled == 0
    assert klaviyo.counts["POST profile_import"] == 240  # nothing sent twice
    assert klaviyo.now >= 3  # 240 requests at 75 a second took at least three windows


def test_without_the_governor_the_same_stream_draws_429s_but_loses_nothing(app, klaviyo):
    writers = [process_writer(app, klaviyo, governed=False) for _ in range(3)]

    statuses = stream(writers)

    assert set(statuses) == {"ok"} and len(klaviyo.profiles) == 240
    assert klaviyo.throttled > 0


def test_a_429_seen_by_one_process_holds_back_the_others(app):
    now = [100.0]
    slept: list[float] = []
    first = RedisRateGovernor(app.extensions["redis"], "klaviyo:a", clock=lambda: now[0])
    second = RedisRateGovernor(app.extensions["redis"], "klaviyo:a", clock=lambda: now[0],
                               sleep=lambda s: (slept.append(s), now.__setitem__(0, now[0] + s)))

    first.after(PROFILE_IMPORT, first.before(PROFILE_IMPORT), 429, {"Retry-After": "7"})
    second.before(PROFILE_IMPORT)

    assert slept == [pytest.approx(7.0)]


def test_the_advertised_steady_budget_is_spent_across_processes(app):
    now = [10.0]
    slept: list[float] = []
    sleep = lambda s: (slept.append(s), now.__setitem__(0, now[0] + s))  # noqa: E731
    first = RedisRateGovernor(app.extensions["redis"], "klaviyo:b", clock=lambda: now[0],
                              sleep=sleep)
    second = RedisRateGovernor(app.extensions["redis"], "klaviyo:b", clock=lambda: now[0],
                               sleep=sleep)
    headers = {"RateLimit-Limit": "750", "RateLimit-Remaining": "2", "RateLimit-Reset": "30"}
    first.after(PROFILE_IMPORT, first.before(PROFILE_IMPORT), 200, headers)

    second.before(PROFILE_IMPORT)
    first.before(PROFILE_IMPORT)
    assert slept == [] and second.budget_low(PROFILE_IMPORT)
    # A late answer still advertising 2 left must not hand back what was spent since.
    first.after(PROFILE_IMPORT, "late", 200, headers)
    second.before(PROFILE_IMPORT)

    assert slept == [pytest.approx(30.0)]  # waited for the window to reset


def test_mailchimp_connections_are_capped_at_ten_across_processes(app):
    redis = app.extensions["redis"]
    now = [0.0]
    holder = RedisRateGovernor(redis, "mailchimp:c", clock=lambda: now[0])
    leases = [holder.before(CONNECTIONS_BUCKET) for _ in range(10)]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        holder.after(CONNECTIONS_BUCKET, leases.pop(), 200, {})  # one request ends

    other = RedisRateGovernor(redis, "mailchimp:c", clock=lambda: now[0], sleep=sleep)
    other.before(CONNECTIONS_BUCKET)

    assert waits == [WAIT_WHEN_FULL_SECONDS]  # the eleventh waited for a slot
    assert redis.zcard("tw:rate:mailchimp:c:connections:leases") == 10


def test_a_dead_process_lease_expires(app):
    redis = app.extensions["redis"]
    now = [0.0]
    dead = RedisRateGovernor(redis, "mailchimp:d", clock=lambda: now[0])
    for _ in range(10):
        dead.before(CONNECTIONS_BUCKET)  # never handed back
    now[0] = LEASE_SECONDS + 1
    waits: list[float] = []
    alive = RedisRateGovernor(redis, "mailchimp:d", clock=lambda: now[0], sleep=waits.append)

    alive.before(CONNECTIONS_BUCKET)

    assert waits == []


def test_the_governor_learns_the_budget_klaviyo_advertises(app, klaviyo):
    writer = process_writer(app, klaviyo, governed=True)

    writer.write([change(i) for i in range(1, 4)])

    state = app.extensions["redis"].hgetall("tw:rate:klaviyo:account-1:profile-import")
    assert float(state[b"remaining"]) == 750 - 3  # RateLimit-Remaining of the steady window
    assert float(state[b"reset_at"]) == 60  # RateLimit-Reset: the minute's window ends at 60 s
