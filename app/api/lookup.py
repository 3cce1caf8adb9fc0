"""Fetch rows for the API or answer 404 in the one error shape."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.errors import ApiError
from app.models import Store


def get_store(session: Session, store_id: int) -> Store:
    """The store, or a 404."""
    store = session.get(Store, store_id)
    if store is None:
        raise ApiError(404, "store_not_found", f"no store {store_id}")
    return store
