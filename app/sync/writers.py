"""Build the TagWriter for a destination: the registry from configuration to connector."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from flask import current_app

from app.clients import CredentialsUnavailable, store_client
from app.storage.models import Destination, Store
from app.storage.rate_governor import RedisRateGovernor
from connectors.base import Attempt, PermanentError, RetryPolicy, TagWriter, WriterContext
from connectors.registry import destination_kind


class DestinationUnavailable(CredentialsUnavailable):
    """The destination cannot be written now (uninstalled store, missing credentials)."""


def make_writer(store: Store, destination: Destination,
                on_attempt: Callable[[Attempt], None],
                policy: RetryPolicy | None = None) -> TagWriter:
    """The writer for one destination of one store, built by its kind in the registry."""
    if store.install_state != "active":
        raise DestinationUnavailable(f"store is {store.install_state}")
    try:
        kind = destination_kind(destination.kind)
    except KeyError:
        raise DestinationUnavailable(f"unknown destination kind {destination.kind}") from None
    credentials = None
    if kind.credential is not None:
        if not destination.credentials_enc:
            raise DestinationUnavailable(f"no {kind.credential.name.replace('_', ' ')}")
        credentials = current_app.extensions["secret_box"].decrypt(destination.credentials_enc)
    context = WriterContext(
        config=destination.config, credentials=credentials, store_id=store.id,
        store_domain=store.domain, prefix=store.tag_prefix,
        store_client=lambda: store_client(store, on_attempt, policy),
        on_attempt=on_attempt, policy=policy,
        allow_private_urls=current_app.config["TAGWISE_ALLOW_PRIVATE_URLS"],
        governor=rate_governor(destination, credentials,
                               sleep=policy.sleep if policy else time.sleep))
    try:
        return kind.build_writer(context)
    except PermanentError as exc:
        raise DestinationUnavailable(str(exc)) from exc


def rate_governor(destination: Destination, credentials: str | None,
                  sleep: Callable[[float], None] = time.sleep) -> RedisRateGovernor:
    """The governor of the vendor account behind a destination, shared by every process.

    Vendor limits are per account, so destinations with the same key (two stores syncing to
    one Klaviyo account) share one; the key itself never appears in Redis, only a digest.
    Its waits go through ``sleep`` (a run's wait counter: they are throttle waits too).
    """
    account = hashlib.sha256((credentials or f"destination-{destination.id}").encode())
    return RedisRateGovernor(current_app.extensions["redis"],
                             f"{destination.kind}:{account.hexdigest()[:16]}", sleep=sleep)


def budget_low(destination: Destination) -> bool:
    """True while the vendor account behind the destination is short of rate budget."""
    kind = destination_kind(destination.kind)
    if kind.rate_bucket is None or kind.credential is None or not destination.credentials_enc:
        return False
    credentials = current_app.extensions["secret_box"].decrypt(destination.credentials_enc)
    return rate_governor(destination, credentials).budget_low(kind.rate_bucket)
