"""Create stores: one way per platform, shared by `tagwise stores add` and the OAuth
install; and the summaries that store lists show."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.services.errors import Invalid
from app.storage.crypto import SecretBox
from app.storage.models import Customer, Destination, Store
from connectors.netguard import UnsafeURL, ensure_callable_url
from connectors.registry import platform_for

ALERT_URL_MAX_CHARS = 2000


def find_shopify_store(session: Session, domain: str) -> Store | None:
    """The store of a shop domain, if Tagwise knows it."""
    return session.execute(select(Store).filter_by(platform="shopify", domain=domain)).scalar()


def add_store(session: Session, platform: str, domain: str, *, tag_prefix: str,
              api_base_url: str | None = None, currency: str = "USD", timezone: str = "UTC",
              dry_run: bool = False) -> Store:
    """Add a store row and the destination that writes to the store itself (the caller sets
    credentials)."""
    store = Store(platform=platform, domain=domain, api_base_url=api_base_url,
                  tag_prefix=tag_prefix, currency=currency.upper(), timezone=timezone)
    session.add(store)
    session.flush()
    session.add(Destination(store_id=store.id, kind=platform_for(platform).store_destination,
                            mode="dry_run" if dry_run else "live"))
    return store


def add_shopify_store(session: Session, domain: str, **options) -> Store:
    """Add a Shopify store and its ``shopify_tags`` destination."""
    return add_store(session, "shopify", domain, **options)


def set_alert_url(store: Store, url: str | None, box: SecretBox, *,
                  allow_private: bool) -> None:
    """Set (or with None, clear) the store's own alert receiver, stored encrypted.

    The store then gets the same alerts as the deployment's receiver for its destinations,
    its inbox and its webhook flow. A URL that is not http(s), carries credentials or points
    at a private address (unless the deployment allows those) is refused.
    """
    if url is None:
        store.alert_url_enc = None
        return
    url = url.strip()
    if len(url) > ALERT_URL_MAX_CHARS:
        raise Invalid("invalid_alert_url", f"an alert URL has at most {ALERT_URL_MAX_CHARS} "
                      "characters")
    try:
        ensure_callable_url(url, allow_private=allow_private)
    except UnsafeURL as exc:
        raise Invalid("invalid_alert_url", f"alert URL refused: {exc}") from exc
    store.alert_url_enc = box.encrypt(url)


@dataclass(frozen=True)
class StoreSummary:
    """A store as a list shows it: size, scoring, and how its destinations are doing."""

    store: Store
    customers: int
    destinations: tuple[Destination, ...]

    @property
    def dry_run(self) -> bool:
        """Whether any destination only records diffs."""
        return any(d.mode == "dry_run" for d in self.destinations)

    @property
    def sync_health(self) -> str:
        """``ok``, or the worst destination state with its kind (``failing: klaviyo``)."""
        for state in ("stopped", "failing"):
            kinds = [d.kind for d in self.destinations if d.state == state]
            if kinds:
                return f"{state}: {', '.join(kinds)}"
        return "ok" if self.destinations else "no destination"


def store_summaries(session: Session, stores: Iterable[Store]) -> list[StoreSummary]:
    """Each store with its live customer count and destinations (three queries in all)."""
    stores = list(stores)
    ids = [s.id for s in stores]
    counts = dict(session.execute(
        select(Customer.store_id, func.count()).where(
            Customer.store_id.in_(ids), Customer.deleted_at.is_(None))
        .group_by(Customer.store_id)).all())
    destinations: dict[int, list[Destination]] = {}
    for destination in session.execute(select(Destination).where(
            Destination.store_id.in_(ids)).order_by(Destination.id)).scalars():
        destinations.setdefault(destination.store_id, []).append(destination)
    return [StoreSummary(s, counts.get(s.id, 0), tuple(destinations.get(s.id, ())))
            for s in stores]
