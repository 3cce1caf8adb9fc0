"""Write segments to WooCommerce customers as namespaced meta, 100 customers per request.

WooCommerce customers have no tags. Tagwise keeps the customer's segment keys (tags without
the store prefix) as a list in one meta key (default ``_tagwise_segments``) plus the R/F/M
scores and RFM group beside it. The REST API updates ``meta_data`` by key and deletes a key
whose value is null, so sending only our keys leaves every other meta key of the merchant
alone; the full meta list is never written.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from connectors.base import (
    OK,
    PERMANENT,
    STORE_CUSTOMERS,
    TRANSIENT,
    ChangeOutcome,
    ConnectorError,
    DestinationKind,
    TagChange,
    TransientError,
    WriterContext,
)
from connectors.woocommerce.client import WooCommerceClient
from connectors.woocommerce.consts import BATCH_SIZE, DEFAULT_META_KEY, PROPERTY_META_KEYS

NO_PLATFORM_CUSTOMER = "no_platform_customer"
BAD_PLATFORM_CUSTOMER_ID = "bad_platform_customer_id"
MISSING_FROM_RESPONSE = "missing_from_batch_response"


class WooCommerceMetaWriter:
    """A :class:`connectors.base.TagWriter` storing segment keys in customer meta."""

    def __init__(self, client: WooCommerceClient, *, prefix: str, meta_key: str = DEFAULT_META_KEY):
        self.client = client
        self.prefix = prefix
        self.meta_key = meta_key

    def write(self, changes: Sequence[TagChange]) -> list[ChangeOutcome]:
        """Apply the changes in batches of 100; return one outcome per change, in order."""
        outcomes: dict[int, ChangeOutcome] = {}
        writable: list[tuple[int, TagChange, dict[str, Any]]] = []
        for index, change in enumerate(changes):
            if change.platform_customer_id is None:
                # Guests exist only on orders; there is no WooCommerce customer to write to.
                outcomes[index] = _permanent(change, NO_PLATFORM_CUSTOMER)
                continue
            woo_id = _customer_id(change.platform_customer_id)
            if woo_id is None:
                outcomes[index] = _permanent(change, BAD_PLATFORM_CUSTOMER_ID)
                continue
            writable.append((index, change, self.customer_update(woo_id, change)))
        for start in range(0, len(writable), BATCH_SIZE):
            batch = writable[start : start + BATCH_SIZE]
            for index, outcome in self._write_batch(batch):
                outcomes[index] = outcome
        return [outcomes[index] for index in range(len(changes))]

    def segment_keys(self, change: TagChange) -> list[str]:
        """Return the change's tags as sorted segment keys (the store prefix stripped)."""
        return sorted({_strip_prefix(tag, self.prefix) for tag in change.tags})

    def customer_update(self, customer_id: int, change: TagChange) -> dict[str, Any]:
        """Build the batch item for one customer: our meta keys only."""
        meta = [{"key": self.meta_key, "value": self.segment_keys(change)}]
        for prop, key in PROPERTY_META_KEYS.items():
            # A property present as None deletes the key (no orders, no score); one absent
            # from the change is left as it is.
            if prop in change.properties:
                meta.append({"key": key, "value": change.properties[prop]})
        return {"id": customer_id, "meta_data": meta}

    def _write_batch(
        self, batch: list[tuple[int, TagChange, dict[str, Any]]]
    ) -> list[tuple[int, ChangeOutcome]]:
        try:
            answer = self.client.batch_update_customers([update for _, _, update in batch])
        except TransientError as exc:
            return [(i, ChangeOutcome(c.customer_id, TRANSIENT, str(exc))) for i, c, _ in batch]
        except ConnectorError as exc:
            return [(i, ChangeOutcome(c.customer_id, PERMANENT, str(exc))) for i, c, _ in batch]
        results = answer.get("update")
        items = results if isinstance(results, list) else []
        by_id = {item.get("id"): item for item in items if isinstance(item, Mapping)}
        return [(i, _item_outcome(c, by_id.get(update["id"]))) for i, c, update in batch]


def is_own_echo(
    customer_payload: Mapping[str, Any], meta_key: str, expected_keys: Collection[str]
) -> bool:
    """Return True when a customer webhook's segment meta equals what we last wrote.

    Our batch write fires ``customer.updated``; if our meta key holds exactly the keys we
    wrote, the delivery carries nothing for segments to react to. The customer's other
    fields may still have changed, so upserting the customer stays harmless.
    """
    meta_data = customer_payload.get("meta_data")
    if not isinstance(meta_data, list):
        return False
    for entry in meta_data:
        if isinstance(entry, Mapping) and entry.get("key") == meta_key:
            value = entry.get("value")
            # PHP arrays with gaps in their keys come back as JSON objects.
            if isinstance(value, Mapping):
                value = list(value.values())
            if not isinstance(value, list):
                return False
            return set(map(str, value)) == set(expected_keys)
    return False


def _permanent(change: TagChange, error: str) -> ChangeOutcome:
    return ChangeOutcome(change.customer_id, PERMANENT, error)


def _customer_id(platform_customer_id: str) -> int | None:
    try:
        value = int(platform_customer_id)
    except ValueError:
        return None
    return value if value > 0 else None


def _strip_prefix(tag: str, prefix: str) -> str:
    return tag[len(prefix) :] if prefix and tag.startswith(prefix) else tag


def _item_outcome(change: TagChange, item: Mapping[str, Any] | None) -> ChangeOutcome:
    if item is None:
        return ChangeOutcome(change.customer_id, TRANSIENT, MISSING_FROM_RESPONSE)
    error = item.get("error")
    if not error:
        return ChangeOutcome(change.customer_id, OK)
    if not isinstance(error, Mapping):
        return ChangeOutcome(change.customer_id, PERMANENT, str(error))
    data = error.get("data")
    status = data.get("status") if isinstance(data, Mapping) else None
    # Batch items fail one by one with the error the single endpoint would give
    # ({"code", "message", "data": {"status"}}); only a server-side status is worth a retry.
    retryable = isinstance(status, int) and (status == 429 or status >= 500)
    text = f"{error.get('code', 'error')}: {error.get('message', '')}".strip()
    if status is not None:
        text = f"{text} (HTTP {status})"
    return ChangeOutcome(change.customer_id, TRANSIENT if retryable else PERMANENT, text)


def build_writer(context: WriterContext) -> WooCommerceMetaWriter:
    """The meta writer of the context's WooCommerce store."""
    return WooCommerceMetaWriter(context.store_client(),  # type: ignore[arg-type]
                                 prefix=context.prefix)


DESTINATION = DestinationKind(
    kind="woocommerce_meta", summary="Segments as meta on the store's own customers.",
    audience=STORE_CUSTOMERS, build_writer=build_writer, added_with_store=True)
