"""API clients for a store's platform, built from its stored credentials.

The platform's connector knows how to talk to it (``connectors.registry``); this module adds
what only the app has: the decrypted secret, the configured base URL and API version, and the
renewal of tokens that expire, committed with the store row locked so two workers never spend
the same refresh token (Shopify rotates it on every use) and a later rollback of the caller
cannot lose the new one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from app.storage.db import utcnow
from app.storage.models import Store
from connectors.base import ApiClient, Attempt, ConnectorError, PermanentError, RetryPolicy
from connectors.registry import platform_for

# Renew an expiring token this long before it lapses (Shopify's live one hour).
TOKEN_REFRESH_MARGIN = timedelta(minutes=5)


class CredentialsUnavailable(Exception):
    """The store cannot be called now (uninstalled, missing or refused credentials)."""


def _setting(platform: str, name: str, default: str | None = None) -> str | None:
    return current_app.config.get(f"{platform.upper()}_{name}", default)


def store_base_url(store: Store) -> str:
    """Where the store's API lives: the store's override, else the platform's URL template
    (``SHOPIFY_API_BASE_URL_TEMPLATE``), else the store's own address."""
    if store.api_base_url:
        return store.api_base_url
    return (_setting(store.platform, "API_BASE_URL_TEMPLATE") or "{shop}").format(
        shop=store.domain)


def save_grant(store: Store, grant, now: datetime | None = None) -> None:
    """Keep a token grant on the store row, tokens encrypted, expiries as timestamps."""
    box = current_app.extensions["secret_box"]
    now = now or utcnow()

    def after(seconds: int | None) -> datetime | None:
        return now + timedelta(seconds=seconds) if seconds else None

    store.access_token_enc = box.encrypt(grant.access_token)
    store.access_token_expires_at = after(grant.expires_in)
    store.refresh_token_enc = box.encrypt(grant.refresh_token) if grant.refresh_token else None
    store.refresh_token_expires_at = after(grant.refresh_token_expires_in)
    if grant.scopes:
        store.scopes = ",".join(grant.scopes)


def _needs_refresh(store: Store) -> bool:
    expires = store.access_token_expires_at
    return expires is not None and expires <= utcnow() + TOKEN_REFRESH_MARGIN


def store_secret(store: Store, policy: RetryPolicy | None = None) -> str:
    """The store's API secret, an expiring token renewed first when it has (nearly) lapsed."""
    if not store.access_token_enc:
        raise CredentialsUnavailable("no API credentials")
    box = current_app.extensions["secret_box"]
    if not _needs_refresh(store):
        return box.decrypt(store.access_token_enc)
    refresh_grant = platform_for(store.platform).refresh_grant
    with current_app.extensions["db"].session() as session:
        row = session.execute(select(Store).filter_by(id=store.id).with_for_update()).scalar_one()
        if _needs_refresh(row):  # nobody renewed it while we waited for the lock
            if not row.refresh_token_enc or refresh_grant is None:
                raise CredentialsUnavailable("access token expired and no refresh token")
            try:
                grant = refresh_grant(store_base_url(row), box.decrypt(row.refresh_token_enc),
                                      api_key=_setting(row.platform, "API_KEY"),
                                      api_secret=_setting(row.platform, "API_SECRET"),
                                      policy=policy)
            except PermanentError as exc:
                raise CredentialsUnavailable(f"token refresh refused, reinstall the app: "
                                             f"{exc}") from exc
            except ConnectorError as exc:
                raise CredentialsUnavailable(f"token refresh failed: {exc}") from exc
            save_grant(row, grant)
        for name in ("access_token_enc", "access_token_expires_at", "refresh_token_enc",
                     "refresh_token_expires_at", "scopes"):
            setattr(store, name, getattr(row, name))
    return box.decrypt(store.access_token_enc)


def store_client(store: Store, on_attempt: Callable[[Attempt], None] | None = None,
                 policy: RetryPolicy | None = None) -> ApiClient:
    """The platform's API client for a store, with a secret that has not expired."""
    return platform_for(store.platform).client(
        store_base_url(store), store_secret(store, policy),
        api_version=_setting(store.platform, "API_VERSION"), on_attempt=on_attempt,
        policy=policy)
