"""Diff-based sync: what each customer gained and lost since a destination last confirmed.

Wanted tags come from the profile's segment keys (prefixed); confirmed tags from SyncState.
Only tags carrying the store's prefix are ever computed, so a merchant's own tags can never be
added or removed. A customer whose wanted and confirmed sets agree costs no request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clients import CredentialsUnavailable
from app.storage.db import chunked, utcnow
from app.storage.models import Customer, Destination, Profile, Store, SyncAttempt, SyncState
from app.sync.writers import make_writer
from connectors.base import (
    CONSENTING_EMAILS,
    STORE_CUSTOMERS,
    Attempt,
    ChangeOutcome,
    RetryPolicy,
    TagChange,
)
from connectors.registry import destination_kind

log = logging.getLogger(__name__)
PROPERTY_FIELDS = ("r_score", "f_score", "m_score", "rfm_group", "p_alive",
                   "predicted_clv_12m", "churn_risk", "value_tier", "expected_next_order_at")


@dataclass
class SyncReport:
    """What one sync pass did."""

    considered: int = 0
    sent: int = 0
    ok: int = 0
    transient: list[int] = field(default_factory=list)
    permanent: int = 0
    dry_run: bool = False
    changes: list[TagChange] = field(default_factory=list)


def destination_ids(session: Session, store_id: int) -> list[int]:
    """Ids of every destination of a store (each gets the store's tag changes)."""
    return list(session.execute(select(Destination.id).filter_by(store_id=store_id)).scalars())


def wanted_tags(store: Store, profile: Profile | None, customer: Customer) -> frozenset[str]:
    """The prefixed tags a customer should carry now (none once deleted)."""
    if profile is None or customer.deleted_at is not None:
        return frozenset()
    return frozenset(f"{store.tag_prefix}{key}" for key in profile.segment_keys)


def pending_changes(session: Session, store: Store, destination: Destination,
                    customer_ids: list[int] | None, *, full: bool = False) -> list[TagChange]:
    """TagChanges for the given customers (all of the store's when None)."""
    query = (select(Customer, Profile, SyncState)
             .outerjoin(Profile, Profile.customer_id == Customer.id)
             .outerjoin(SyncState, (SyncState.customer_id == Customer.id)
                        & (SyncState.destination_id == destination.id))
             .where(Customer.store_id == store.id))
    if customer_ids is None:
        rows = session.execute(query).all()
    else:
        ids = sorted(set(customer_ids))
        rows = [row for chunk in chunked(ids)
                for row in session.execute(query.where(Customer.id.in_(chunk)))]
    changes = []
    audience = destination_kind(destination.kind).audience
    for customer, profile, state in rows:
        if not _in_audience(audience, customer, destination):
            continue
        wanted = wanted_tags(store, profile, customer)
        confirmed = frozenset(state.tags) if state else frozenset()
        if wanted == confirmed and not (full and wanted):
            continue
        properties = _properties(profile) if profile else {}
        changes.append(TagChange(
            customer_id=customer.id, platform_customer_id=customer.platform_id,
            email=customer.email, tags=wanted, add=wanted - confirmed if not full else wanted,
            remove=confirmed - wanted, properties=properties))
    return changes


def _properties(profile: Profile) -> dict[str, object]:
    """Profile scalars for destinations that store them; timestamps as ISO 8601 strings."""
    values = {name: getattr(profile, name) for name in PROPERTY_FIELDS}
    return {name: v.isoformat() if isinstance(v, datetime) else v for name, v in values.items()}


def _in_audience(audience: str, customer: Customer, destination: Destination) -> bool:
    """Whether a destination of this audience receives the customer's changes.

    A guest has no customer record in the store to carry tags; email tools get customers with
    an email who consented, unless told to include all; everyone else gets every customer.
    """
    if audience == STORE_CUSTOMERS:
        return customer.platform_id is not None
    if audience == CONSENTING_EMAILS:
        if not customer.email:
            return False
        return bool(customer.accepts_marketing) or bool(destination.config.get("include_all"))
    return True


def sync_customers(session: Session, store: Store, destination: Destination,
                   customer_ids: list[int] | None, *, full: bool = False,
                   policy: RetryPolicy | None = None) -> SyncReport:
    """Compute and apply the pending changes; record every attempt and every confirmation."""
    changes = pending_changes(session, store, destination, customer_ids, full=full)
    report = SyncReport(considered=len(customer_ids or []) or len(changes), changes=changes)
    if not changes:
        return report
    if destination.mode == "dry_run":
        report.dry_run = True
        session.add(SyncAttempt(
            destination_id=destination.id, method="DRY-RUN", url="", status=None,
            detail={"changes": [{"customer_id": c.customer_id, "add": sorted(c.add),
                                 "remove": sorted(c.remove)} for c in changes[:1000]],
                    "count": len(changes)}))
        return report
    send_changes(session, store, destination, changes, report, policy)
    return report


def send_changes(session: Session, store: Store, destination: Destination,
                 changes: list[TagChange], report: SyncReport,
                 policy: RetryPolicy | None = None) -> None:
    """Write the changes to the destination now; record attempts and confirmations."""
    attempts: list[Attempt] = []
    try:
        writer = make_writer(store, destination, attempts.append, policy)
    except CredentialsUnavailable as exc:
        destination.state, destination.last_error = "stopped", str(exc)
        log.warning("destination %s unavailable: %s", destination.id, exc)
        return
    outcomes = writer.write(changes)
    _record(session, destination, changes, outcomes, attempts, report)


def remove_before_forgetting(session: Session, store: Store,
                             customers: list[Customer]) -> SyncReport:
    """Remove our tags from these customers at every live destination outside the store that
    holds some, while their email is still known (a redaction forgets it next).

    Consent no longer matters: only removals are sent. The caller retries the redaction when
    the report holds transient failures.
    """
    report = SyncReport()
    by_id = {c.id: c for c in customers if c.email}
    for destination in session.execute(select(Destination).filter_by(
            store_id=store.id, mode="live")).scalars():
        if destination_kind(destination.kind).audience == STORE_CUSTOMERS or not by_id:
            continue  # the platform deletes the customer itself
        states = session.execute(select(SyncState).where(
            SyncState.destination_id == destination.id,
            SyncState.customer_id.in_(sorted(by_id)))).scalars()
        changes = [TagChange(customer_id=s.customer_id,
                             platform_customer_id=by_id[s.customer_id].platform_id,
                             email=by_id[s.customer_id].email, tags=frozenset(),
                             add=frozenset(), remove=frozenset(s.tags))
                   for s in states if s.tags]
        if changes:
            send_changes(session, store, destination, changes, report)
    return report


def _record(session: Session, destination: Destination, changes: list[TagChange],
            outcomes: list[ChangeOutcome], attempts: list[Attempt], report: SyncReport,
            now: Callable[[], datetime] = utcnow) -> None:
    by_id = {c.customer_id: c for c in changes}
    for attempt in attempts:
        session.add(SyncAttempt(destination_id=destination.id, method=attempt.method,
                                url=attempt.url[:500], status=attempt.status,
                                duration_ms=attempt.duration_ms, error=attempt.error))
    report.sent = len(changes)
    errors = []
    for outcome in outcomes:
        change = by_id[outcome.customer_id]
        state = session.get(SyncState, (destination.id, outcome.customer_id))
        if state is None:
            state = SyncState(destination_id=destination.id, customer_id=outcome.customer_id,
                              tags=[])
            session.add(state)
        if outcome.status == "ok":
            report.ok += 1
            state.tags, state.confirmed_at, state.last_error = sorted(change.tags), now(), None
        elif outcome.status == "transient":
            report.transient.append(outcome.customer_id)
            state.last_error = outcome.error
            errors.append(outcome.error)
        else:
            report.permanent += 1
            state.last_error = outcome.error
            errors.append(outcome.error)
    destination.last_synced_at = now()
    destination.state = "failing" if report.transient else "ok"
    destination.last_error = errors[-1] if errors else None
