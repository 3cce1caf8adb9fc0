"""GraphQL documents that read a shop's customers, orders and product types, and the bulk
JSONL reader.

The same field selections serve the paginated queries of reconciliation and the bulk
operations of a backfill, so both produce nodes that ``normalise.rest_order`` understands.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from connectors.base import Change, ConnectorError, PayloadError
from connectors.shopify.normalise import rest_customer, rest_order

MONEY = "shopMoney { amount currencyCode }"
CUSTOMER_FIELDS = ("id createdAt updatedAt "
                   "defaultEmailAddress { emailAddress marketingState }")
ORDER_FIELDS = f"""id createdAt updatedAt cancelledAt test email currencyCode
    customerAcceptsMarketing displayFinancialStatus discountCodes
    totalPriceSet {{ {MONEY} }} subtotalPriceSet {{ {MONEY} }} totalDiscountsSet {{ {MONEY} }}
    customer {{ {CUSTOMER_FIELDS} }}
    refunds {{ id createdAt totalRefundedSet {{ {MONEY} }} }}"""
LINE_ITEM_FIELDS = (f"id quantity vendor variant {{ id }} product {{ id productType }} "
                    f"originalUnitPriceSet {{ {MONEY} }}")
# shopify.dev/docs/api/usage/limits: a single query may cost at most 1,000 points, and a
# connection costs 2 + first × its node's cost: 10 orders of up to 10 lines each stay below it.
PAGE_SIZE = 10
LINES_PER_ORDER = 10

# Order webhooks name each line's product but not its type (contracts/payloads): types are
# read by id, up to 250 per query (Admin API input arrays hold at most 250 items; each node
# costs 1 point, so a full batch stays well below the 1,000-point ceiling).
PRODUCT_TYPES_QUERY = """
query ProductTypes($ids: [ID!]!) {
  nodes(ids: $ids) { ... on Product { id productType } }
}"""
PRODUCT_GID = "gid://shopify/Product/"
PRODUCTS_PER_QUERY = 250

BULK_RUN_MUTATION = """
mutation RunBulk($query: String!) {
  bulkOperationRunQuery(query: $query, groupObjects: true) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}"""
BULK_OPERATION_FIELDS = "id status errorCode objectCount rootObjectCount url partialDataUrl"
BULK_STATUS_QUERY = f"""
query BulkStatus($id: ID!) {{
  node(id: $id) {{ ... on BulkOperation {{ {BULK_OPERATION_FIELDS} }} }}
}}
"""
PAGE_QUERIES = {
    "orders": f"""
query ReconcileOrders($first: Int!, $after: String, $query: String) {{
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    edges {{ node {{ {ORDER_FIELDS}
      lineItems(first: {LINES_PER_ORDER}) {{ edges {{ node {{ {LINE_ITEM_FIELDS} }} }} }} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}""",
    "customers": f"""
query ReconcileCustomers($first: Int!, $after: String, $query: String) {{
  customers(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    edges {{ node {{ {CUSTOMER_FIELDS} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}""",
}
# Child lines of a bulk result name their parent in __parentId; their gid type says which
# connection of the parent they belong to.
CHILD_CONNECTIONS = {"LineItem": "lineItems"}


def updated_since_filter(since: datetime | None) -> str | None:
    """The search syntax for "updated after ``since``" (shopify.dev search syntax)."""
    return f"updated_at:>'{since.isoformat()}'" if since else None


def bulk_query(resource: str, since: datetime | None) -> str:
    """The bulk document for all ``customers`` or ``orders`` (with line items)."""
    search = updated_since_filter(since)
    arguments = f"(query: {json.dumps(search)})" if search else ""
    if resource == "customers":
        return f"{{ customers{arguments} {{ edges {{ node {{ {CUSTOMER_FIELDS} }} }} }} }}"
    if resource == "orders":
        return (f"{{ orders{arguments} {{ edges {{ node {{ {ORDER_FIELDS} "
                f"lineItems {{ edges {{ node {{ {LINE_ITEM_FIELDS} }} }} }} }} }} }} }}")
    raise ValueError(f"no bulk query for {resource}")


def read_records(lines: Iterable[bytes]) -> Iterator[tuple[dict[str, Any], int]]:
    """Reassemble bulk JSONL into root nodes with their children; yield (node, lines used).

    With ``groupObjects: true`` every child line follows its parent, so one root is held in
    memory at a time however large the file. The count is of lines read up to the end of
    the yielded record, so a consumer can resume after it by skipping that many lines.
    """
    current: dict[str, Any] | None = None
    read = 0
    for raw in lines:
        read += 1
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except ValueError as exc:
            raise PayloadError(f"bulk line {read} is not JSON") from exc
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise PayloadError(f"bulk line {read} is not an object with an id")
        parent = item.pop("__parentId", None)
        if parent is None:
            if current is not None:
                yield current, read - 1
            current = item
            continue
        if current is None or current["id"] != parent:
            raise PayloadError(f"bulk line {read}: child does not follow its parent "
                               "(was the operation run with groupObjects: true?)")
        kind = item["id"].split("/")[-2] if item["id"].count("/") >= 4 else ""
        connection = CHILD_CONNECTIONS.get(kind)
        if connection is None:
            raise PayloadError(f"bulk line {read}: unexpected child {kind or item['id']}")
        current.setdefault(connection, {"edges": []})["edges"].append({"node": item})
    if current is not None:
        yield current, read


RECONCILED = (("customers", "customers/update", rest_customer),
              ("orders", "orders/updated", rest_order))


def changes_since(client: Any, since: datetime | None) -> Iterator[Change | PayloadError]:
    """Every customer and order updated since ``since`` as webhook-shaped bodies (reconcile);
    a node that cannot be read is yielded as its PayloadError."""
    for resource, topic, shape in RECONCILED:
        for node in client.iter_nodes(resource, updated_since_filter(since)):
            try:
                body = shape(node)
            except PayloadError as exc:
                yield exc
                continue
            yield Change(topic, f"reconcile:{resource}:{body['id']}:{node.get('updatedAt')}", body)


def product_categories(client: Any, product_ids: list[str]) -> dict[str, str]:
    """Each product's type ("" for none, or for a product the shop no longer has), read with
    ``nodes(ids:)`` in batches; a batch whose query failed is left out, so the next order of
    those products tries again."""
    found: dict[str, str] = {}
    for start in range(0, len(product_ids), PRODUCTS_PER_QUERY):
        batch = product_ids[start:start + PRODUCTS_PER_QUERY]
        try:
            nodes = client.graphql(PRODUCT_TYPES_QUERY,
                                   {"ids": [f"{PRODUCT_GID}{pid}" for pid in batch]})["nodes"]
        except (ConnectorError, KeyError, TypeError):
            continue
        types = {node["id"].removeprefix(PRODUCT_GID): node.get("productType") or ""
                 for node in nodes or () if isinstance(node, dict) and node.get("id")}
        found.update((pid, types.get(pid, "")) for pid in batch)
    return found
