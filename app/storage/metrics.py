"""The operator's metrics: event counters in Redis, gauges read from SQL when scraped.

Several gunicorn workers and Celery workers (possibly on other hosts) all count events, so a
per-process ``prometheus_client`` registry would show each scrape a different worker's share.
Instead every event counter lives in Redis (``HINCRBY`` on one hash per metric, one field per
label set) and every gauge is read from SQL at scrape time; the scrape builds the exposition
from those with a custom collector. A Redis flush looks to Prometheus like a counter reset,
which ``rate()`` handles. Counting never breaks the work it counts: a Redis error is logged
and the event goes uncounted. ``app.web.metrics`` serves the exposition.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from flask import Flask, current_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError
from sqlalchemy import func, select

from app.storage.db import utcnow
from app.storage.models import INBOX_PARKED, INBOX_PENDING, InboxEvent, Order, Store

log = logging.getLogger(__name__)
KEY_PREFIX = "tw:metrics:"
LABEL_SEPARATOR = "\x1f"  # never part of a label value we count

# name -> (help, label names); every counter is exported with the ``_total`` suffix.
COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "tagwise_webhooks": ("Webhook deliveries answered, by platform, topic and outcome",
                         ("platform", "topic", "outcome")),
    "tagwise_sync_requests": ("HTTP requests sent to destinations, by kind and status class",
                              ("kind", "status")),
    "tagwise_sync_changes": ("Customer changes written to destinations, by kind and outcome",
                             ("kind", "outcome")),
    "tagwise_sync_throttle_waits": ("Waits for a destination's rate limit, by kind",
                                    ("kind",)),
    "tagwise_sync_throttle_wait_seconds": ("Seconds spent waiting for rate limits, by kind",
                                           ("kind",)),
    "tagwise_sync_holds": ("Syncs held by the safety brake, and decisions on them",
                           ("kind", "event")),
    "tagwise_rescore_seconds": ("Seconds spent rescoring, by store", ("store",)),
    "tagwise_rescores": ("Rescores finished, by store", ("store",)),
    "tagwise_alerts": ("Alert messages sent, by alert kind and state", ("alert", "state")),
}



def count(name: str, labels: tuple[str, ...], amount: float = 1) -> None:
    """Add ``amount`` to a counter (label values in the order COUNTERS declares them)."""
    try:
        redis = current_app.extensions["redis"]
        count_in(redis, name, labels, amount)
    except (RedisError, OSError) as exc:
        log.warning("metric %s not counted: %s", name, type(exc).__name__)


def count_in(client: Redis | Pipeline, name: str, labels: tuple[str, ...],
             amount: float = 1) -> None:
    """``count`` on a given client or pipeline (a pipeline sends it with its other commands;
    its caller handles Redis errors)."""
    assert len(labels) == len(COUNTERS[name][1]), name
    client.hincrbyfloat(KEY_PREFIX + name, LABEL_SEPARATOR.join(labels), amount)


class TagwiseCollector:
    """Counters from Redis and gauges from SQL, read when Prometheus scrapes."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self) -> Iterator[Metric]:
        """Every metric family, freshly read."""
        yield from self._counters()
        yield from self._gauges()

    def _counters(self) -> Iterator[Metric]:
        redis = self.app.extensions["redis"]
        pipe = redis.pipeline(transaction=False)
        for name in COUNTERS:
            pipe.hgetall(KEY_PREFIX + name)
        for (name, (help_text, label_names)), values in zip(COUNTERS.items(), pipe.execute(),
                                                            strict=True):
            family = CounterMetricFamily(name, help_text, labels=label_names)
            for field, value in sorted(values.items()):
                family.add_metric(field.decode().split(LABEL_SEPARATOR), float(value))
            yield family

    def _gauges(self) -> Iterator[Metric]:
        with self.app.extensions["db"].session() as session:
            inbox = session.execute(
                select(InboxEvent.source, InboxEvent.status, func.count())
                .where(InboxEvent.status.in_((INBOX_PENDING, INBOX_PARKED)))
                .group_by(InboxEvent.source, InboxEvent.status)).all()
            oldest: datetime | None = session.execute(
                select(func.min(InboxEvent.received_at))
                .where(InboxEvent.status == INBOX_PENDING)).scalar()
            orders = session.execute(
                select(Store.platform, func.count()).join(Order, Order.store_id == Store.id)
                .group_by(Store.platform)).all()
        events = GaugeMetricFamily("tagwise_inbox_events",
                                   "Inbox events waiting (pending) or needing a replay (parked)",
                                   labels=("platform", "status"))
        for platform, status, n in inbox:
            events.add_metric((platform, status), n)
        yield events
        lag = utcnow() - oldest if oldest else None
        yield GaugeMetricFamily("tagwise_ingest_lag_seconds",
                                "Age of the oldest pending inbox event (0 when none)",
                                value=lag.total_seconds() if lag else 0.0)
        stored = GaugeMetricFamily("tagwise_orders_processed",
                                   "Orders ingested and stored, by platform",
                                   labels=("platform",))
        for platform, n in orders:
            stored.add_metric((platform,), n)
        yield stored
