"""Who is signed in to the dashboard, and CSRF tokens.

A session lives on the server (an ``auth_sessions`` row); Flask's signed cookie carries only
a random token whose SHA-256 names that row. Signing out deletes the row, so a copied cookie
stops working at once; deleting or changing the user, or deleting the store, deletes its
sessions too. The principal and its stores are re-read from SQL on every request, so an
uninstalled shop loses access at once. Nothing derived from the deployment token is ever put
in the cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import current_app, request, session
from sqlalchemy import delete
from sqlalchemy.orm import Session

from app.services.auth import Principal, principal_for_shop, principal_for_user_id
from app.storage.db import db, utcnow
from app.storage.models import AuthSession

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SESSION_KEY = "auth"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _deployment_credential() -> str:
    """A keyed hash of the deployment token: rotating the token ends its sessions."""
    return hmac.new(current_app.config["SECRET_KEY"].encode(),
                    current_app.config["TAGWISE_API_TOKEN"].encode(), hashlib.sha256).hexdigest()


def sign_in(principal: Principal, *, shop_store_id: int | None = None) -> None:
    """Start a fresh session (no fixation) for the principal."""
    row = AuthSession(kind="deployment", credential=_deployment_credential())
    if shop_store_id is not None:
        row = AuthSession(kind="shop", store_id=shop_store_id)
    elif principal.user_id is not None:
        row = AuthSession(kind="user", user_id=principal.user_id)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row.token_hash, row.created_at = _token_hash(token), now
    row.expires_at = now + current_app.permanent_session_lifetime
    with db().session() as db_session:
        db_session.execute(delete(AuthSession).where(AuthSession.expires_at < now))
        _forget_current(db_session)
        db_session.add(row)
    session.clear()
    session.permanent = True
    session[SESSION_KEY] = {"sid": token}
    session[CSRF_FIELD] = secrets.token_urlsafe(32)


def sign_out() -> None:
    """End the session on the server (a copy of the cookie is worthless) and in the browser."""
    with db().session() as db_session:
        _forget_current(db_session)
    session.clear()


def _current_token() -> str | None:
    reference = session.get(SESSION_KEY)
    token = reference.get("sid") if isinstance(reference, dict) else None
    return token if isinstance(token, str) else None


def _forget_current(db_session: Session) -> None:
    if (token := _current_token()) is not None:
        db_session.execute(delete(AuthSession).filter_by(token_hash=_token_hash(token)))


def signed_in_principal(db_session: Session) -> Principal | None:
    """The principal of this request's session, if the session is still live on the server."""
    token = _current_token()
    row = db_session.get(AuthSession, _token_hash(token)) if token else None
    if row is None or row.expires_at <= utcnow():
        return None
    if row.kind == "user" and row.user_id is not None:
        return principal_for_user_id(db_session, row.user_id)
    if row.kind == "shop" and row.store_id is not None:
        return principal_for_shop(db_session, row.store_id)
    if row.kind == "deployment" and hmac.compare_digest(row.credential or "",
                                                        _deployment_credential()):
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
