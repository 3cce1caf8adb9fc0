"""The small interfaces every connector sits behind, and the canonical records they produce.

Inbound connectors turn a vendor payload into one of the records below; nothing past a
connector sees a vendor field name. Outbound connectors implement :class:`TagWriter`. HTTP
goes through :class:`ApiClient`, the one place where retries are classified, bounded and
recorded.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

import requests

# --------------------------------------------------------------------------- errors


class ConnectorError(Exception):
    """A failure talking to, or understanding, an outside system; carries a machine reason."""

    reason = "connector_error"

    def __init__(self, message: str, *, reason: str | None = None, status: int | None = None):
        super().__init__(message)
        if reason:
            self.reason = reason
        self.status = status


class TransientError(ConnectorError):
    """Worth retrying later: 429, 5xx, timeouts, connection failures, throttling."""

    reason = "transient"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class PermanentError(ConnectorError):
    """Retrying will not help: other 4xx, a rejected payload, revoked credentials."""

    reason = "permanent"


class PayloadError(ConnectorError):
    """An inbound payload that cannot be turned into a canonical record."""

    reason = "malformed_payload"


# --------------------------------------------------------------------------- canonical records


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    """A store customer as the platform reports it (guests have ``platform_id`` None)."""

    platform_id: str | None
    email: str | None
    accepts_marketing: bool | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LineItemRecord:
    """One line of an order; ``product_type`` is the category used for affinity."""

    product_id: str | None
    variant_id: str | None
    product_type: str | None
    vendor: str | None
    quantity: int
    price: Decimal


@dataclass(frozen=True, slots=True)
class RefundRecord:
    """Money returned on an order; keyed by the platform's refund id so replays are no-ops."""

    platform_id: str
    order_platform_id: str
    amount: Decimal
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """An order in shop money, with timestamps in UTC (the store timezone is kept on Store)."""

    platform_id: str
    customer: CustomerRecord | None
    created_at: datetime
    updated_at: datetime
    currency: str
    total: Decimal
    subtotal: Decimal
    discount_total: Decimal
    discount_codes: tuple[str, ...]
    financial_status: str
    cancelled_at: datetime | None
    line_items: tuple[LineItemRecord, ...]
    refunds: tuple[RefundRecord, ...] = ()
    is_test: bool = False


@dataclass(frozen=True, slots=True)
class Deletion:
    """A platform resource that no longer exists (``kind`` is ``customer`` or ``order``)."""

    kind: str
    platform_id: str
    occurred_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TagsEcho:
    """The platform telling us which tags a customer now carries (possibly our own write)."""

    customer_platform_id: str
    tags: frozenset[str]
    updated_at: datetime | None = None


CanonicalEvent = CustomerRecord | OrderRecord | RefundRecord | Deletion | TagsEcho


@dataclass(frozen=True)
class Change:
    """A record reconciliation found, shaped like the webhook body of ``topic``."""

    topic: str
    key: str  # the inbox dedupe key: the same version found twice is one row
    body: dict[str, Any]


class StoreAction(StrEnum):
    """What a topic that carries no records asks of Tagwise (privacy law, the app's install).

    Events with an action are processed alone, never batched: they change what follows.
    """

    EXPORT_CUSTOMER = "export_customer"
    REDACT_CUSTOMER = "redact_customer"
    REDACT_STORE = "redact_store"
    UNINSTALLED = "uninstalled"


@dataclass(frozen=True)
class RequestedCustomer:
    """The customer a privacy request names, and what the request asks for."""

    platform_id: str
    email: str | None
    request_id: str | None = None  # a data request's own id (the same request twice)
    orders: tuple[str, ...] = ()  # platform ids of orders the request names


# --------------------------------------------------------------------------- outbound


@dataclass(frozen=True, slots=True)
class TagChange:
    """What one customer gained and lost since the last confirmed write to a destination.

    ``tags`` is the complete set of our tags the customer should carry now; ``add`` and
    ``remove`` are the difference against what the destination last confirmed.
    ``properties`` are profile scalars (R/F/M, rfm_group, predictions) for destinations
    that store them.
    """

    customer_id: int
    platform_customer_id: str | None
    email: str | None
    tags: frozenset[str]
    add: frozenset[str]
    remove: frozenset[str]
    properties: Mapping[str, Any] = field(default_factory=dict)


# The statuses of a ChangeOutcome.
OK = "ok"  # written
TRANSIENT = "transient"  # not written, try again later
PERMANENT = "permanent"  # not written, and trying again would not help
PARTIAL = "partial"  # written, but only the tags in ``written`` fit


@dataclass(frozen=True, slots=True)
class ChangeOutcome:
    """How one :class:`TagChange` fared: ``ok``, ``transient`` (try later), ``permanent``, or
    ``partial`` (written, but only the tags in ``written`` fit; ``error`` says why)."""

    customer_id: int
    status: str
    error: str | None = None
    written: frozenset[str] | None = None


