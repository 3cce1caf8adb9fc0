"""What a web process owes Redis after answering deliveries, sent together.

Every answered delivery is counted (``tagwise_webhooks``) and every committed inbox row marks
its store pending, so that one drain takes it (``tasks/ingest``). Sent per delivery, that was a
Redis round trip in each request, a fifth of the webhook's CPU in the web process. Instead each
process gathers them here and one background thread sends what gathered every
``WEBHOOK_SIGNAL_SECONDS`` (20 ms by default) in one pipeline: counts summed per label set,
each store marked once, a drain queued for each store whose mark is new. With 0 (the tests) the
answer sends them itself, as before.

Nothing is lost by the delay: the row is committed before it is signalled, and a signal that
never goes out (the process killed, Redis or the broker down) leaves a pending row that the
sweeper re-signals (``INBOX_SWEEP_AFTER_SECONDS``). A count that never goes out is only a count.
The answer never waits on Redis or the broker, whatever state they are in.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections import Counter

from flask import Flask
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

from app.ingest.inbox import queue_drain
from app.storage import redis_state
from app.storage.metrics import count_in

log = logging.getLogger(__name__)
METRIC = "tagwise_webhooks"


class Signals:
    """Counts by (platform, topic, outcome) and stores to mark pending, until ``flush``."""

    def __init__(self, app: Flask, seconds: float):
        self.app, self.seconds = app, seconds
        self._lock = threading.Lock()
        self._due = threading.Event()  # something gathered since the last flush
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._counts: Counter[tuple[str, str, str]] = Counter()
        self._stores: dict[int, int] = {}  # store id -> its latest inbox row (for the log)
        self._thread_pid: int | None = None  # the process the sending thread runs in

    def add(self, labels: tuple[str, str, str], store_id: int | None = None,
            inbox_id: int | None = None) -> None:
        """Note one answer, and its store's committed inbox row if any; send now when
        ``seconds`` is 0, else within ``seconds``."""
        with self._lock:
            self._counts[labels] += 1
            if store_id is not None:
                self._stores[store_id] = inbox_id
        if not self.seconds or self._closed.is_set():
            self.flush()
            return
        if self._thread_pid != os.getpid():  # first use in this process (a forked worker)
            self._start()
        self._due.set()

    def flush(self) -> None:
        """Send what gathered: one pipeline, then a drain for each store newly marked. What
        Redis or the broker refuses is logged, not raised, and left to the sweeper."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
            stores, self._stores = self._stores, {}
        if not counts and not stores:
            return
        redis = self.app.extensions["redis"]
        try:
            pipe = redis.pipeline(transaction=False)
            for labels, amount in counts.items():
                count_in(pipe, METRIC, labels, amount)
            for store_id in stores:
                redis_state.mark_pending_in(pipe, store_id)
            marked = pipe.execute()[len(counts):]
        except (RedisError, OSError) as exc:
            if stores:
                log.warning("inbox rows %s committed but not signalled: %s",
                            sorted(stores.values()), type(exc).__name__)
            else:
                log.warning("metric %s not counted: %s", METRIC, type(exc).__name__)
            return
        for store_id, new in zip(stores, marked, strict=True):
            if not new:  # marked already: its drain is on its way and will see the row
                continue
            try:
                with self.app.app_context():
                    queue_drain(redis, store_id)
            except (BrokerError, RedisError, OSError) as exc:
                # The row is committed: the sweeper signals its store once the broker is back.
                log.warning("inbox %s committed but not signalled: %s", stores[store_id],
                            type(exc).__name__)

    def close(self) -> None:
        """Stop the sending thread and send what gathered (a worker's orderly exit)."""
        self._closed.set()
        self._due.set()
        if self._thread is not None and self._thread_pid == os.getpid():
            self._thread.join()
        self.flush()

    def _start(self) -> None:
        with self._lock:
            if self._thread_pid == os.getpid():
                return
            self._thread_pid = os.getpid()
            self._thread = threading.Thread(target=self._send_forever, name="webhook-signals",
                                            daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def _send_forever(self) -> None:
        while not self._closed.is_set():
            self._due.wait()
            self._closed.wait(self.seconds)  # let the deliveries of the next moment join
            self._due.clear()  # before flush: what is added from here on sets it again
            try:
                self.flush()
            except Exception:  # the thread must outlive any one flush (an eager drain's bug)
                log.exception("webhook signals not sent")
