"""Who is signed in to the dashboard, held in Flask's signed session cookie, and CSRF tokens.

The cookie holds only a reference (a user id, a shop's store id, or a fingerprint of the
deployment token); the principal and its stores are re-read from SQL on every request, so a
deleted user or an uninstalled shop loses access at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from flask import current_app, request, session
from sqlalchemy.orm import Session

from app.services.auth import Principal, principal_for_shop, principal_for_user_id

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SESSION_KEY = "auth"


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in(principal: Principal, *, shop_store_id: int | None = None) -> None:
    """Start a fresh session (no fixation) for the principal."""
    if shop_store_id is not None:
        reference: dict[str, Any] = {"kind": "shop", "store_id": shop_store_id}
    elif principal.user_id is not None:
        reference = {"kind": "user", "user_id": principal.user_id}
    else:
        reference = {"kind": "deployment",
                     "fingerprint": _fingerprint(current_app.config["TAGWISE_API_TOKEN"])}
    session.clear()
    session.permanent = True
    session[SESSION_KEY] = reference
    session[CSRF_FIELD] = secrets.token_urlsafe(32)


def sign_out() -> None:
    """Forget the session entirely."""
    session.clear()


def signed_in_principal(db_session: Session) -> Principal | None:
    """The principal the session cookie refers to, if it still exists."""
    reference = session.get(SESSION_KEY)
    if not isinstance(reference, dict):
        return None
    kind = reference.get("kind")
    if kind == "user" and isinstance(reference.get("user_id"), int):
        return principal_for_user_id(db_session, reference["user_id"])
    if kind == "shop" and isinstance(reference.get("store_id"), int):
        return principal_for_shop(db_session, reference["store_id"])
    if kind == "deployment" and isinstance(reference.get("fingerprint"), str):
        current = _fingerprint(current_app.config["TAGWISE_API_TOKEN"])
        if hmac.compare_digest(reference["fingerprint"], current):
            return Principal("deployment-token", None)
    return None


def csrf_token() -> str:
    """This session's CSRF token (created on first use, also before sign-in)."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


def csrf_ok() -> bool:
    """Whether the request carries this session's CSRF token (form field or header)."""
    expected = session.get(CSRF_FIELD)
    given = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    return isinstance(expected, str) and hmac.compare_digest(given.encode(), expected.encode())