def settle(changes: Sequence[TagChange], outcomes: dict[int, ChangeOutcome], status: str,
           error: str | None) -> None:
    """Give every change that has no outcome yet this one (a whole batch failed together)."""
    for change in changes:
        if change.customer_id not in outcomes:
            outcomes[change.customer_id] = ChangeOutcome(change.customer_id, status, error)


class TagWriter(Protocol):
    """A destination that can apply tag changes in bulk."""

    def write(self, changes: Sequence[TagChange]) -> list[ChangeOutcome]:
        """Apply the changes with as few requests as the vendor allows; never raise per change."""
        ...


# --------------------------------------------------------------------------- HTTP


@dataclass(frozen=True, slots=True)
class Attempt:
    """One HTTP attempt, as recorded for the operator."""

    method: str
    url: str
    status: int | None
    duration_ms: float
    error: str | None


ERROR_TEXT_LIMIT = 500
EXCERPT_LIMIT = 200  # of a vendor's error body: enough to say why, not to store what it echoed
_EMAIL = re.compile(r"[^\s\"'<>(),;:/]+@[^\s\"'<>(),;:/]+\.[A-Za-z]{2,}")
_HEX_HASH = re.compile(r"\b[0-9a-fA-F]{32}\b")  # e.g. Mailchimp's subscriber hash (MD5)
_PHONE = re.compile(r"\+\d[\d\s().-]{6,}\d|\b\d{3}[\s.-]\d{3}[\s.-]\d{4}\b")
DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_MAX_ATTEMPTS = 4
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 30.0


def redact_personal(text: str) -> str:
    """``text`` with email addresses, MD5-style hashes of them and phone numbers masked.

    Vendors echo the email they were sent in error bodies, and Mailchimp's member URLs carry
    the MD5 of it: neither may be stored in an attempt log that outlives a redaction.
    """
    text = _EMAIL.sub("<email>", text)
    text = _HEX_HASH.sub("<hash>", text)
    return _PHONE.sub("<phone>", text)


def _excerpt(response: requests.Response) -> str:
    """A short, redacted excerpt of a vendor's answer, for error messages."""
    return redact_personal(response.text[:EXCERPT_LIMIT])


def parse_retry_after(value: str | None) -> float | None:
    """Read a ``Retry-After`` header in seconds ("2", "2.0"); None when absent or a date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class RateBucket:
    """What one vendor limit covers and its documented size, for a :class:`RateGovernor`.

    ``name`` is the limit's scope inside an account (an endpoint, or "connections");
    ``burst_per_second`` the documented per-second cap (None when the vendor publishes
    none); ``max_concurrent`` how many requests may be open at once (Mailchimp: 10).
    """

    name: str
    burst_per_second: int | None = None
    max_concurrent: int | None = None


class RateGovernor(Protocol):
    """Paces one vendor account's requests across every worker process.

    :meth:`before` blocks until a request in the bucket may go and returns a lease;
    :meth:`after` frees the lease and learns from the answer (a budget advertised in
    headers, a ``Retry-After``), so the next request of any process waits instead of
    drawing a 429.
    """

    def before(self, bucket: RateBucket) -> str:
        """Block until a request in ``bucket`` may be sent; return the lease to hand back."""
        ...

    def after(self, bucket: RateBucket, lease: str, status: int | None,
              headers: Mapping[str, str]) -> None:
        """Free the lease; record the answer's budget headers and any ``Retry-After``."""
        ...


@dataclass
class RetryPolicy:
    """Classified, bounded retries: 429 honours Retry-After, 5xx/timeouts back off with jitter."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    base_seconds: float = BACKOFF_BASE_SECONDS
    cap_seconds: float = BACKOFF_CAP_SECONDS
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (full jitter, capped)."""
        if retry_after is not None:
            return min(retry_after, self.cap_seconds)
        return self.rng.uniform(0, min(self.cap_seconds, self.base_seconds * 2**attempt))


