"""Plain JSON forms of models for API answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.storage.models import (
    BackfillJob,
    Destination,
    InboxEvent,
    Profile,
    Store,
    SyncFailure,
    SyncRun,
)

DEFAULT_PER_PAGE = 50  # rows of a paged answer unless ?per_page= says otherwise
MAX_PER_PAGE = 200
PROFILE_FIELDS = (
    "orders_count", "total_spent", "net_spent", "aov", "first_order_at", "last_order_at",
    "mean_days_between_orders", "median_days_between_orders", "discount_order_share",
    "mean_items_per_order", "top_product_type", "product_types", "top_vendor",
    "preferred_weekday", "preferred_daypart", "weekend_order_share", "lifecycle_stage",
    "rfm_group", "computed_at",
)
PREDICTION_FIELDS = ("p_alive", "expected_orders_90d", "expected_next_order_at",
                     "predicted_clv_12m", "churn_risk", "value_tier", "prediction_basis")


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC, or None."""
    return value.isoformat() if value else None


def _plain(value: Any) -> Any:
    return iso(value) if isinstance(value, datetime) else value


def profile(row: Profile) -> dict[str, Any]:
    """Metrics, R/F/M and predictions of a profile."""
    data = {name: _plain(getattr(row, name)) for name in PROFILE_FIELDS}
    data["rfm"] = {"r": row.r_score, "f": row.f_score, "m": row.m_score, "group": row.rfm_group}
    data["predictions"] = {name: _plain(getattr(row, name)) for name in PREDICTION_FIELDS}
    return data


def store(row: Store) -> dict[str, Any]:
    """A store without its secrets."""
    return {"id": row.id, "platform": row.platform, "domain": row.domain,
            "currency": row.currency, "timezone": row.timezone, "tag_prefix": row.tag_prefix,
            "install_state": row.install_state, "rescored_at": iso(row.rescored_at),
            "created_at": iso(row.created_at)}


def destination(row: Destination) -> dict[str, Any]:
    """A destination without its credentials."""
    return {"id": row.id, "kind": row.kind, "mode": row.mode, "state": row.state,
            "last_error": row.last_error, "last_synced_at": iso(row.last_synced_at)}


def sync_run(row: SyncRun) -> dict[str, Any]:
    """A sync run's trigger, timing, counts and decision (its hold summary and failures apart)."""
    return {"id": row.id, "destination_id": row.destination_id, "trigger": row.trigger,
            "status": row.status, "started_at": iso(row.started_at),
            "finished_at": iso(row.finished_at), "considered": row.considered,
            "changed": row.changed, "succeeded": row.succeeded, "failed": row.failed,
            "requests": row.requests, "throttle_waits": row.throttle_waits,
            "throttle_wait_seconds": round(row.throttle_wait_seconds, 3), "error": row.error,
            "decided_by": row.decided_by, "decided_at": iso(row.decided_at)}


def sync_failure(row: SyncFailure, platform_customer_id: str | None) -> dict[str, Any]:
    """One customer a run could not (fully) write: who, why, and whether a replay took it."""
    return {"customer_id": row.customer_id, "platform_customer_id": platform_customer_id,
            "outcome": row.outcome, "reason": row.reason, "message": row.message,
            "retried_in_run_id": row.retried_in_run_id}


def inbox_event(row: InboxEvent) -> dict[str, Any]:
    """An inbox event without its body (which may hold personal data)."""
    return {"id": row.id, "source": row.source, "topic": row.topic, "status": row.status,
            "attempts": row.attempts, "error": row.error, "received_at": iso(row.received_at),
            "processed_at": iso(row.processed_at)}


def backfill_job(row: BackfillJob) -> dict[str, Any]:
    """A backfill's progress: status, phase, line offset in the current result, counts."""
    return {"id": row.id, "status": row.status, "phase": row.phase,
            "since": iso(row.since), "operation_id": row.operation_id,
            "lines_done": row.lines_done, "lines_total": row.lines_total,
            "customers": row.customers, "orders": row.orders, "rejected": row.rejected,
            "error": row.error, "started_at": iso(row.started_at),
            "updated_at": iso(row.updated_at), "finished_at": iso(row.finished_at)}
