"""Write segment tags to Shopify customers with ``tagsAdd`` / ``tagsRemove``.

Never ``customerUpdate``: it replaces the whole tag list and would wipe the merchant's own tags
(shopify.dev/docs/api/admin-graphql/latest/mutations/tagsAdd). Several customers share one
GraphQL document through aliases, so a burst costs a few requests, not one per customer.
"""

from __future__ import annotations

from collections.abc import Sequence

from connectors.base import (
    STORE_CUSTOMERS,
    ChangeOutcome,
    ConnectorError,
    DestinationKind,
    TagChange,
    TransientError,
    WriterContext,
)
from connectors.shopify.client import ShopifyClient
from connectors.shopify.consts import CUSTOMER_GID_PREFIX, MAX_TAG_LENGTH

# Each tags mutation costs 10 points; 25 customers (≤ 50 mutations) stay far below the
# 1,000-point single-query ceiling.
CUSTOMERS_PER_DOCUMENT = 25


def build_document(changes: Sequence[TagChange]) -> tuple[str, dict[str, object]]:
    """One aliased mutation document (and its variables) for a batch of changes."""
    params: list[str] = []
    fields: list[str] = []
    variables: dict[str, object] = {}
    payload = "node { id } userErrors { field message }"
    for i, change in enumerate(changes):
        variables[f"id{i}"] = f"{CUSTOMER_GID_PREFIX}{change.platform_customer_id}"
        params.append(f"$id{i}: ID!")
        for verb, alias, tags in (("tagsAdd", "a", change.add), ("tagsRemove", "r", change.remove)):
            if tags:
                variables[f"{alias}{i}"] = sorted(tags)
                params.append(f"${alias}{i}: [String!]!")
                fields.append(f"{alias}{i}: {verb}(id: $id{i}, tags: ${alias}{i}) {{ {payload} }}")
    query = f"mutation TagwiseSync({', '.join(params)}) {{\n  " + "\n  ".join(fields) + "\n}"
    return query, variables


class ShopifyTagWriter:
    """A TagWriter for one shop."""

    def __init__(self, client: ShopifyClient):
        self.client = client

    def write(self, changes: Sequence[TagChange]) -> list[ChangeOutcome]:
        """Apply every change; a failed batch marks only its own customers."""
        outcomes: list[ChangeOutcome] = []
        sendable: list[TagChange] = []
        for change in changes:
            problem = _problem(change)
            if problem:
                outcomes.append(ChangeOutcome(change.customer_id, "permanent", problem))
            elif change.add or change.remove:
                sendable.append(change)
            else:
                outcomes.append(ChangeOutcome(change.customer_id, "ok"))
        for start in range(0, len(sendable), CUSTOMERS_PER_DOCUMENT):
            outcomes.extend(self._write_batch(sendable[start:start + CUSTOMERS_PER_DOCUMENT]))
        return outcomes

    def _write_batch(self, batch: Sequence[TagChange]) -> list[ChangeOutcome]:
        query, variables = build_document(batch)
        try:
            data = self.client.graphql(query, variables)
        except ConnectorError as exc:
            status = "transient" if isinstance(exc, TransientError) else "permanent"
            return [ChangeOutcome(c.customer_id, status, str(exc)[:500]) for c in batch]
        outcomes = []
        for i, change in enumerate(batch):
            errors = []
            for alias in (f"a{i}", f"r{i}"):
                result = data.get(alias)
                if result is None and alias in _aliases(change, i):
                    errors.append(f"{alias}: no result")
                elif result:
                    errors.extend(e.get("message", "") for e in result.get("userErrors") or [])
            if errors:
                outcomes.append(ChangeOutcome(change.customer_id, "permanent", "; ".join(errors)))
            else:
                outcomes.append(ChangeOutcome(change.customer_id, "ok"))
        return outcomes


def _aliases(change: TagChange, i: int) -> set[str]:
    return {alias for alias, tags in ((f"a{i}", change.add), (f"r{i}", change.remove)) if tags}


def _problem(change: TagChange) -> str | None:
    if not change.platform_customer_id:
        return "guest customer: no Shopify customer to tag"
    if any(len(tag) > MAX_TAG_LENGTH for tag in change.add):
        return f"tag longer than {MAX_TAG_LENGTH} characters"
    return None


def build_writer(context: WriterContext) -> ShopifyTagWriter:
    """The tag writer of the context's shop."""
    return ShopifyTagWriter(context.store_client())  # type: ignore[arg-type]


DESTINATION = DestinationKind(
    kind="shopify_tags", summary="Segments as tags on the shop's own customers.",
    audience=STORE_CUSTOMERS, build_writer=build_writer, added_with_store=True)
