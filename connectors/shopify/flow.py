"""Fire a Shopify Flow trigger when a customer enters or leaves a Tagwise segment.

``flowTriggerReceive(handle:, payload:)`` (shopify.dev/docs/apps/build/flow/triggers) runs
every workflow of the shop that starts with the app's trigger extension of that handle; the
payload carries the extension's fields: ``customer_id`` (its ``customer_reference`` field, a
numeric id) and the ``Segment`` and ``Change`` text fields (the extension's configuration is
in ``examples/shopify-app/``). One trigger per customer and segment change, 25 aliased into a
document; a payload is far below Flow's 50 kB. Diff-based like the tag writer: the sync sends
what each customer gained and lost since Flow was last told.
"""

from __future__ import annotations

from collections.abc import Sequence

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
from connectors.shopify.client import ShopifyClient, shop_client

TRIGGER_HANDLE = "tagwise-segment-changed"
TRIGGERS_PER_DOCUMENT = 25
ENTERED, LEFT = "entered", "left"


def events(change: TagChange) -> list[dict[str, object]]:
    """The trigger payloads of one customer's change: one per segment entered or left."""
    customer_id = int(change.platform_customer_id or 0)
    return ([{"customer_id": customer_id, "Segment": tag, "Change": ENTERED}
             for tag in sorted(change.add)]
            + [{"customer_id": customer_id, "Segment": tag, "Change": LEFT}
               for tag in sorted(change.remove)])


def trigger_document(count: int) -> str:
    """``count`` aliased flowTriggerReceive mutations ($p0, $p1, ...)."""
    params = ", ".join(f"$p{i}: JSON!" for i in range(count))
    fields = "\n  ".join(f"t{i}: flowTriggerReceive(handle: $handle, payload: $p{i}) "
                         "{ userErrors { field message } }" for i in range(count))
    return f"mutation TagwiseFlowTriggers($handle: String!, {params}) {{\n  {fields}\n}}"


class ShopifyFlowWriter:
    """A TagWriter that tells Shopify Flow about segment changes instead of writing tags."""

    def __init__(self, client: ShopifyClient, handle: str = TRIGGER_HANDLE):
        self.client, self.handle = client, handle

    def write(self, changes: Sequence[TagChange]) -> list[ChangeOutcome]:
        """Fire every change's triggers; a customer is ok once all of its triggers went."""
        outcomes: dict[int, ChangeOutcome] = {}
        pending = []
        for change in changes:
            if not change.platform_customer_id or not change.platform_customer_id.isdigit():
                outcomes[change.customer_id] = ChangeOutcome(
                    change.customer_id, PERMANENT, "no Shopify customer to trigger Flow for")
            else:
                pending.extend((change.customer_id, event) for event in events(change))
        for start in range(0, len(pending), TRIGGERS_PER_DOCUMENT):
            for customer_id, outcome in self._fire(pending[start:start + TRIGGERS_PER_DOCUMENT]):
                if outcome.status != OK or customer_id not in outcomes:
                    outcomes[customer_id] = outcome
        for change in changes:
            outcomes.setdefault(change.customer_id, ChangeOutcome(change.customer_id, OK))
        return list(outcomes.values())

    def _fire(self, batch: list[tuple[int, dict[str, object]]]
              ) -> list[tuple[int, ChangeOutcome]]:
        variables: dict[str, object] = {"handle": self.handle}
        variables.update({f"p{i}": payload for i, (_, payload) in enumerate(batch)})
        try:
            data = self.client.graphql(trigger_document(len(batch)), variables)
        except ConnectorError as exc:
            status = TRANSIENT if isinstance(exc, TransientError) else PERMANENT
            return [(c, ChangeOutcome(c, status, str(exc)[:500])) for c, _ in batch]
        results = []
        for i, (customer_id, _) in enumerate(batch):
            errors = (data.get(f"t{i}") or {}).get("userErrors") or []
            results.append((customer_id, ChangeOutcome(
                customer_id, PERMANENT, "; ".join(e.get("message", "") for e in errors))
                if errors else ChangeOutcome(customer_id, OK)))
        return results


def build_writer(context: WriterContext) -> ShopifyFlowWriter:
    """The Flow writer of the context's shop (its own access token)."""
    return ShopifyFlowWriter(shop_client(context))


DESTINATION = DestinationKind(
    kind="shopify_flow",
    summary="Fire the Flow trigger 'Customer segment changed' when a customer enters or leaves "
            "a segment (its first pass records today's members without firing).",
    audience=STORE_CUSTOMERS, build_writer=build_writer)
