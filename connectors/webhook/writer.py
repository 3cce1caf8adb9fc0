"""Write segment changes to a merchant's URL: one signed POST per batch of customers.

Each change carries the customer's complete set of our tags (``tags``) beside what it gained
(``added``) and lost (``removed``), so a receiver that applies ``tags`` is correct even if it
missed or repeated a delivery. The idempotency key names the batch: retries of one delivery
carry the same key, so a receiver can drop the copies a timeout made it receive twice.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from connectors.base import (
    EVERY_CUSTOMER,
    OK,
    PERMANENT,
    TRANSIENT,
    ChangeOutcome,
    ConnectorError,
    DestinationKind,
    DestinationOption,
    InvalidSetting,
    PermanentError,
    TagChange,
    TransientError,
    WriterContext,
)
from connectors.netguard import UnsafeURL, ensure_public_url
from connectors.webhook import consts
from connectors.webhook.client import WebhookClient

MIN_SECRET_LENGTH = 16  # the generated ones are 43 characters


def change_entry(change: TagChange) -> dict[str, Any]:
    """One customer's change as the payload lists it."""
    return {"customer_id": change.customer_id,
            "platform_customer_id": change.platform_customer_id,
            "email": change.email,
            "tags": sorted(change.tags),
            "added": sorted(change.add),
            "removed": sorted(change.remove),
            "properties": dict(change.properties)}


class WebhookWriter:
    """A :class:`connectors.base.TagWriter` POSTing batches of changes to one URL."""

    def __init__(
        self,
        client: WebhookClient,
        *,
        store_id: int,
        store_domain: str,
        changes_per_delivery: int = consts.CHANGES_PER_DELIVERY,
        new_key: Callable[[], str] = lambda: uuid.uuid4().hex,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.client = client
        self.store = {"id": store_id, "domain": store_domain}
        self.changes_per_delivery = changes_per_delivery
        self.new_key = new_key
        self.now = now

    def write(self, changes: Sequence[TagChange]) -> list[ChangeOutcome]:
        """Deliver the changes in batches; every change of a batch shares its batch's outcome."""
        outcomes: list[ChangeOutcome] = []
        for start in range(0, len(changes), self.changes_per_delivery):
            batch = changes[start : start + self.changes_per_delivery]
            status, error = self._deliver(batch)
            outcomes.extend(ChangeOutcome(c.customer_id, status, error) for c in batch)
        return outcomes

    def payload(self, key: str, batch: Sequence[TagChange]) -> bytes:
        """The JSON body of one delivery (compact, UTF-8)."""
        document = {"id": key, "type": consts.EVENT_SEGMENTS_CHANGED,
                    "created_at": self.now().isoformat().replace("+00:00", "Z"),
                    "store": self.store, "changes": [change_entry(c) for c in batch]}
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def _deliver(self, batch: Sequence[TagChange]) -> tuple[str, str | None]:
        key = self.new_key()
        try:
            self.client.deliver(self.payload(key, batch), key, consts.EVENT_SEGMENTS_CHANGED)
        except TransientError as exc:
            return TRANSIENT, f"{exc.reason}: {exc}"[:500]
        except ConnectorError as exc:
            return PERMANENT, f"{exc.reason}: {exc}"[:500]
        return OK, None


# ---------------------------------------------------------------------- destination kind


def build_writer(context: WriterContext) -> WebhookWriter:
    """A writer for the context's URL, refused when the URL leads somewhere private."""
    url = context.config.get("url") or ""
    try:
        ensure_public_url(url, allow_private=context.allow_private_urls)
    except UnsafeURL as exc:
        raise PermanentError(str(exc), reason="unsafe_url") from exc
    client = WebhookClient(url, context.credentials or "", on_attempt=context.on_attempt,
                           policy=context.policy)
    return WebhookWriter(client, store_id=context.store_id, store_domain=context.store_domain)


def check_settings(config: Mapping[str, Any], credentials: str | None, *,
                   allow_private_urls: bool) -> None:
    """Refuse a URL that is not public http(s) and a signing secret too short to be one."""
    try:
        ensure_public_url(config.get("url") or "", allow_private=allow_private_urls)
    except UnsafeURL as exc:
        raise InvalidSetting("url", str(exc)) from exc
    if len(credentials or "") < MIN_SECRET_LENGTH:
        raise InvalidSetting("signing_secret",
                             f"a signing secret needs {MIN_SECRET_LENGTH}+ characters")


DESTINATION = DestinationKind(
    kind="webhook",
    summary="POST segment changes as signed JSON to your URL (Zapier, Make, n8n, your code).",
    audience=EVERY_CUSTOMER, build_writer=build_writer, check=check_settings,
    credential=DestinationOption("signing_secret",
                                 "HMAC key of the signatures; generated and printed when omitted"),
    generate_credential=lambda: secrets.token_urlsafe(32),
    options=(DestinationOption("url", "The https URL that receives the POSTs", required=True),))
