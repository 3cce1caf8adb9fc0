"""Create stores: one way per platform, shared by `tagwise stores add` and the OAuth install."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.storage.models import Destination, Store
from connectors.registry import platform_for


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
