"""Per-customer facts: what the profile needs of a customer's orders, kept in SQL as they change.

A ``customer_facts`` row holds, for one customer, each owned order's numbers by platform id —
``[created µs, total, refunded (money in MONEY_SCALE units), cancelled, has discount, items]``,
what the median gap, the weekday and daypart modes (in the store's timezone, derived when
read, so a timezone change needs no rebuild), the BG/NBD summary and Gamma-Gamma need order by
order — and the units of its live orders per product type and per vendor (``[quantity,
lines]``: a name stays while any line carries it, as in the ``GROUP BY`` it replaces).

Every write to orders, refunds or line items measures the orders it touches before and after
(``order_facts``: a read of those orders only, under their row locks) and moves the difference
into their owners' rows (``record_changes``), so an edit, a cancellation, a refund, an owner
change or a deletion ends exactly where a build from scratch (``build_facts``, the same SQL
over the whole history) would. The live path then reads a customer's inputs with one
primary-key read (``app.scoring.recompute.facts_inputs``) instead of their whole history.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ARRAY, String, bindparam, select, text
from sqlalchemy.orm import Session

from app.storage.bulk import epoch_us, is_postgres, one_of, upsert_rows
from app.storage.db import chunked, utcnow
from app.storage.models import CustomerFacts, Store

FACT_MAPS = ("orders", "product_types", "vendors")


@dataclass
class OrderFacts:
    """One owned order's contribution to its customer's facts."""

    customer_id: int
    entry: list[int]
    lines: list[tuple[str | None, str | None, int, int]] = field(default_factory=list)


def has_discount_sql(session: Session) -> str:
    """SQL for "order ``o`` has a discount" as 0/1: an amount off or discount codes."""
    # A JSON list of discount codes that is not empty (SQLite's json_array_length is 0 for a
    # non-array; PostgreSQL's raises, hence the CASE).
    codes = ("CASE WHEN json_typeof(o.discount_codes) = 'array'"
             " THEN json_array_length(o.discount_codes) ELSE 0 END" if is_postgres(session)
             else "COALESCE(json_array_length(o.discount_codes), 0)")
    return f"CASE WHEN o.discount_total > 0 OR {codes} > 0 THEN 1 ELSE 0 END"


def _orders_sql(session: Session, where: str) -> str:
    """Each owned order matching ``where`` (on orders ``o``): owner, platform id, entry."""
    return (f"SELECT o.customer_id, o.platform_id, {epoch_us(session, 'o.created_at')}, o.total,"
            " COALESCE((SELECT SUM(r.amount) FROM refunds r WHERE r.store_id = o.store_id"
            " AND r.order_platform_id = o.platform_id), 0),"
            f" CASE WHEN o.cancelled_at IS NULL THEN 0 ELSE 1 END, {has_discount_sql(session)},"
            f" o.items_count FROM orders o WHERE o.store_id = :store AND {where}"
            " AND o.customer_id IS NOT NULL")


def _lines_sql(where: str, per: str) -> str:
    """Line units of live owned orders matching ``where``, per ``per`` and (type, vendor)."""
    return (f"SELECT {per}, l.product_type, l.vendor, SUM(l.quantity), COUNT(*)"
            " FROM line_items l JOIN orders o ON o.id = l.order_id"
            f" WHERE o.store_id = :store AND {where} AND o.customer_id IS NOT NULL"
            f" AND o.cancelled_at IS NULL GROUP BY {per}, l.product_type, l.vendor")


def order_facts(session: Session, store: Store, platform_ids: Iterable[str]
                ) -> dict[str, OrderFacts]:
    """The stored contribution of each of these orders that exists and has an owner."""
    found: dict[str, OrderFacts] = {}
    # One array parameter on PostgreSQL, so the text stays the same (see bulk.one_of).
    if is_postgres(session):
        where, ids = "o.platform_id = ANY(:ids)", bindparam("ids", type_=ARRAY(String))
    else:
        where, ids = "o.platform_id IN :ids", bindparam("ids", expanding=True)
    orders_query = text(_orders_sql(session, where)).bindparams(ids)
    lines_query = text(_lines_sql(where, "o.platform_id")).bindparams(ids)
    for chunk in chunked(sorted(set(platform_ids))):
        params = {"store": store.id, "ids": chunk}
        for customer_id, pid, *entry in session.execute(orders_query, params):
            found[pid] = OrderFacts(int(customer_id), [int(v) for v in entry])
        for pid, product_type, vendor, quantity, lines in session.execute(lines_query, params):
            found[pid].lines.append((product_type, vendor, int(quantity), int(lines)))
    return found


def _empty() -> dict[str, dict[str, list[int]]]:
    return {name: {} for name in FACT_MAPS}


def _add_units(counts: dict[str, list[int]], name: str | None, quantity: int, lines: int
               ) -> None:
    """Add (or, negative, take away) units of one name; a name with no line left goes."""
    if name is None:  # the core ranks named types and vendors only
        return
    units, count = counts.get(name, (0, 0))
    if count + lines:
        counts[name] = [units + quantity, count + lines]
    else:
        counts.pop(name, None)


def _move(facts: dict[str, dict[str, list[int]]], pid: str, order: OrderFacts, sign: int
          ) -> None:
    if sign > 0:
        facts["orders"][pid] = order.entry
    else:
        facts["orders"].pop(pid, None)
    for product_type, vendor, quantity, lines in order.lines:
        _add_units(facts["product_types"], product_type, sign * quantity, sign * lines)
        _add_units(facts["vendors"], vendor, sign * quantity, sign * lines)


def record_changes(session: Session, store: Store,
                   before: dict[str, OrderFacts], after: dict[str, OrderFacts]) -> None:
    """Move each order's contribution from what it was to what it is, in its owners' rows
    (locked in customer-id order, so concurrent writers cannot deadlock on them)."""
    changed = [pid for pid in before.keys() | after.keys() if before.get(pid) != after.get(pid)]
    owners = sorted({facts.customer_id for side in (before, after) for pid in changed
                     if (facts := side.get(pid))})
    if not owners:
        return
    rows = {customer_id: _empty() for customer_id in owners}
    for chunk in chunked(owners):
        for row in session.execute(
                select(CustomerFacts.customer_id, *(getattr(CustomerFacts, m) for m in FACT_MAPS))
                .where(one_of(session, CustomerFacts.customer_id, chunk))
                .order_by(CustomerFacts.customer_id).with_for_update()):
            rows[row.customer_id] = {m: dict(getattr(row, m)) for m in FACT_MAPS}
    for pid in changed:
        if old := before.get(pid):
            _move(rows[old.customer_id], pid, old, -1)
        if new := after.get(pid):
            _move(rows[new.customer_id], pid, new, 1)
    write_facts(session, store, rows)


def write_facts(session: Session, store: Store,
                rows: dict[int, dict[str, dict[str, list[int]]]]) -> None:
    """Upsert these customers' facts rows."""
    upsert_rows(session, CustomerFacts.__table__,
                [{"customer_id": customer_id, "store_id": store.id, **maps}
                 for customer_id, maps in sorted(rows.items())], key=["customer_id"])


