"""Write segment tags to Shopify customers with ``tagsAdd`` / ``tagsRemove``.

Never ``customerUpdate``: it replaces the whole tag list and would wipe the merchant's own tags
(shopify.dev/docs/api/admin-graphql/latest/mutations/tagsAdd). Several customers share one
GraphQL document through aliases, so a burst costs a few requests, not one per customer.

The tag budget (contracts README, "Tags": at most 250 tags per customer, 255 characters each)
never fails a batch: a tag that is too long is left out, and a customer whose own tags leave
too little room gets the tags that fit (its tags are read once, only after Shopify refused the
addition); both come back as a ``partial`` outcome naming what was left out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from connectors.base import (
    OK,
    PARTIAL,
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
from connectors.shopify.client import ShopifyClient
from connectors.shopify.consts import (
    CUSTOMER_GID_PREFIX,
    MAX_TAG_LENGTH,
    MAX_TAGS_PER_CUSTOMER,
)

# Each tags mutation costs 10 points; 25 customers (≤ 50 mutations) stay far below the
# 1,000-point single-query ceiling.
CUSTOMERS_PER_DOCUMENT = 25
CUSTOMER_TAGS_QUERY = "query TagwiseCustomerTags($id: ID!) { customer(id: $id) { tags } }"
ADD_TAGS_MUTATION = ("mutation TagwiseFitTags($id: ID!, $tags: [String!]!) { "
                     "tagsAdd(id: $id, tags: $tags) { userErrors { field message } } }")


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
        too_long: dict[int, list[str]] = {}
        for change in changes:
            if not change.platform_customer_id:
                outcomes.append(ChangeOutcome(change.customer_id, PERMANENT,
                                              "guest customer: no Shopify customer to tag"))
                continue
            change, too_long[change.customer_id] = _without_long_tags(change)
            if change.add or change.remove:
                sendable.append(change)
            else:
                outcomes.append(ChangeOutcome(change.customer_id, OK))
        for start in range(0, len(sendable), CUSTOMERS_PER_DOCUMENT):
            outcomes.extend(self._write_batch(sendable[start:start + CUSTOMERS_PER_DOCUMENT]))
        by_id = {c.customer_id: c for c in changes}
        return [_note_long_tags(o, by_id[o.customer_id], too_long.get(o.customer_id))
                for o in outcomes]

    def _write_batch(self, batch: Sequence[TagChange]) -> list[ChangeOutcome]:
        query, variables = build_document(batch)
        try:
            data = self.client.graphql(query, variables)
        except ConnectorError as exc:
            status = TRANSIENT if isinstance(exc, TransientError) else PERMANENT
            return [ChangeOutcome(c.customer_id, status, str(exc)[:500]) for c in batch]
        outcomes = []
        for i, change in enumerate(batch):
            errors = []
            add_refused = False
            for alias in (f"a{i}", f"r{i}"):
                result = data.get(alias)
                if result is None and alias in _aliases(change, i):
                    errors.append(f"{alias}: no result")
                elif result:
                    user_errors = result.get("userErrors") or []
                    add_refused |= alias.startswith("a") and any(
                        "tags" in (e.get("field") or []) for e in user_errors)
                    errors.extend(e.get("message", "") for e in user_errors)
            if add_refused and len(errors) == 1:
                outcomes.append(self._fit_budget(change, errors[0]))
            elif errors:
                outcomes.append(ChangeOutcome(change.customer_id, PERMANENT, "; ".join(errors)))
            else:
                outcomes.append(ChangeOutcome(change.customer_id, OK))
        return outcomes

    def _fit_budget(self, change: TagChange, refusal: str) -> ChangeOutcome:
        """After Shopify refused the tags: add those that fit beside the customer's own."""
        gid = f"{CUSTOMER_GID_PREFIX}{change.platform_customer_id}"
        try:
            customer = self.client.graphql(CUSTOMER_TAGS_QUERY, {"id": gid}).get("customer")
            if customer is None:
                return ChangeOutcome(change.customer_id, PERMANENT, refusal)
            present = {t.lower() for t in customer.get("tags") or []}
            missing = sorted(t for t in change.add if t.lower() not in present)
            room = max(0, MAX_TAGS_PER_CUSTOMER - len(present))
            if len(missing) <= room:  # the refusal was not about the budget
                return ChangeOutcome(change.customer_id, PERMANENT, refusal)
            fitting, dropped = missing[:room], missing[room:]
            if fitting:
                result = self.client.graphql(ADD_TAGS_MUTATION, {"id": gid, "tags": fitting})
                errors = (result.get("tagsAdd") or {}).get("userErrors") or []
                if errors:
                    return ChangeOutcome(change.customer_id, PERMANENT,
                                         "; ".join(e.get("message", "") for e in errors))
        except ConnectorError as exc:
            status = TRANSIENT if isinstance(exc, TransientError) else PERMANENT
            return ChangeOutcome(change.customer_id, status, str(exc)[:500])
        return ChangeOutcome(
            change.customer_id, PARTIAL,
            f"tag budget: {len(dropped)} tag(s) left out, the customer already carries "
            f"{len(present)} of Shopify's {MAX_TAGS_PER_CUSTOMER}: {', '.join(dropped)}"[:500],
            written=frozenset(change.tags - set(dropped)))


def _aliases(change: TagChange, i: int) -> set[str]:
    return {alias for alias, tags in ((f"a{i}", change.add), (f"r{i}", change.remove)) if tags}


def _without_long_tags(change: TagChange) -> tuple[TagChange, list[str]]:
    """The change without tags Shopify cannot store (over 255 characters), and those tags."""
    too_long = sorted(t for t in change.add if len(t) > MAX_TAG_LENGTH)
    if not too_long:
        return change, []
    return dataclasses.replace(change, add=change.add - set(too_long)), too_long


def _note_long_tags(outcome: ChangeOutcome, change: TagChange,
                    too_long: list[str] | None) -> ChangeOutcome:
    """Mark an ``ok`` or ``partial`` outcome with the long tags that were left out."""
    if not too_long or outcome.status not in (OK, PARTIAL):
        return outcome
    written = change.tags if outcome.written is None else outcome.written
    note = f"tag budget: {len(too_long)} tag(s) longer than {MAX_TAG_LENGTH} characters left out"
    if outcome.status == PARTIAL:
        note = f"{note}; {outcome.error}"
    return ChangeOutcome(change.customer_id, PARTIAL, note[:500],
                         written=frozenset(written - set(too_long)))


def build_writer(context: WriterContext) -> ShopifyTagWriter:
    """The tag writer of the context's shop."""
    return ShopifyTagWriter(context.store_client())  # type: ignore[arg-type]


DESTINATION = DestinationKind(
    kind="shopify_tags", summary="Segments as tags on the shop's own customers.",
    audience=STORE_CUSTOMERS, build_writer=build_writer, added_with_store=True)
