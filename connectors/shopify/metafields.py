"""Write each customer's scores as customer metafields in the ``tagwise`` namespace, so the
merchant's own Shopify Segments (and Flow, and Liquid) can filter on them.

The definitions are created first (``metafieldDefinitionCreate``; an existing one answers
``TAKEN``, which is fine): a metafield with a definition is typed, and only defined metafields
can be used in Shopify's customer segment editor. Values go out with ``metafieldsSet``, at most
25 metafields per call (the schema's own limit, contracts README "Shopify Admin GraphQL
schema"), several calls aliased into one document; a value that went away is removed with
``metafieldsDelete``. The sync's diff works on ``key=value`` strings, so only the values that
changed since the shop last confirmed them are sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
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
from connectors.shopify.client import ShopifyClient, shop_client
from connectors.shopify.consts import CUSTOMER_GID_PREFIX

NAMESPACE = "tagwise"
# key -> (metafield type, name shown in the Shopify admin, what it holds)
FIELDS: dict[str, tuple[str, str, str]] = {
    "rfm_group": ("single_line_text_field", "RFM group",
                  "Tagwise RFM group (champions, loyal, at-risk, ...)"),
    "lifecycle_stage": ("single_line_text_field", "Lifecycle stage",
                        "Tagwise lifecycle stage relative to the customer's own cadence"),
    "churn_risk": ("single_line_text_field", "Churn risk",
                   "Tagwise churn risk band from P(alive): high, medium or low"),
    "predicted_clv_12m": ("number_decimal", "Predicted 12-month CLV",
                          "Tagwise predicted customer lifetime value, next 12 months, shop money"),
    "expected_next_order_date": ("date", "Expected next order date",
                                 "Tagwise expected date of the customer's next order"),
}
MAX_METAFIELDS_PER_SET = 25
SETS_PER_DOCUMENT = 10  # 10 aliased metafieldsSet calls: 250 values for 100 cost points
MAX_IDENTIFIERS_PER_DELETE = 250  # input arrays are capped at 250 items
SEPARATOR = "="


def field_values(profile: Mapping[str, Any]) -> frozenset[str]:
    """The ``key=value`` strings a profile's metafields should hold (absent values left out).

    CLV is rounded to whole shop money units so a rescore's decimals do not rewrite every
    customer; the next order is a date, not a time.
    """
    values: dict[str, str | None] = {
        "rfm_group": profile.get("rfm_group"),
        "lifecycle_stage": profile.get("lifecycle_stage"),
        "churn_risk": profile.get("churn_risk"),
        "predicted_clv_12m": (f"{float(profile['predicted_clv_12m']):.0f}"
                              if profile.get("predicted_clv_12m") is not None else None),
        "expected_next_order_date": _date(profile.get("expected_next_order_at")),
    }
    return frozenset(f"{key}{SEPARATOR}{value}" for key, value in values.items() if value)


def _date(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    return str(value)[:10]


def split(pair: str) -> tuple[str, str]:
    """``key=value`` → (key, value)."""
    key, _, value = pair.partition(SEPARATOR)
    return key, value


DEFINITIONS_DOCUMENT = "mutation TagwiseMetafieldDefinitions(" + ", ".join(
    f"$d{i}: MetafieldDefinitionInput!" for i in range(len(FIELDS))) + ") {\n  " + "\n  ".join(
    f"d{i}: metafieldDefinitionCreate(definition: $d{i}) "
    "{ createdDefinition { id } userErrors { field message code } }"
    for i in range(len(FIELDS))) + "\n}"
DELETE_DOCUMENT = ("mutation TagwiseMetafieldsDelete($metafields: [MetafieldIdentifierInput!]!) "
                   "{ metafieldsDelete(metafields: $metafields) { deletedMetafields { key } "
                   "userErrors { field message } } }")


def definition_variables() -> dict[str, Any]:
    """The variables of :data:`DEFINITIONS_DOCUMENT`: one customer definition per field."""
    return {f"d{i}": {"namespace": NAMESPACE, "key": key, "name": name, "description": about,
                      "type": kind, "ownerType": "CUSTOMER", "pin": True}
            for i, (key, (kind, name, about)) in enumerate(FIELDS.items())}


def set_document(calls: int) -> str:
    """A document of ``calls`` aliased ``metafieldsSet`` mutations ($m0, $m1, ...)."""
    params = ", ".join(f"$m{i}: [MetafieldsSetInput!]!" for i in range(calls))
    fields = "\n  ".join(f"s{i}: metafieldsSet(metafields: $m{i}) "
                         "{ metafields { key } userErrors { field message code elementIndex } }"
                         for i in range(calls))
    return f"mutation TagwiseMetafieldsSet({params}) {{\n  {fields}\n}}"


class ShopifyMetafieldsWriter:
    """A TagWriter for one shop whose 'tags' are ``key=value`` metafield strings."""

    def __init__(self, client: ShopifyClient):
        self.client = client

    def write(self, changes: Sequence[TagChange]) -> list[ChangeOutcome]:
        """Define the fields, then set the changed values and delete the vanished ones."""
        outcomes: dict[int, ChangeOutcome] = {}
        writable = []
        for change in changes:
            if not change.platform_customer_id:
                outcomes[change.customer_id] = ChangeOutcome(
                    change.customer_id, PERMANENT, "guest customer: no Shopify customer")
            else:
                writable.append(change)
        if writable:
            problem = self._define()
            if problem:
                return list(outcomes.values()) + [
                    ChangeOutcome(c.customer_id, problem[0], problem[1]) for c in writable]
        groups = _groups(writable)
        for start in range(0, len(groups), SETS_PER_DOCUMENT):
            outcomes.update(self._set(groups[start:start + SETS_PER_DOCUMENT]))
        deletions = [c for c in writable if c.customer_id not in outcomes and _vanished(c)]
        for start in range(0, len(deletions), MAX_IDENTIFIERS_PER_DELETE // len(FIELDS)):
            outcomes.update(self._delete(deletions[start:start + MAX_IDENTIFIERS_PER_DELETE
                                                   // len(FIELDS)]))
        for change in writable:
            outcomes.setdefault(change.customer_id, ChangeOutcome(change.customer_id, OK))
        return list(outcomes.values())

    def _define(self) -> tuple[str, str] | None:
        """Create the definitions; None when they exist now, else (status, error)."""
        try:
            data = self.client.graphql(DEFINITIONS_DOCUMENT, definition_variables())
        except ConnectorError as exc:
            return _status(exc), f"metafield definitions: {exc}"[:500]
        errors = [e for result in data.values() for e in (result or {}).get("userErrors") or []
                  if e.get("code") != "TAKEN"]
        if errors:
            return PERMANENT, "metafield definitions refused: " + "; ".join(
                e.get("message", "") for e in errors)[:400]
        return None

    def _set(self, groups: list[list[TagChange]], *, again: bool = True
             ) -> dict[int, ChangeOutcome]:
        """Send the groups' values; a call refused for some customers is sent once more
        without them (metafieldsSet is atomic, ``elementIndex`` names the culprits)."""
        inputs = {f"m{i}": [(c, _input(c, pair)) for c in group for pair in sorted(c.add)]
                  for i, group in enumerate(groups)}
        try:
            data = self.client.graphql(set_document(len(groups)), {
                name: [item for _, item in pairs] for name, pairs in inputs.items()})
        except ConnectorError as exc:
            return {c.customer_id: ChangeOutcome(c.customer_id, _status(exc), str(exc)[:500])
                    for group in groups for c in group}
        outcomes: dict[int, ChangeOutcome] = {}
        retry: list[list[TagChange]] = []
        for i, group in enumerate(groups):
            errors = (data.get(f"s{i}") or {}).get("userErrors") or []
            if not errors:
                continue
            pairs = inputs[f"m{i}"]
            culprits = {pairs[e["elementIndex"]][0].customer_id: e.get("message", "")
                        for e in errors if isinstance(e.get("elementIndex"), int)
                        and e["elementIndex"] < len(pairs)}
            for change in group:
                message = culprits.get(change.customer_id) or "; ".join(
                    e.get("message", "") for e in errors)
                if change.customer_id in culprits or not culprits or not again:
                    outcomes[change.customer_id] = ChangeOutcome(change.customer_id,
                                                                 PERMANENT, message[:500])
            innocent = [c for c in group if c.customer_id not in outcomes]
            if innocent:
                retry.append(innocent)
        if retry:
            outcomes.update(self._set(retry, again=False))
        return outcomes

    def _delete(self, changes: list[TagChange]) -> dict[int, ChangeOutcome]:
        identifiers = [{"ownerId": f"{CUSTOMER_GID_PREFIX}{c.platform_customer_id}",
                        "namespace": NAMESPACE, "key": key}
                       for c in changes for key in sorted(_vanished(c))]
        try:
            data = self.client.graphql(DELETE_DOCUMENT, {"metafields": identifiers})
        except ConnectorError as exc:
            return {c.customer_id: ChangeOutcome(c.customer_id, _status(exc), str(exc)[:500])
                    for c in changes}
        errors = (data.get("metafieldsDelete") or {}).get("userErrors") or []
        if errors:
            message = "; ".join(e.get("message", "") for e in errors)[:500]
            return {c.customer_id: ChangeOutcome(c.customer_id, PERMANENT, message)
                    for c in changes}
        return {}


def _groups(changes: list[TagChange]) -> list[list[TagChange]]:
    """Customers with values to set, packed so no metafieldsSet call exceeds its 25."""
    groups: list[list[TagChange]] = []
    size = MAX_METAFIELDS_PER_SET
    for change in changes:
        if not change.add:
            continue
        if size + len(change.add) > MAX_METAFIELDS_PER_SET:
            groups.append([])
            size = 0
        groups[-1].append(change)
        size += len(change.add)
    return groups


def _input(change: TagChange, pair: str) -> dict[str, str]:
    key, value = split(pair)
    return {"ownerId": f"{CUSTOMER_GID_PREFIX}{change.platform_customer_id}",
            "namespace": NAMESPACE, "key": key, "value": value, "type": FIELDS[key][0]}


def _vanished(change: TagChange) -> set[str]:
    """Keys whose value went away without a new one (a new value simply overwrites)."""
    kept = {split(pair)[0] for pair in change.tags}
    return {split(pair)[0] for pair in change.remove} - kept


def _status(exc: ConnectorError) -> str:
    return TRANSIENT if isinstance(exc, TransientError) else PERMANENT


def build_writer(context: WriterContext) -> ShopifyMetafieldsWriter:
    """The metafields writer of the context's shop (its own access token)."""
    return ShopifyMetafieldsWriter(shop_client(context))


DESTINATION = DestinationKind(
    kind="shopify_metafields",
    summary="RFM group, lifecycle, churn risk, 12-month CLV and next order date as customer "
            "metafields (namespace tagwise) the shop's own segments can filter on.",
    audience=STORE_CUSTOMERS, build_writer=build_writer)