class ApiClient:
    """Base for every connector's ``client.py``: one session, timeouts, retries, attempt log.

    Subclasses build URLs and bodies; :meth:`request` does the sending. 429, 5xx, timeouts
    and connection errors are retried up to ``policy.max_attempts`` and then raised as
    :class:`TransientError`; any other 4xx raises :class:`PermanentError` at once.
    """

    def __init__(
        self,
        base_url: str,
        *,
        session: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        policy: RetryPolicy | None = None,
        on_attempt: Callable[[Attempt], None] | None = None,
        governor: RateGovernor | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self.on_attempt = on_attempt
        self.governor = governor

    def rate_bucket(self, method: str, url: str) -> RateBucket:
        """The vendor limit a request counts against (clients with documented limits say)."""
        return RateBucket("all")

    def _governed_attempt(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One attempt, inside the governor's lease when there is a governor."""
        if self.governor is None:
            return self.session.request(method, url, **kwargs)
        bucket = self.rate_bucket(method, url)
        lease = self.governor.before(bucket)
        response = None
        try:
            response = self.session.request(method, url, **kwargs)
            return response
        finally:
            self.governor.after(bucket, lease, response.status_code if response is not None
                                else None, response.headers if response is not None else {})

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send with retries; return the first 2xx response or raise a classified error.

        Redirects are never followed: an API does not redirect, and a host that answers 302
        to an internal address must not make Tagwise fetch it (SSRF). A 3xx is permanent.
        """
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        kwargs.setdefault("timeout", self.timeout)
        kwargs["allow_redirects"] = False
        last: TransientError | None = None
        for attempt in range(self.policy.max_attempts):
            if attempt:
                retry_after = last.retry_after if last else None
                self.policy.sleep(self.policy.backoff(attempt - 1, retry_after))
            started = time.perf_counter()
            try:
                response = self._governed_attempt(method, url, **kwargs)
            except (requests.Timeout, requests.ConnectionError) as exc:
                last = TransientError(f"{type(exc).__name__}: {exc}", reason="network")
                self._record(method, url, None, started, str(last))
                continue
            status = response.status_code
            if status == 429 or status >= 500:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                last = TransientError(
                    f"HTTP {status}: {_excerpt(response)}",
                    reason="rate_limited" if status == 429 else "server_error",
                    status=status,
                    retry_after=retry_after,
                )
                self._record(method, url, status, started, str(last))
                continue
            if status >= 300:
                redirected = status < 400
                error = PermanentError(
                    f"HTTP {status}: redirect not followed" if redirected
                    else f"HTTP {status}: {_excerpt(response)}",
                    reason="redirect_refused" if redirected else "client_error",
                    status=status,
                )
                self._record(method, url, status, started, str(error))
                error.response = response  # type: ignore[attr-defined]
                raise error
            self._record(method, url, status, started, None)
            return response
        assert last is not None
        raise last

    def _record(self, method: str, url: str, status: int | None, started: float, error: str | None):
        if self.on_attempt is not None:
            duration_ms = (time.perf_counter() - started) * 1000
            truncated = redact_personal(error[:ERROR_TEXT_LIMIT]) if error else None
            self.on_attempt(Attempt(method, redact_personal(url), status, duration_ms,
                                    truncated))


# --------------------------------------------------------------------------- destination kinds

# Who a destination receives changes for (see ``DestinationKind.audience``).
STORE_CUSTOMERS = "store_customers"  # customers with a record in the shop (guests have none)
CONSENTING_EMAILS = "consenting_emails"  # an email and marketing consent, unless include_all
EVERY_CUSTOMER = "every_customer"  # everyone, guests included (the merchant's own systems)


class InvalidSetting(ValueError):
    """A destination setting that cannot work; ``option`` names it (``api_key``, ``url``)."""

    def __init__(self, option: str, message: str):
        super().__init__(message)
        self.option = option


@dataclass(frozen=True, slots=True)
class DestinationOption:
    """One setting a merchant gives when adding a destination (``--list-id`` for ``list_id``)."""

    name: str
    help: str
    required: bool = False
    flag: bool = False


INCLUDE_ALL_OPTION = DestinationOption(
    "include_all", "Also send customers without marketing consent (list-building)", flag=True)


@dataclass(frozen=True, slots=True)
class WriterContext:
    """What a destination's writer is built from: its settings, its secret, its store, plumbing.

    ``store_client`` builds the store platform's own API client (credentials refreshed by the
    app); only store destinations call it.
    """

    config: Mapping[str, Any]
    credentials: str | None
    store_id: int
    store_domain: str
    prefix: str
    store_client: Callable[[], ApiClient]
    on_attempt: Callable[[Attempt], None] | None = None
    policy: RetryPolicy | None = None
    allow_private_urls: bool = False
    governor: RateGovernor | None = None  # shared by every process writing to this account


def accept_settings(config: Mapping[str, Any], credentials: str | None, *,
                    allow_private_urls: bool) -> None:
    """Accept any settings (the default check of a destination kind)."""


@dataclass(frozen=True, slots=True)
class DestinationKind:
    """Everything the app needs to offer one kind of destination; the registry holds one each.

    ``credential`` is the secret setting (stored encrypted, handed to the writer decrypted);
    ``generate_credential`` makes one when the merchant gives none (a signing secret).
    ``check`` raises :class:`InvalidSetting` for settings that cannot work. Destinations
    ``added_with_store`` are created with their store, not by ``tagwise destinations add``.
    ``bulk_from`` and ``rate_bucket`` tell the adaptive debounce when waiting saves requests.
    """

    kind: str
    summary: str
    audience: str
    build_writer: Callable[[WriterContext], TagWriter]
    options: tuple[DestinationOption, ...] = ()
    credential: DestinationOption | None = None
    generate_credential: Callable[[], str] | None = None
    check: Callable[..., None] = accept_settings
    added_with_store: bool = False
    # From how many pending changes one write costs about as few requests per change as it
    # will (a bulk path): below it, the sync lets pending changes gather for up to
    # SYNC_MAX_DELAY_SECONDS. 0: send every debounced run (the store's own tags stay fast).
    bulk_from: int = 0
    # The vendor limit whose budget, when low, is worth waiting for rather than spending.
    rate_bucket: RateBucket | None = None
