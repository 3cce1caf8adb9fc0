"""Fetch rows for the API or answer 404 in the one error shape."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.services.auth import visible_store
from app.storage.models import Store
from app.web.api import current_principal


def get_store(session: Session, store_id: int) -> Store:
    """The store if the caller may see it, or a 404 (the same answer as a missing store)."""
    return visible_store(session, current_principal(), store_id)
