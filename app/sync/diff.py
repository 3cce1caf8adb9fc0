"""Diff-based sync: what each customer gained and lost since a destination last confirmed.

Wanted tags come from the profile's segment keys (prefixed); confirmed tags from SyncState.
Only tags carrying the store's prefix are ever computed, so a merchant's own tags can never be
added or removed. A customer whose wanted and confirmed sets agree costs no request.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from app.clients import CredentialsUnavailable
from app.storage import metrics
from app.storage.db import chunked, utcnow
from app.storage.models import (
    Customer,
    Destination,
    Profile,
    Store,
    SyncAttempt,
    SyncFailure,
    SyncRun,
    SyncState,
)
from app.sync import alerts
from app.sync.writers import make_writer
from connectors.base import (
    CONSENTING_EMAILS,
    OK,
    PARTIAL,
    STORE_CUSTOMERS,
    TRANSIENT,
    Attempt,
    ChangeOutcome,
    RetryPolicy,
    TagChange,
)
from connectors.registry import destination_kind
from connectors.shopify.metafields import field_values as metafield_values

log = logging.getLogger(__name__)
# Predictions move for most customers at every nightly rescore: the safety brake would hold
# the metafields destination every night, so it never applies to it.
BRAKE_EXEMPT_KINDS = frozenset({"shopify_metafields"})
# Kinds whose first pass only records what each customer holds today, sending nothing: Flow
# must hear of changes from now on, not start a workflow for every current member.
SILENT_FIRST_PASS_KINDS = frozenset({"shopify_flow"})
TRIGGERS = ("debounce", "full_compare", "replay", "manual", "confirmed")
RUN_RUNNING, RUN_COMPLETED, RUN_FAILED = "running", "completed", "failed"
RUN_HELD, RUN_CONFIRMED, RUN_REJECTED = "held", "confirmed", "rejected"
# A run that changed nothing is not kept, unless an operator asked for it.
KEPT_WHEN_EMPTY = ("replay", "manual", "confirmed")
HOLD_SAMPLE = 20
FAILURE_MESSAGE_CHARS = 200
EMAIL = re.compile(r"[^\s@:;,\"'<>]+@[^\s@:;,\"'<>]+")
METAFIELD_SOURCES = ("rfm_group", "lifecycle_stage", "churn_risk", "predicted_clv_12m",
                     "expected_next_order_at")
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
    held: bool = False
    run_id: int | None = None
    changes: list[TagChange] = field(default_factory=list)


def destination_ids(session: Session, store_id: int) -> list[int]:
    """Ids of every destination of a store (each gets the store's tag changes)."""
    return list(session.execute(select(Destination.id).filter_by(store_id=store_id)).scalars())


def wanted_tags(store: Store, profile: Profile | None, customer: Customer) -> frozenset[str]:
    """The prefixed tags a customer should carry now (none once deleted)."""
    if profile is None or customer.deleted_at is not None:
        return frozenset()
    return frozenset(f"{store.tag_prefix}{key}" for key in profile.segment_keys)


def wanted_state(store: Store, destination: Destination, profile: Profile | None,
                 customer: Customer) -> frozenset[str]:
    """What the destination should hold for a customer: prefixed tags, or for the metafields
    destination its ``key=value`` strings."""
    if destination.kind != "shopify_metafields":
        return wanted_tags(store, profile, customer)
    if profile is None or customer.deleted_at is not None:
        return frozenset()
    return metafield_values({name: getattr(profile, name) for name in METAFIELD_SOURCES})


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
        wanted = wanted_state(store, destination, profile, customer)
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


class WaitCounter:
    """Wraps a RetryPolicy's sleep to count how often and how long a run waited on a limit."""

    def __init__(self, sleep: Callable[[float], None]):
        self.sleep, self.waits, self.seconds = sleep, 0, 0.0

    def __call__(self, seconds: float) -> None:
        self.waits += 1
        self.seconds += seconds
        self.sleep(seconds)


def open_run(session: Session, destination: Destination, trigger: str) -> SyncRun:
    """A new running SyncRun for the destination (flushed, so it has an id)."""
    assert trigger in TRIGGERS, trigger
    run = SyncRun(destination_id=destination.id, trigger=trigger, status=RUN_RUNNING,
                  considered=0, changed=0, succeeded=0, failed=0, requests=0,
                  throttle_waits=0, throttle_wait_seconds=0.0)
    session.add(run)
    session.flush()
    return run


def close_run(session: Session, run: SyncRun, now: Callable[[], datetime] = utcnow) -> None:
    """Finish a run: failed when it changed customers and none succeeded, else completed.

    A run that found nothing to change is deleted unless an operator started it.
    """
    if run.status != RUN_RUNNING:
        return
    if run.changed == 0 and run.error is None and run.trigger not in KEPT_WHEN_EMPTY:
        session.delete(run)
        return
    run.finished_at = now()
    failed_all = run.error is not None or (run.changed and not run.succeeded and run.failed)
    run.status = RUN_FAILED if failed_all else RUN_COMPLETED
    alerts.note_run(session, run)


def pending_hold(session: Session, destination_id: int) -> SyncRun | None:
    """The held run of a destination still waiting for a decision, if any."""
    return session.execute(select(SyncRun).filter_by(
        destination_id=destination_id, status=RUN_HELD).order_by(SyncRun.id).limit(1)).scalar()


def audience_size(session: Session, destination_id: int) -> int:
    """Customers the destination has been written for (its live audience)."""
    return session.execute(select(func.count()).select_from(SyncState).where(
        SyncState.destination_id == destination_id)).scalar_one()


def brake_limit(session: Session, destination: Destination) -> tuple[float, int] | None:
    """The share of the audience a sync may change at once, and the audience; None: no brake.

    The brake applies to live destinations that already have an audience of at least
    SYNC_BRAKE_MIN_AUDIENCE (never to the first sync); a destination's ``brake_share``
    config overrides SYNC_BRAKE_SHARE, and 1 turns the brake off (as for the metafields).
    """
    share_limit = float(destination.config.get("brake_share",
                                               current_app.config["SYNC_BRAKE_SHARE"]))
    if destination.kind in BRAKE_EXEMPT_KINDS:
        share_limit = 1.0
    if destination.mode != "live" or share_limit >= 1:
        return None
    audience = audience_size(session, destination.id)
    if audience < max(1, current_app.config["SYNC_BRAKE_MIN_AUDIENCE"]):
        return None
    return share_limit, audience


def brake_summary(session: Session, destination: Destination,
                  changes: list[TagChange]) -> dict[str, object] | None:
    """The diff summary of a hold when these changes trip the safety brake, else None."""
    limit = brake_limit(session, destination)
    if limit is None:
        return None
    share_limit, audience = limit
    changing = [c for c in changes if c.add or c.remove]
    share = len(changing) / audience
    if share <= share_limit:
        return None
    adds = Counter(tag for c in changing for tag in c.add)
    removes = Counter(tag for c in changing for tag in c.remove)
    return {"audience": audience, "changing": len(changing), "share": round(share, 4),
            "threshold": share_limit, "adds": dict(adds.most_common()),
            "removes": dict(removes.most_common()),
            "sample_customer_ids": sorted(c.customer_id for c in changing)[:HOLD_SAMPLE]}


def hold_run(session: Session, destination: Destination, trigger: str,
             summary: dict[str, object]) -> SyncRun:
    """Record a held run with its diff summary; nothing is sent until it is confirmed."""
    run = open_run(session, destination, trigger)
    run.status, run.hold, run.finished_at = RUN_HELD, summary, utcnow()
    run.changed = int(summary["changing"])  # type: ignore[call-overload]
    metrics.count("tagwise_sync_holds", (destination.kind, "held"))
    log.warning("destination %s: sync held, %s of %s customers would change", destination.id,
                summary["changing"], summary["audience"])
    return run


def sync_customers(session: Session, store: Store, destination: Destination,
                   customer_ids: list[int] | None, *, full: bool = False,
                   policy: RetryPolicy | None = None, trigger: str = "manual",
                   run: SyncRun | None = None, brake: bool = True) -> SyncReport:
    """Compute and apply the pending changes; record the run, every attempt and confirmation.

    ``run`` is the caller's open run when one run spans several batches (the caller closes
    it); otherwise a run is opened here once there is something to change. With ``brake``, a
    change to too large a share of the audience is held instead of sent, and while a hold
    waits for its decision nothing else is sent to the destination.
    """
    if destination.kind in SILENT_FIRST_PASS_KINDS and not destination.config.get("baselined"):
        record_as_known(session, store, destination)
    changes = pending_changes(session, store, destination, customer_ids, full=full)
    considered = len(customer_ids) if customer_ids is not None else len(changes)
    report = SyncReport(considered=considered, changes=changes)
    if run is not None:
        run.considered += considered
        report.run_id = run.id
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
    if brake:
        held = pending_hold(session, destination.id)
        summary = None if held else brake_summary(session, destination, changes)
        if held or summary:
            report.held = True
            report.run_id = (held or hold_run(session, destination, trigger, summary)).id
            return report
    own_run = run is None
    if run is None:
        run = open_run(session, destination, trigger)
        run.considered = considered
    send_changes(session, store, destination, changes, report, policy, run)
    if own_run:
        close_run(session, run)
    return report


def send_changes(session: Session, store: Store, destination: Destination,
                 changes: list[TagChange], report: SyncReport,
                 policy: RetryPolicy | None = None, run: SyncRun | None = None) -> None:
    """Write the changes to the destination now; record the run, attempts and confirmations.

    Without the caller's ``run`` (a redaction's removals) the changes get a run of their own.
    """
    own_run = run is None
    if run is None:
        run = open_run(session, destination, "manual")
        run.considered = len(changes)
    report.run_id = run.id
    run.changed += len(changes)
    waits = WaitCounter((policy or RetryPolicy()).sleep)
    policy = dataclasses.replace(policy or RetryPolicy(), sleep=waits)
    attempts: list[Attempt] = []
    try:
        writer = make_writer(store, destination, attempts.append, policy)
    except CredentialsUnavailable as exc:
        destination.state, destination.last_error = "stopped", str(exc)
        run.error = f"destination unavailable: {exc}"[:FAILURE_MESSAGE_CHARS]
        run.failed += len(changes)
        log.warning("destination %s unavailable: %s", destination.id, exc)
    else:
        outcomes = writer.write(changes)
        _record(session, destination, changes, outcomes, attempts, report, run)
    run.throttle_waits += waits.waits
    run.throttle_wait_seconds += waits.seconds
    if waits.waits:
        metrics.count("tagwise_sync_throttle_waits", (destination.kind,), waits.waits)
        metrics.count("tagwise_sync_throttle_wait_seconds", (destination.kind,), waits.seconds)
    if own_run:
        close_run(session, run)


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


def record_as_known(session: Session, store: Store, destination: Destination) -> int:
    """Confirm what every customer of the store holds today without sending it; say how many.

    Done when such a destination is added, and by its first pass if it never was."""
    rows = [{"destination_id": destination.id, "customer_id": change.customer_id,
             "tags": sorted(change.tags)}
            for change in pending_changes(session, store, destination, None)]
    for chunk in chunked(rows):
        session.execute(delete(SyncState).where(
            SyncState.destination_id == destination.id,
            SyncState.customer_id.in_([row["customer_id"] for row in chunk])))
        session.execute(insert(SyncState), chunk)
    destination.config = {**destination.config, "baselined": True}
    log.info("destination %s: %s customers' current segments recorded as known",
             destination.id, len(rows))
    return len(rows)


def describe_failure(outcome: ChangeOutcome) -> tuple[str, str | None]:
    """A machine reason and a short message for a failed change, free of vendor bodies.

    HTTP failures keep only their status (a body may echo personal data); a vendor's own
    message (a GraphQL userError, a job error) keeps its text with email addresses masked.
    """
    error = outcome.error or ""
    http = re.match(r"HTTP (\d{3})", error)
    if http:
        status = int(http.group(1))
        reason = ("rate_limited" if status == 429 else "server_error" if status >= 500
                  else "credentials_rejected" if status in (401, 403) else "rejected")
        return reason, f"HTTP {status}"
    if error.startswith(("ConnectionError", "Timeout", "ReadTimeout", "ConnectTimeout")):
        return "network", error.split(":", 1)[0]
    if outcome.status == PARTIAL:
        return "tag_budget", EMAIL.sub("<email>", error)[:FAILURE_MESSAGE_CHARS]
    reason = "transient" if outcome.status == TRANSIENT else "rejected"
    return reason, EMAIL.sub("<email>", error)[:FAILURE_MESSAGE_CHARS] or None


def _record(session: Session, destination: Destination, changes: list[TagChange],
            outcomes: list[ChangeOutcome], attempts: list[Attempt], report: SyncReport,
            run: SyncRun, now: Callable[[], datetime] = utcnow) -> None:
    by_id = {c.customer_id: c for c in changes}
    for attempt in attempts:
        session.add(SyncAttempt(destination_id=destination.id, method=attempt.method,
                                url=attempt.url[:500], status=attempt.status,
                                duration_ms=attempt.duration_ms, error=attempt.error))
    run.requests += len(attempts)
    report.sent = len(changes)
    errors = []
    # The states at hand in one read per chunk, not a flush and a select per customer.
    states = {state.customer_id: state
              for chunk in chunked([o.customer_id for o in outcomes])
              for state in session.scalars(select(SyncState).where(
                  SyncState.destination_id == destination.id,
                  SyncState.customer_id.in_(chunk)))}
    for outcome in outcomes:
        change = by_id[outcome.customer_id]
        state = states.get(outcome.customer_id)
        if state is None:
            state = SyncState(destination_id=destination.id, customer_id=outcome.customer_id,
                              tags=[])
            session.add(state)
        if outcome.status in (OK, PARTIAL):
            report.ok += 1
            run.succeeded += 1
            written = change.tags if outcome.written is None else outcome.written
            state.tags, state.confirmed_at = sorted(written), now()
            state.last_error = outcome.error
        else:
            run.failed += 1
            if outcome.status == TRANSIENT:
                report.transient.append(outcome.customer_id)
            else:
                report.permanent += 1
            state.last_error = outcome.error
            errors.append(outcome.error)
        if outcome.status != OK:
            reason, message = describe_failure(outcome)
            session.add(SyncFailure(run_id=run.id, destination_id=destination.id,
                                    customer_id=outcome.customer_id, outcome=outcome.status,
                                    reason=reason, message=message))
    _count(destination.kind, attempts, outcomes)
    destination.last_synced_at = now()
    destination.state = "failing" if report.transient else "ok"
    destination.last_error = errors[-1] if errors else None


def _count(kind: str, attempts: list[Attempt], outcomes: list[ChangeOutcome]) -> None:
    """Add a batch's requests (by status class) and outcomes to the metrics, one call each."""
    classes = Counter(f"{a.status // 100}xx" if a.status else "network" for a in attempts)
    for status_class, n in classes.items():
        metrics.count("tagwise_sync_requests", (kind, status_class), n)
    for status, n in Counter(o.status for o in outcomes).items():
        metrics.count("tagwise_sync_changes", (kind, status), n)


def failed_customer_ids(session: Session, destination_id: int,
                        since: datetime | None = None) -> list[int]:
    """Customers with a failure at the destination that no replay has handled yet."""
    query = (select(SyncFailure.customer_id).join(SyncRun, SyncRun.id == SyncFailure.run_id)
             .where(SyncFailure.destination_id == destination_id,
                    SyncFailure.retried_in_run_id.is_(None),
                    SyncFailure.outcome != PARTIAL))
    if since is not None:
        query = query.where(SyncRun.started_at >= since)
    return sorted(set(session.execute(query).scalars()))


def retry_failed(session: Session, store: Store, destination: Destination,
                 since: datetime | None = None, policy: RetryPolicy | None = None) -> SyncReport:
    """Replay the destination's unhandled failures, re-diffed against the wanted state now.

    A customer whose wanted tags have moved on gets what it should carry now, not the stale
    change that failed; one whose diff is empty by now costs nothing. Every failure replayed
    points at the replay run, so it is not replayed twice.
    """
    ids = failed_customer_ids(session, destination.id, since)
    run = open_run(session, destination, "replay")
    report = sync_customers(session, store, destination, ids, policy=policy, trigger="replay",
                            run=run, brake=False)
    for chunk in chunked(ids):
        session.execute(update(SyncFailure).where(
            SyncFailure.destination_id == destination.id,
            SyncFailure.retried_in_run_id.is_(None), SyncFailure.run_id != run.id,
            SyncFailure.customer_id.in_(chunk)).values(retried_in_run_id=run.id))
    close_run(session, run)
    return report
