"""The store each webhook is for, remembered briefly per process: a delivery costs no store
lookup while its store was looked up in the last ``STORE_CACHE_SECONDS``.

What a stale entry can do, and why it is bounded:

- a store's secret changed (``tagwise stores add`` again, a reinstall): a delivery signed with
  the new secret fails against the remembered one, so the view looks the store up again at once
  (``fresh=True``) and accepts it; one signed with the old secret is still accepted for at most
  ``STORE_CACHE_SECONDS`` in each web process;
- a store deleted (``shop/redact``): its inbox insert fails on the foreign key, the view looks
  again and answers as for an unknown store;
- unknown keys are never remembered (a miss is looked up every time), so a caller inventing shop
  domains or store ids cannot grow the cache; it holds at most ``STORE_CACHE_SIZE`` entries,
  the oldest dropped first. Nothing here ever accepts a delivery: every one is verified against
  the secret of a store that existed at most ``STORE_CACHE_SECONDS`` ago.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Row
from sqlalchemy.sql import Select

from app.storage.db import Database

STORE_CACHE_SECONDS = 5.0
STORE_CACHE_SIZE = 10_000


class RecentStores:
    """Store rows (as the webhook views select them) by statement and parameters, each kept for
    ``seconds``; only rows that exist are kept."""

    def __init__(self, seconds: float = STORE_CACHE_SECONDS, size: int = STORE_CACHE_SIZE,
                 clock: Callable[[], float] = time.monotonic):
        self.seconds, self.size, self.clock = seconds, size, clock
        self._rows: dict[tuple, tuple[float, Row]] = {}
        self._lock = threading.Lock()

    def find(self, db: Database, statement: Select, params: dict[str, Any],
             fresh: bool = False) -> Row | None:
        """The store row ``statement`` selects, from memory unless ``fresh`` or too old (a
        connection is taken from the pool only then)."""
        key = (statement, *sorted(params.items()))
        now = self.clock()
        hit = None if fresh else self._rows.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        with db.engine.connect() as connection:
            row = connection.execute(statement, params).first()
        with self._lock:
            self._rows.pop(key, None)
            if row is not None:
                if len(self._rows) >= self.size:
                    del self._rows[next(iter(self._rows))]  # the oldest entry
                self._rows[key] = (now + self.seconds, row)
        return row

    def find_verified(self, db: Database, statement: Select, params: dict[str, Any],
                      verify: Callable[[Row | None], bool]) -> tuple[Row | None, bool]:
        """The store row and whether ``verify`` accepts the delivery with it. A remembered row
        that fails is looked up again before the delivery is refused: its secret may have
        changed since it was remembered."""
        store = self.find(db, statement, params)
        if verify(store):
            return store, True
        if store is None:  # nothing remembered: the lookup was fresh already
            return None, False
        store = self.find(db, statement, params, fresh=True)
        return store, verify(store)

    def __len__(self) -> int:
        """How many stores are remembered."""
        return len(self._rows)
