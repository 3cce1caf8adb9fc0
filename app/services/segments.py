"""A store's segments for the API, dashboard and CLI: list, create, change, disable, preview.

Every function takes the caller's :class:`~app.services.auth.Principal` and answers
``NotFound`` for a store outside its scope. Answers are plain JSON-ready dicts. An edit that
changes who belongs to a segment queues ``tasks.rescore.refresh_segments`` once committed:
every customer is re-evaluated against the store's stored scoring and the changed ones are
synced.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import jobs
from app.core.segments.catalogue import CATALOGUE
from app.core.segments.rules import Rule, RuleError, compile_rule, preview
from app.scoring.recompute import stored_profiles
from app.services.auth import Principal, visible_store
from app.services.errors import Conflict, Invalid, NotFound
from app.services.serialise import iso
from app.storage.db import Database, utcnow
from app.storage.models import Customer, Membership, Segment, Store

log = logging.getLogger(__name__)

KEY_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
KEY_MAX_CHARS = 64
NAME_MAX_CHARS = 255
CATEGORY_KEYS = "category-*"
CATEGORY_PREFIX = "category-"
BUILTIN_KEYS = frozenset(entry.key for entry in CATALOGUE)
DEFAULT_SAMPLE_SIZE = 10
RESERVED_KEYS = frozenset({"preview"})  # POST .../segments/preview is the preview endpoint
EDITABLE = ("name", "rule", "enabled", "holdout_percent")


def _compiled(rule_text: str) -> Rule:
    """The compiled rule, or Invalid carrying the position and reason of the first problem."""
    try:
        return compile_rule(rule_text)
    except RuleError as exc:
        raise Invalid("invalid_rule", str(exc), exc.to_dict()) from exc


def _is_builtin(key: str) -> bool:
    return key in BUILTIN_KEYS or key.startswith(CATEGORY_PREFIX)


def _member_counts(session: Session, store_id: int) -> dict[str, int]:
    rows = session.execute(select(Membership.segment_key, func.count()).where(
        Membership.store_id == store_id, Membership.left_at.is_(None))
        .group_by(Membership.segment_key))
    counts = {key: count for key, count in rows}
    counts[CATEGORY_KEYS] = sum(n for k, n in counts.items() if k.startswith(CATEGORY_PREFIX))
    return counts


def _builtin(store: Store, key: str, row: Segment | None, members: int) -> dict[str, Any]:
    entry = next((e for e in CATALOGUE if e.key == key), None)
    return {"key": key, "tag": f"{store.tag_prefix}{key}", "kind": "builtin",
            "name": entry.name if entry else key, "description": entry.description if entry
            else "customers who love this product type", "rule": None,
            "enabled": row.enabled if row else True, "holdout_percent": 0, "members": members,
            "created_at": None}


def _rule(store: Store, row: Segment, members: int) -> dict[str, Any]:
    return {"key": row.key, "tag": f"{store.tag_prefix}{row.key}", "kind": "rule",
            "name": row.name, "description": None, "rule": row.rule_text,
            "enabled": row.enabled, "holdout_percent": row.holdout_percent,
            "members": members, "created_at": iso(row.created_at)}


def _rows(session: Session, store_id: int) -> dict[str, Segment]:
    return {row.key: row for row in session.execute(
        select(Segment).filter_by(store_id=store_id)).scalars()}


def list_segments(db: Database, principal: Principal, store_id: int) -> list[dict[str, Any]]:
    """Built-in catalogue entries, then the store's rule segments, each with its member count."""
    with db.session() as session:
        store = visible_store(session, principal, store_id)
        rows = _rows(session, store_id)
        counts = _member_counts(session, store_id)
        result = [_builtin(store, entry.key, rows.get(entry.key), counts.get(entry.key, 0))
                  for entry in CATALOGUE]
        result += [_rule(store, row, counts.get(row.key, 0))
                   for key, row in sorted(rows.items()) if row.kind == "rule"]
        return result


def get_segment(db: Database, principal: Principal, store_id: int, key: str) -> dict[str, Any]:
    """One segment by key (a built-in, a ``category-<slug>`` or a rule)."""
    with db.session() as session:
        store = visible_store(session, principal, store_id)
        return _describe(session, store, key)


def _describe(session: Session, store: Store, key: str) -> dict[str, Any]:
    row = session.execute(select(Segment).filter_by(store_id=store.id, key=key)).scalar()
    count = _member_counts(session, store.id).get(key, 0)
    if row is not None and row.kind == "rule":
        return _rule(store, row, count)
    if _is_builtin(key):
        return _builtin(store, key, row, count)
    raise NotFound("segment_not_found", f"no segment {key}")


