"""Who is asking and which stores they may see: users, passwords, API tokens, the Principal.

Three ways in, one answer (a :class:`Principal`):

- the deployment's ``TAGWISE_API_TOKEN`` bearer: every store;
- a user's password (dashboard) or personal API token: the user's stores, or every store for an
  agency admin (``all_stores``);
- an installed Shopify shop opening the app from its admin: that one store.

Out-of-scope stores are reported exactly like missing ones, so scope never leaks existence.
Nothing here knows about Flask requests: the API and the dashboard views both call it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from app.ingest.upsert import email_key
from app.services.errors import Conflict, Invalid, NotFound
from app.storage.models import AuthSession, Store, User, UserStore

API_TOKEN_PREFIX = "twu_"
API_TOKEN_BYTES = 32
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024


@dataclass(frozen=True)
class Principal:
    """Who is asking, and the stores they may see (``store_ids`` None: every store)."""

    name: str  # for logs and audit, never a secret: "deployment-token", "user:3", "shop:5"
    store_ids: frozenset[int] | None
    user_id: int | None = None

    @property
    def all_stores(self) -> bool:
        """True for the deployment token and agency admins."""
        return self.store_ids is None

    def can_see(self, store_id: int) -> bool:
        """Whether this principal may read and change the store."""
        return self.store_ids is None or store_id in self.store_ids


@cache
def _unknown_user_hash() -> str:
    # Checked when the email is unknown, so a wrong email costs what a wrong password costs.
    return generate_password_hash(secrets.token_urlsafe(16))


# The shell operator (``tagwise`` commands): whoever can run them can already read the database.
OPERATOR = Principal("operator", None)


def hash_api_token(token: str) -> str:
    """The stored form of an API token (SHA-256 hex: tokens are random, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_api_token() -> str:
    """A fresh personal API token (shown once, stored only as its hash)."""
    return API_TOKEN_PREFIX + secrets.token_urlsafe(API_TOKEN_BYTES)


def visible_stores(session: Session, principal: Principal) -> list[Store]:
    """The stores the principal may see, by id."""
    query = select(Store).order_by(Store.id)
    if principal.store_ids is not None:
        query = query.where(Store.id.in_(sorted(principal.store_ids)))
    return list(session.execute(query).scalars())


def visible_store(session: Session, principal: Principal, store_id: int) -> Store:
    """The store, or NotFound when it is missing or outside the principal's scope."""
    store = session.get(Store, store_id) if principal.can_see(store_id) else None
    if store is None:
        raise NotFound("store_not_found", f"no store {store_id}")
    return store


def principal_for_user(session: Session, user: User) -> Principal:
    """The principal a user acts as: every store, or the stores assigned to them."""
    if user.all_stores:
        return Principal(f"user:{user.id}", None, user.id)
    ids = session.execute(select(UserStore.store_id).filter_by(user_id=user.id)).scalars()
    return Principal(f"user:{user.id}", frozenset(ids), user.id)


def principal_for_user_id(session: Session, user_id: int) -> Principal | None:
    """The principal of a user remembered in a session cookie, or None if the user is gone."""
    user = session.get(User, user_id)
    return principal_for_user(session, user) if user else None


def principal_for_shop(session: Session, store_id: int) -> Principal | None:
    """The principal of an installed Shopify shop opening the app: that store only.

    The caller must already have verified Shopify's signed launch request for this store.
    """
    store = session.get(Store, store_id)
    if store is None or store.platform != "shopify" or store.install_state != "active":
        return None
    return Principal(f"shop:{store.id}", frozenset({store.id}))


def authenticate_password(session: Session, email: str, password: str) -> Principal | None:
    """The user's principal when email and password match, else None (same cost either way)."""
    user = session.execute(select(User).filter_by(email=email_key(email))).scalar()
    known = user is not None and user.password_hash is not None
    stored = user.password_hash if known else _unknown_user_hash()
    if not check_password_hash(stored, password[:MAX_PASSWORD_CHARS]) or not known:
        return None
    return principal_for_user(session, user)


def authenticate_token(session: Session, token: str, deployment_token: str) -> Principal | None:
    """The principal of a bearer token: the deployment token, a user's token, or None."""
    token = token.strip()
    if not token:
        return None
    if deployment_token and hmac.compare_digest(token.encode(), deployment_token.encode()):
        return Principal("deployment-token", None)
    user = session.execute(select(User).filter_by(api_token_hash=hash_api_token(token))).scalar()
    return principal_for_user(session, user) if user else None


def create_user(session: Session, email: str, password: str, *, store_ids: Iterable[int] = (),
                all_stores: bool = False) -> tuple[User, str]:
    """Add a user scoped to the given stores (or every store); return it and its API token."""
    key = email_key(email)
    if "@" not in key or any(c.isspace() for c in key) or len(key) > 320:
        raise Invalid("bad_email", f"not an email address: {email!r}")
    _check_password(password)
    ids = _checked_scope(session, store_ids, all_stores)
    if session.execute(select(User.id).filter_by(email=key)).scalar() is not None:
        raise Conflict("email_taken", f"a user {key} already exists")
    token = new_api_token()
    user = User(email=key, password_hash=generate_password_hash(password),
                api_token_hash=hash_api_token(token), all_stores=all_stores)
    session.add(user)
    session.flush()
    session.add_all(UserStore(user_id=user.id, store_id=i) for i in ids)
    return user, token


def _check_password(password: str) -> None:
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise Invalid("bad_password", f"a password needs {MIN_PASSWORD_CHARS} to "
                                      f"{MAX_PASSWORD_CHARS} characters")


def _checked_scope(session: Session, store_ids: Iterable[int], all_stores: bool) -> list[int]:
    """The store ids of a scope, sorted, once the scope is valid and every store exists."""
    ids = sorted(set(store_ids))
    if all_stores == bool(ids):
        raise Invalid("bad_scope", "give either some stores or all stores")
    known = set(session.execute(select(Store.id).where(Store.id.in_(ids))).scalars())
    if missing := [i for i in ids if i not in known]:
        raise NotFound("store_not_found", f"no store {missing[0]}")
    return ids


def _user(session: Session, email: str) -> User:
    user = session.execute(select(User).filter_by(email=email_key(email))).scalar()
    if user is None:
        raise NotFound("user_not_found", f"no user {email_key(email)}")
    return user


def _end_sessions(session: Session, user: User) -> None:
    """Revoke every dashboard session of the user: they must sign in again as they now are."""
    session.execute(delete(AuthSession).filter_by(user_id=user.id))


def delete_user(session: Session, email: str) -> None:
    """Remove a user, their store assignments, API token and sessions."""
    user = _user(session, email)
    _end_sessions(session, user)
    session.execute(delete(UserStore).filter_by(user_id=user.id))
    session.delete(user)


def set_password(session: Session, email: str, password: str) -> None:
    """Change a user's password and end their sessions."""
    _check_password(password)
    user = _user(session, email)
    user.password_hash = generate_password_hash(password)
    _end_sessions(session, user)


def set_scope(session: Session, email: str, store_ids: Iterable[int] = (), *,
              all_stores: bool = False) -> None:
    """Change which stores a user may see and end their sessions."""
    user = _user(session, email)
    ids = _checked_scope(session, store_ids, all_stores)
    session.execute(delete(UserStore).filter_by(user_id=user.id))
    session.add_all(UserStore(user_id=user.id, store_id=i) for i in ids)
    user.all_stores = all_stores
    _end_sessions(session, user)


def rotate_api_token(session: Session, email: str) -> str:
    """Replace a user's API token (the old one stops working at once); return the new one."""
    user = _user(session, email)
    token = new_api_token()
    user.api_token_hash = hash_api_token(token)
    return token


def list_users(session: Session) -> list[tuple[User, list[int]]]:
    """Every user with the ids of its stores (empty for all-stores users)."""
    users = list(session.execute(select(User).order_by(User.email)).scalars())
    scopes: dict[int, list[int]] = {}
    for user_id, store_id in session.execute(
            select(UserStore.user_id, UserStore.store_id).order_by(UserStore.store_id)):
        scopes.setdefault(user_id, []).append(store_id)
    return [(user, scopes.get(user.id, [])) for user in users]