def build_facts(session: Session, store: Store, customer_ids: list[int] | None = None,
                id_range: tuple[int, int] | None = None
                ) -> dict[int, dict[str, dict[str, list[int]]]]:
    """Facts from scratch, from the stored orders: of every customer with an owned order, of
    those with ids in ``id_range`` (inclusive), or of the given customers (those without
    orders get empty maps)."""
    rows = {int(c): _empty() for c in customer_ids or []}
    if customer_ids is not None:
        selections = [("o.customer_id IN :ids", {"ids": chunk})
                      for chunk in chunked(sorted(set(customer_ids)))]
    elif id_range is not None:
        selections = [("o.customer_id BETWEEN :low AND :high",
                       {"low": id_range[0], "high": id_range[1]})]
    else:
        selections = [("1 = 1", {})]
    for where, extra in selections:
        params = {"store": store.id, **extra}

        def run(sql: str, where: str = where, params: dict[str, Any] = params):
            statement = text(sql)
            if "ids" in params:
                statement = statement.bindparams(bindparam("ids", expanding=True))
            return session.execute(statement, params)

        for customer_id, pid, *entry in run(_orders_sql(session, where)):
            facts = rows.setdefault(int(customer_id), _empty())
            facts["orders"][pid] = [int(v) for v in entry]
        for customer_id, product_type, vendor, quantity, lines in run(
                _lines_sql(where, "o.customer_id")):
            facts = rows.setdefault(int(customer_id), _empty())
            _add_units(facts["product_types"], product_type, int(quantity), int(lines))
            _add_units(facts["vendors"], vendor, int(quantity), int(lines))
    return rows


def ensure_facts(session: Session, store: Store) -> None:
    """Build the store's facts if it has none yet (a store from before the facts table).

    The store row is locked while they are built, so a concurrent first write waits and then
    finds them built instead of writing orders the build has not seen.
    """
    if store.facts_built_at is not None:
        return
    session.refresh(store, with_for_update=True)
    if store.facts_built_at is None:
        write_facts(session, store, build_facts(session, store))
        store.facts_built_at = utcnow()


def repair_facts(session: Session, store: Store,
                 blocks: list[tuple[int, int] | None]) -> int:
    """Rebuild the store's facts from scratch, block of customer ids by block (None: all at
    once), and rewrite the rows that drifted; return how many. A drifted row is locked and
    built again before it is written, so a live write that committed meanwhile is kept."""
    drifted = []
    for block in blocks:
        built = build_facts(session, store, id_range=block)
        query = select(CustomerFacts.customer_id, *(getattr(CustomerFacts, m) for m in FACT_MAPS)
                       ).where(CustomerFacts.store_id == store.id)
        if block is not None:
            query = query.where(CustomerFacts.customer_id.between(*block))
        stored = {row.customer_id: {m: getattr(row, m) for m in FACT_MAPS}
                  for row in session.execute(query)}
        drifted.extend(sorted(c for c in built.keys() | stored.keys()
                              if built.get(c, _empty()) != stored.get(c, _empty())))
    for chunk in chunked(drifted):
        session.execute(select(CustomerFacts.customer_id)
                        .where(CustomerFacts.customer_id.in_(chunk))
                        .order_by(CustomerFacts.customer_id).with_for_update())
        write_facts(session, store, build_facts(session, store, chunk))
    return len(drifted)