def create_segment(db: Database, principal: Principal, store_id: int, *, key: str, rule: str,
                   name: str | None = None, enabled: bool = True,
                   holdout_percent: int = 0) -> dict[str, Any]:
    """Add a rule segment after checking its key and rule; apply it to every customer."""
    if not KEY_PATTERN.match(key) or len(key) > KEY_MAX_CHARS:
        raise Invalid("invalid_key", f"a key is up to {KEY_MAX_CHARS} lower-case letters, "
                                     "digits and single dashes, e.g. vip-regulars")
    if _is_builtin(key) or key in RESERVED_KEYS:
        raise Conflict("segment_exists", f"{key} is a built-in segment or a reserved word")
    _check_fields(name, holdout_percent)
    _compiled(rule)
    with db.session() as session:
        store = visible_store(session, principal, store_id)
        if session.execute(select(Segment.id).filter_by(store_id=store_id, key=key)).scalar():
            raise Conflict("segment_exists", f"segment {key} already exists")
        session.add(Segment(store_id=store_id, key=key, name=name or key, kind="rule",
                            rule_text=rule, enabled=enabled, holdout_percent=holdout_percent))
        if enabled:
            store.segments_refresh_due = utcnow()
        try:
            session.flush()
        except IntegrityError as exc:  # the same key saved by a concurrent request
            raise Conflict("segment_exists", f"segment {key} already exists") from exc
        created = _describe(session, store, key)
    if enabled:
        queue_segment_refresh(store_id)
    return created


def _check_fields(name: str | None, holdout_percent: int | None) -> None:
    if name is not None and not 0 < len(name.strip()) <= NAME_MAX_CHARS:
        raise Invalid("invalid_name", f"a name has 1 to {NAME_MAX_CHARS} characters")
    if holdout_percent is not None and not 0 <= holdout_percent <= 100:
        raise Invalid("invalid_holdout", "holdout_percent is between 0 and 100")


def update_segment(db: Database, principal: Principal, store_id: int, key: str,
                   changes: dict[str, Any]) -> dict[str, Any]:
    """Change a rule segment's name, rule, enabled flag or holdout; a built-in's enabled flag.

    A change of who belongs (rule or enabled) is applied to every customer.
    """
    if unknown := sorted(set(changes) - set(EDITABLE)):
        raise Invalid("unknown_field", f"cannot change {', '.join(unknown)}")
    _check_fields(changes.get("name"), changes.get("holdout_percent"))
    if "rule" in changes:
        _compiled(changes["rule"])
    with db.session() as session:
        store = visible_store(session, principal, store_id)
        row = session.execute(select(Segment).filter_by(store_id=store_id, key=key)).scalar()
        if row is None or row.kind != "rule":
            if not _is_builtin(key):
                raise NotFound("segment_not_found", f"no segment {key}")
            if set(changes) - {"enabled"}:
                raise Invalid("builtin_segment", "a built-in segment can only be enabled or "
                                                 "disabled")
            if row is None:
                row = Segment(store_id=store_id, key=key, name=key, kind="builtin", enabled=True)
                session.add(row)
        before = (row.enabled, row.rule_text)
        for field in EDITABLE:
            if field in changes:
                setattr(row, "rule_text" if field == "rule" else field, changes[field])
        moved = (row.enabled, row.rule_text) != before and (row.enabled or before[0])
        if moved:
            store.segments_refresh_due = utcnow()
        session.flush()
        updated = _describe(session, store, key)
    if moved:
        queue_segment_refresh(store_id)
    return updated


def disable_segment(db: Database, principal: Principal, store_id: int,
                    key: str) -> dict[str, Any]:
    """Switch a segment off: its members lose its tag; the rule and history are kept."""
    return update_segment(db, principal, store_id, key, {"enabled": False})


def preview_rule(db: Database, principal: Principal, store_id: int, rule: str,
                 sample_size: int = DEFAULT_SAMPLE_SIZE) -> dict[str, Any]:
    """How many customers a rule selects now, their share, and a sample with the reasons."""
    compiled = _compiled(rule)
    with db.session() as session:
        store = visible_store(session, principal, store_id)
        frame = stored_profiles(session, store, utcnow())
        result = preview(compiled, frame, sample_size)
        ids = result["sample"]
        platform_ids = dict(session.execute(select(Customer.id, Customer.platform_id).where(
            Customer.id.in_(ids))).all()) if ids else {}
    columns = sorted(compiled.fields)
    sample = [{"platform_customer_id": platform_ids.get(customer_id),
               "explanation": compiled.explain(frame.loc[customer_id, columns].to_dict())}
              for customer_id in ids]
    return {"rule": result["rule"], "count": result["count"], "total": result["total"],
            "share": result["share"], "sample": sample}


def queue_segment_refresh(store_id: int) -> None:
    """Queue the re-evaluation of every customer of the store (after a committed edit).

    The edit is committed and the store marked ``segments_refresh_due``: when the broker is
    unreachable the edit still succeeds, and the sweeper queues the refresh once it is back.
    """
    try:
        jobs.enqueue("tasks.rescore.refresh_segments", store_id, retry=False)
    except (BrokerError, RedisError, OSError) as exc:
        log.warning("store %s: segment refresh not queued (%s); the sweeper will",
                    store_id, type(exc).__name__)
