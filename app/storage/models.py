"""SQL is the system of record: stores, customers, orders, profiles, memberships, sync, inbox."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.storage.db import Base, Money, UTCDateTime, utcnow

Id = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER keys only


class Store(Base):
    """A client store: where webhooks come from and where tags go back to."""

    __tablename__ = "stores"
    # AUTOINCREMENT: a deleted store's id is never given to a new one (SQLite reuses otherwise).
    __table_args__ = (UniqueConstraint("platform", "domain"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    domain: Mapped[str] = mapped_column(String(255))
    api_base_url: Mapped[str | None] = mapped_column(String(500))
    access_token_enc: Mapped[str | None] = mapped_column(Text)
    webhook_secret_enc: Mapped[str | None] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    tag_prefix: Mapped[str] = mapped_column(String(20), default="tw:")
    install_state: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    scoring: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # cut-offs from rescore
    prediction_model: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    rescored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reconciled_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A segment edit whose member refresh is not done yet (the sweeper queues it if lost).
    segments_refresh_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # OAuth installs: granted scopes and, for expiring offline tokens, when the access token
    # lapses and the (encrypted) refresh token that renews it.
    scopes: Mapped[str | None] = mapped_column(String(500))
    access_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refresh_token_enc: Mapped[str | None] = mapped_column(Text)
    refresh_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the store's customer facts were first built (a new store has nothing to build; a
    # store from before the facts table gets them on its first write: app.scoring.facts).
    facts_built_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    # The store's own alert receiver (a Slack incoming webhook URL carries its secret in the
    # path): encrypted like a credential, never shown back.
    alert_url_enc: Mapped[str | None] = mapped_column(Text)


class Customer(Base):
    """A store customer; guests with an email are keyed by the normalised email."""

    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("store_id", "platform_id"),
        UniqueConstraint("store_id", "guest_email_key"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    platform_id: Mapped[str | None] = mapped_column(String(64))
    guest_email_key: Mapped[str | None] = mapped_column(String(320))
    email: Mapped[str | None] = mapped_column(String(320))
    accepts_marketing: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Order(Base):
    """An order in shop money; ``source_updated_at`` drops stale deliveries."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("store_id", "platform_id"),
        Index("ix_orders_customer", "customer_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    platform_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source_updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(Money)
    subtotal: Mapped[Decimal] = mapped_column(Money)
    discount_total: Mapped[Decimal] = mapped_column(Money)
    discount_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    financial_status: Mapped[str] = mapped_column(String(32))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    items_count: Mapped[int] = mapped_column(Integer, default=0)

    line_items: Mapped[list[LineItem]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )


class LineItem(Base):
    """One line of an order: what was bought, used for category affinity."""

    __tablename__ = "line_items"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[str | None] = mapped_column(String(64))
    variant_id: Mapped[str | None] = mapped_column(String(64))
    product_type: Mapped[str | None] = mapped_column(String(255))
    vendor: Mapped[str | None] = mapped_column(String(255))
    quantity: Mapped[int] = mapped_column(Integer)
    price: Mapped[Decimal] = mapped_column(Money)


class Refund(Base):
    """Money returned on an order, keyed by the platform's refund id (it may precede its order)."""

    __tablename__ = "refunds"
    __table_args__ = (UniqueConstraint("store_id", "platform_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    platform_id: Mapped[str] = mapped_column(String(64))
    order_platform_id: Mapped[str] = mapped_column(String(64), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CustomerFacts(Base):
    """What the profile needs of a customer's orders, kept up to date by every write to them
    (app.scoring.facts): each owned order's numbers by platform id, and the units bought of
    live orders per product type and per vendor, ``[quantity, lines]`` each."""

    __tablename__ = "customer_facts"

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    orders: Mapped[dict[str, list[int]]] = mapped_column(JSON, default=dict)
    product_types: Mapped[dict[str, list[int]]] = mapped_column(JSON, default=dict)
    vendors: Mapped[dict[str, list[int]]] = mapped_column(JSON, default=dict)


class Profile(Base):
    """A customer's derived profile (its only copy: nothing of it is kept in Redis)."""

    __tablename__ = "profiles"

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    orders_count: Mapped[int] = mapped_column(Integer, default=0)
    total_spent: Mapped[float] = mapped_column(Float, default=0.0)
    net_spent: Mapped[float] = mapped_column(Float, default=0.0)
    aov: Mapped[float | None] = mapped_column(Float)
    first_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mean_days_between_orders: Mapped[float | None] = mapped_column(Float)
    median_days_between_orders: Mapped[float | None] = mapped_column(Float)
    discount_order_share: Mapped[float | None] = mapped_column(Float)
    mean_items_per_order: Mapped[float | None] = mapped_column(Float)
    top_product_type: Mapped[str | None] = mapped_column(String(255))
    top_product_type_share: Mapped[float | None] = mapped_column(Float)
    product_types: Mapped[list[str] | None] = mapped_column(JSON)
    top_vendor: Mapped[str | None] = mapped_column(String(255))
    preferred_weekday: Mapped[str | None] = mapped_column(String(10))
    preferred_daypart: Mapped[str | None] = mapped_column(String(10))
    preferred_daypart_share: Mapped[float | None] = mapped_column(Float)
    weekend_order_share: Mapped[float | None] = mapped_column(Float)
    r_score: Mapped[int | None] = mapped_column(Integer)
    f_score: Mapped[int | None] = mapped_column(Integer)
    m_score: Mapped[int | None] = mapped_column(Integer)
    rfm_group: Mapped[str | None] = mapped_column(String(32))
    lifecycle_stage: Mapped[str | None] = mapped_column(String(32))
    p_alive: Mapped[float | None] = mapped_column(Float)
    expected_orders_90d: Mapped[float | None] = mapped_column(Float)
    expected_next_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    predicted_clv_12m: Mapped[float | None] = mapped_column(Float)
    value_tier: Mapped[str | None] = mapped_column(String(10))
    churn_risk: Mapped[str | None] = mapped_column(String(10))
    prediction_basis: Mapped[str | None] = mapped_column(String(12))
    segment_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    explanations: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Segment(Base):
    """A merchant's rule segment, or a built-in one switched off for this store."""

    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("store_id", "key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(10))  # builtin | rule
    rule_text: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    holdout_percent: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Membership(Base):
    """A customer's stay in a segment: open while ``left_at`` is null; history is kept."""

    __tablename__ = "memberships"
    __table_args__ = (
        Index("ix_memberships_customer_open", "customer_id", "left_at"),
        # The overview's live segment sizes: COUNT(*) of open rows GROUP BY segment_key.
        Index("ix_memberships_store_open_key", "store_id", "left_at", "segment_key"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    segment_key: Mapped[str] = mapped_column(String(80))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    explanation: Mapped[str | None] = mapped_column(Text)


class StoreReport(Base):
    """A dashboard aggregate computed at rescore (RFM grid, cohorts, segment sizes), as JSON."""

    __tablename__ = "store_reports"

    store_id: Mapped[int] = mapped_column(
        ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class SegmentSizeHistory(Base):
    """How many customers a segment held on a day (the last rescore of that day wins)."""

    __tablename__ = "segment_size_history"

    store_id: Mapped[int] = mapped_column(
        ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    segment_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)


class Destination(Base):
    """Where a store's segments are written: the shop's own tags, meta, or an email tool."""

    __tablename__ = "destinations"
    __table_args__ = (UniqueConstraint("store_id", "kind"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    mode: Mapped[str] = mapped_column(String(10), default="live")  # live | dry_run
    state: Mapped[str] = mapped_column(String(20), default="ok")  # ok | failing | stopped
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    credentials_enc: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SyncState(Base):
    """The tag set a destination last confirmed for a customer; the base of every diff."""

    __tablename__ = "sync_states"

    destination_id: Mapped[int] = mapped_column(
        ForeignKey("destinations.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)


class SyncAttempt(Base):
    """One outbound request (or dry-run diff) to a destination, for the operator."""

    __tablename__ = "sync_attempts"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    destination_id: Mapped[int] = mapped_column(
        ForeignKey("destinations.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    method: Mapped[str] = mapped_column(String(10))
    url: Mapped[str] = mapped_column(String(500))
    status: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class SyncRun(Base):
    """One sync pass to a destination: why it ran, what it changed, what it cost, how it ended.

    ``status`` is ``running``, ``completed``, ``failed`` (nothing could be sent), ``held`` (the
    safety brake stopped it: ``hold`` carries the diff summary), ``confirmed`` or ``rejected``
    (a hold an operator decided on: who and when in ``decided_by`` / ``decided_at``).
    """

    __tablename__ = "sync_runs"
    __table_args__ = (Index("ix_sync_runs_destination", "destination_id", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    destination_id: Mapped[int] = mapped_column(
        ForeignKey("destinations.id", ondelete="CASCADE"))
    trigger: Mapped[str] = mapped_column(String(16))  # debounce | full_compare | replay | manual
    status: Mapped[str] = mapped_column(String(12), default="running")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    considered: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    succeeded: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    throttle_waits: Mapped[int] = mapped_column(Integer, default=0)
    throttle_wait_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text)
    hold: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    decided_by: Mapped[str | None] = mapped_column(String(320))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SyncFailure(Base):
    """A customer a run could not write, with a classified reason (never a vendor's raw body).

    ``retried_in_run_id`` is set once a replay has re-diffed the customer.
    """

    __tablename__ = "sync_failures"
    __table_args__ = (Index("ix_sync_failures_destination", "destination_id", "retried_in_run_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id", ondelete="CASCADE"),
                                        index=True)
    destination_id: Mapped[int] = mapped_column(
        ForeignKey("destinations.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    outcome: Mapped[str] = mapped_column(String(10))  # transient | permanent | partial
    reason: Mapped[str] = mapped_column(String(32))
    message: Mapped[str | None] = mapped_column(String(300))
    retried_in_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("sync_runs.id", ondelete="SET NULL"))


class Alert(Base):
    """One alert condition and whether it is firing: one message when it fires, one when clear."""

    __tablename__ = "alerts"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)  # e.g. destination:3:unhealthy
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    firing: Mapped[bool] = mapped_column(Boolean, default=False)
    summary: Mapped[str] = mapped_column(String(500))
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notified: Mapped[bool] = mapped_column(Boolean, default=False)  # deployment receiver
    # The store's own receiver (Store.alert_url_enc), tracked apart so neither gets twice.
    store_notified: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class InboxEvent(Base):
    """A webhook delivery exactly as received, committed before it is acknowledged."""

    __tablename__ = "inbox_events"
    __table_args__ = (
        UniqueConstraint("store_id", "dedupe_key"),
        UniqueConstraint("store_id", "event_id"),  # Shopify's X-Shopify-Event-Id
        Index("ix_inbox_status_received", "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(20))
    topic: Mapped[str] = mapped_column(String(64))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    event_id: Mapped[str | None] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class User(Base):
    """A person who signs in to the dashboard or the API: an agency admin or a store's staff."""

    __tablename__ = "users"
    __table_args__ = ({"sqlite_autoincrement": True},)  # ids are never reused

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # normalised: trimmed, lower
    password_hash: Mapped[str | None] = mapped_column(String(255))
    api_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)  # SHA-256 hex
    all_stores: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UserStore(Base):
    """A store a scoped user may see and change."""

    __tablename__ = "user_stores"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"),
                                          primary_key=True, index=True)


class AuthSession(Base):
    """A signed-in dashboard session, held server-side so it can be revoked.

    The cookie carries a random token; only its SHA-256 is stored. Deleting the user or the
    store (or signing out, or changing the user) deletes its sessions.
    """

    __tablename__ = "auth_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # user, shop or deployment
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                                index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"),
                                                 index=True)
    credential: Mapped[str | None] = mapped_column(String(64))  # deployment: keyed token hash
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DataExport(Base):
    """What Tagwise held about one customer when the shop asked (``customers/data_request``)."""

    __tablename__ = "data_exports"
    __table_args__ = (UniqueConstraint("store_id", "data_request_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    customer_platform_id: Mapped[str] = mapped_column(String(64))
    data_request_id: Mapped[str | None] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    export: Mapped[dict[str, Any]] = mapped_column(JSON)


class BackfillJob(Base):
    """One import of a store's history: which bulk operation, how far it got, what it found."""

    __tablename__ = "backfill_jobs"
    __table_args__ = (Index("ix_backfill_jobs_store", "store_id", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(12), default="running")
    since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    phase: Mapped[str] = mapped_column(String(12), default="customers")
    operation_id: Mapped[str | None] = mapped_column(String(100))
    lines_total: Mapped[int | None] = mapped_column(BigInteger)
    lines_done: Mapped[int] = mapped_column(BigInteger, default=0)
    customers: Mapped[int] = mapped_column(Integer, default=0)
    orders: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


BACKFILL_RUNNING, BACKFILL_COMPLETED, BACKFILL_FAILED, BACKFILL_STOPPED = (
    "running", "completed", "failed", "stopped")


INBOX_PENDING, INBOX_DONE, INBOX_IGNORED, INBOX_PARKED = "pending", "done", "ignored", "parked"
