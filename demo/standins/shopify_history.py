"""The history part of the Shopify stand-in: orders and customers to page through and export.

Mounted by ``demo/standins/shopify.py`` (schema extension, root resolvers, the JSONL route):

- ``orders`` / ``customers`` connections: ``first`` is required outside a bulk operation,
  ``after`` takes the previous page's ``endCursor``, ``query`` understands
  ``updated_at:>'<ISO 8601>'`` (anything else is an error, so a wrong filter cannot pass
  unnoticed), ``sortKey: UPDATED_AT`` sorts by update time; ``pageInfo`` as Shopify's.
- ``bulkOperationRunQuery(query, groupObjects)``: the inner document is validated against
  the same schema (invalid → ``userErrors``), one query operation at a time; the operation
  is ``CREATED``, then ``RUNNING`` for ``polls_before_done`` polls, then ``COMPLETED`` (or
  ``fail_with``'s status). ``node(id:)`` and ``currentBulkOperation`` report it.
- The result is a JSONL file served at ``/bulk-results/<n>.jsonl`` without the access token:
  one object per line, nested connection nodes on their own lines with ``__parentId``,
  children right after their parent only when ``groupObjects: true`` (2026-07 defaults to
  false and then lists every child after all parents). ``drop_download = (n, lines)`` breaks
  the download of operation n's file off after that many lines, once.
- ``nodes(ids:)`` answers the shop's products (one per product type, ``product_id``) with
  their ``productType``, null for an id the shop does not have; it costs 1 point per id.
- ``generate`` builds a deterministic shop of thousands of orders.
"""

from __future__ import annotations

import base64
import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from graphql import GraphQLError, graphql_sync, parse, validate
from graphql.language import FieldNode, OperationDefinitionNode
from werkzeug.wrappers import Response

HISTORY_SDL = """
scalar DateTime
scalar Decimal
scalar URL
scalar UnsignedInt64
extend type Query {
  orders(first: Int, after: String, query: String, sortKey: OrderSortKeys,
         reverse: Boolean): OrderConnection!
  customers(first: Int, after: String, query: String, sortKey: CustomerSortKeys,
            reverse: Boolean): CustomerConnection!
  node(id: ID!): Node
  nodes(ids: [ID!]!): [Node]!
  currentBulkOperation(type: BulkOperationType = QUERY): BulkOperation
}
extend type Mutation {
  bulkOperationRunQuery(query: String!, groupObjects: Boolean! = false):
    BulkOperationRunQueryPayload
}
extend type Customer {
  createdAt: DateTime!
  updatedAt: DateTime!
  defaultEmailAddress: CustomerEmailAddress
}
type CustomerEmailAddress {
  emailAddress: String
  marketingState: CustomerEmailAddressMarketingState!
}
enum CustomerEmailAddressMarketingState { INVALID NOT_SUBSCRIBED PENDING SUBSCRIBED UNSUBSCRIBED }
enum OrderSortKeys { CREATED_AT ID PROCESSED_AT TOTAL_PRICE UPDATED_AT }
enum CustomerSortKeys { CREATED_AT ID LOCATION NAME RELEVANCE UPDATED_AT }
enum OrderDisplayFinancialStatus {
  AUTHORIZED EXPIRED PAID PARTIALLY_PAID PARTIALLY_REFUNDED PENDING REFUNDED VOIDED
}
extend type PageInfo { hasPreviousPage: Boolean! startCursor: String }
type MoneyV2 { amount: Decimal! currencyCode: CurrencyCode! }
type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }
type Order implements Node {
  id: ID!
  createdAt: DateTime!
  updatedAt: DateTime!
  cancelledAt: DateTime
  test: Boolean!
  email: String
  currencyCode: CurrencyCode!
  customerAcceptsMarketing: Boolean!
  displayFinancialStatus: OrderDisplayFinancialStatus
  discountCodes: [String!]!
  totalPriceSet: MoneyBag!
  subtotalPriceSet: MoneyBag
  totalDiscountsSet: MoneyBag
  customer: Customer
  refunds(first: Int): [Refund!]!
  lineItems(first: Int, after: String): LineItemConnection!
}
type Refund implements Node { id: ID! createdAt: DateTime totalRefundedSet: MoneyBag! }
type LineItem implements Node {
  id: ID!
  quantity: Int!
  vendor: String
  variant: ProductVariant
  product: Product
  originalUnitPriceSet: MoneyBag!
}
type Product implements Node { id: ID! productType: String! }
type ProductVariant implements Node { id: ID! }
type OrderEdge { node: Order! cursor: String! }
type OrderConnection { edges: [OrderEdge!]! pageInfo: PageInfo! }
type CustomerEdge { node: Customer! cursor: String! }
type CustomerConnection { edges: [CustomerEdge!]! pageInfo: PageInfo! }
type LineItemEdge { node: LineItem! cursor: String! }
type LineItemConnection { edges: [LineItemEdge!]! pageInfo: PageInfo! }
enum BulkOperationStatus { CANCELED CANCELING COMPLETED CREATED EXPIRED FAILED RUNNING }
enum BulkOperationErrorCode { ACCESS_DENIED INTERNAL_SERVER_ERROR TIMEOUT }
enum BulkOperationType { MUTATION QUERY }
enum BulkOperationUserErrorCode { INVALID OPERATION_IN_PROGRESS }
type BulkOperation implements Node {
  id: ID!
  status: BulkOperationStatus!
  errorCode: BulkOperationErrorCode
  objectCount: UnsignedInt64!
  rootObjectCount: UnsignedInt64!
  fileSize: UnsignedInt64
  url: URL
  partialDataUrl: URL
  createdAt: DateTime!
  completedAt: DateTime
  query: String!
  type: BulkOperationType!
}
type BulkOperationUserError { field: [String!] message: String! code: BulkOperationUserErrorCode }
type BulkOperationRunQueryPayload {
  bulkOperation: BulkOperation
  userErrors: [BulkOperationUserError!]!
}
"""

ORDER_GID = "gid://shopify/Order/"
CUSTOMER_GID = "gid://shopify/Customer/"
PRODUCT_GID = "gid://shopify/Product/"
BULK_GID = "gid://shopify/BulkOperation/"
UPDATED_SINCE = re.compile(r"^updated_at:>'?([^']+)'?$")
WRAPPERS = {"edges", "node", "pageInfo"}  # connection plumbing costs nothing by itself
MAX_QUERY_COST = 1000  # shopify.dev/docs/api/usage/limits: a single query's ceiling


def money(amount: Decimal | str, currency: str = "USD") -> dict[str, Any]:
    """A MoneyBag with the same amount in shop and presentment money."""
    value = {"amount": str(amount), "currencyCode": currency}
    return {"shopMoney": value, "presentmentMoney": value}


def iso(when: datetime) -> str:
    """Shopify's DateTime form: UTC with a Z."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _connection(nodes: list[dict[str, Any]], first: int | None, after: str | None,
                key: Callable[[dict[str, Any]], Any], bulk: bool) -> dict[str, Any]:
    if first is None and not bulk:
        raise GraphQLError("you must provide one of first or last")
    start = 0
    if after:
        try:
            anchor = json.loads(base64.b64decode(after))
        except ValueError as exc:
            raise GraphQLError("Invalid cursor for current pagination") from exc
        start = next((i for i, n in enumerate(nodes) if list(key(n)) > anchor), len(nodes))
    page = nodes[start:] if bulk else nodes[start:start + first]
    cursors = [base64.b64encode(json.dumps(list(key(n))).encode()).decode() for n in page]
    return {"edges": [{"node": n, "cursor": c} for n, c in zip(page, cursors, strict=True)],
            "pageInfo": {"hasNextPage": not bulk and start + len(page) < len(nodes),
                         "hasPreviousPage": start > 0,
                         "startCursor": cursors[0] if cursors else None,
                         "endCursor": cursors[-1] if cursors else None}}


def _updated_since(search: str | None) -> datetime | None:
    if not search:
        return None
    match = UPDATED_SINCE.match(search.strip())
    if match is None:
        raise GraphQLError(f"stand-in understands only updated_at:>'...', not {search!r}")
    return datetime.fromisoformat(match.group(1).replace("Z", "+00:00"))


def query_cost(query: str, variables: dict[str, Any]) -> int:
    """Shopify's requested cost: objects 1, connections 2 + first × node cost, scalars 0."""
    try:
        document = parse(query)
    except GraphQLError:
        return 1

    def cost(selections: Any) -> int:
        total = 0
        for node in selections or ():
            if not isinstance(node, FieldNode):
                total += cost(node.selection_set.selections if node.selection_set else None)
                continue
            inner = cost(node.selection_set.selections) if node.selection_set else 0
            first = next((a.value for a in node.arguments or () if a.name.value == "first"), None)
            ids = next((a.value for a in node.arguments or () if a.name.value == "ids"), None)
            if ids is not None:  # nodes(ids:): each node it returns
                count = (len(variables.get(ids.name.value) or ()) if hasattr(ids, "name")
                         else len(getattr(ids, "values", ())))
                total += count * max(1, inner)
            elif first is not None:
                size = (variables.get(first.name.value) if hasattr(first, "name")
                        else int(first.value)) or 0
                total += 2 + int(size) * inner
            elif node.name.value in WRAPPERS:
                total += inner + (1 if node.name.value == "node" else 0)
            elif node.selection_set:
                total += 1 + inner
        return total

    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return max(1, sum(cost(op.selection_set.selections) for op in operations))


@dataclass
class BulkOperation:
    """One bulk query operation and, once finished, its JSONL result."""

    number: int
    query: str
    group_objects: bool
    polls_left: int
    status: str = "CREATED"
    error_code: str | None = None
    result: bytes = b""
    lines: int = 0
    roots: int = 0
    url: str | None = None

    @property
    def gid(self) -> str:
        return f"{BULK_GID}{self.number}"

    def view(self) -> dict[str, Any]:
        return {"__typename": "BulkOperation", "id": self.gid, "status": self.status,
                "errorCode": self.error_code, "objectCount": str(self.lines),
                "rootObjectCount": str(self.roots), "fileSize": str(len(self.result)),
                "url": self.url, "partialDataUrl": None, "createdAt": iso(datetime.now(UTC)),
                "completedAt": None, "query": self.query, "type": "QUERY"}


@dataclass
class ShopHistory:
    """Orders and customers of a shop (GraphQL-shaped) and its bulk operations."""

    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    operations: list[BulkOperation] = field(default_factory=list)
    polls_before_done: int = 0
    fail_with: tuple[str, str | None] | None = None  # e.g. ("FAILED", "TIMEOUT")
    drop_download: tuple[int, int] | None = None  # (operation number, lines sent)
    downloads: list[dict[str, str]] = field(default_factory=list)
    tags: dict[str, list[str]] = field(default_factory=dict)  # the shop's tag store
    products: dict[str, int] = field(default_factory=dict)  # product type -> product id

    # ------------------------------------------------------------------ data

    def add_customer(self, customer_id: int, email: str | None, created: datetime,
                     subscribed: bool = False) -> dict[str, Any]:
        """A customer as ``customers`` and bulk results show it."""
        node = {"__typename": "Customer", "id": f"{CUSTOMER_GID}{customer_id}",
                "createdAt": iso(created), "updatedAt": iso(created), "email": email,
                "defaultEmailAddress": {"emailAddress": email, "marketingState":
                                        "SUBSCRIBED" if subscribed else "NOT_SUBSCRIBED"}
                if email else None}
        self.customers[str(customer_id)] = node
        self.tags.setdefault(str(customer_id), [])
        return node

    def add_order(self, order_id: int, customer_id: int | None, created: datetime,
                  lines: list[tuple[str, int, Decimal]], *, email: str | None = None,
                  updated: datetime | None = None, cancelled: bool = False,
                  refunded: Decimal = Decimal(0), discount: Decimal = Decimal(0),
                  discount_code: str = "WELCOME10", vendor: str = "Tagwise Test Vendor") -> dict:
        """An order; ``lines`` are (product type, quantity, unit price) and sum to the total.

        Lines of one product type share one product (ids from 600, variant ids from 700), so
        a product's type can be looked up by its id as in a real shop.
        """
        subtotal = sum((q * p for _, q, p in lines), Decimal(0))
        total = subtotal - discount
        buyer = self.customers.get(str(customer_id)) if customer_id is not None else None
        status = "VOIDED" if cancelled else (
            "PARTIALLY_REFUNDED" if refunded else "PAID")
        items = [{"__typename": "LineItem", "id": f"gid://shopify/LineItem/{order_id * 10 + i}",
                  "quantity": quantity, "vendor": vendor,
                  "variant": {"id": f"gid://shopify/ProductVariant/{100 + product}"},
                  "product": {"id": f"{PRODUCT_GID}{product}",
                              "productType": product_type},
                  "originalUnitPriceSet": money(price)}
                 for i, (product_type, quantity, price) in enumerate(lines)
                 for product in [self.product_id(product_type)]]
        node = {
            "__typename": "Order", "id": f"{ORDER_GID}{order_id}", "createdAt": iso(created),
            "updatedAt": iso(updated or created),
            "cancelledAt": iso(created) if cancelled else None, "test": False,
            "email": email or (buyer or {}).get("email"), "currencyCode": "USD",
            "customerAcceptsMarketing": False, "displayFinancialStatus": status,
            "discountCodes": [discount_code] if discount else [],
            "totalPriceSet": money(total), "subtotalPriceSet": money(subtotal),
            "totalDiscountsSet": money(discount), "customer": buyer,
            "refunds": [{"id": f"gid://shopify/Refund/{order_id}", "createdAt": iso(created),
                         "totalRefundedSet": money(refunded)}] if refunded else [],
            "_lines": items,
        }
        self.orders[str(order_id)] = node
        return node

    def product_id(self, product_type: str) -> int:
        """The id of the shop's product of this type (one product per type)."""
        return self.products.setdefault(product_type, 600 + len(self.products))

    def generate(self, n_customers: int, n_orders: int, seed: int, now: datetime) -> None:
        """A deterministic shop: customers (some without orders), orders over two years,
        a few guests, cancellations, refunds and discounts."""
        rng = random.Random(seed)
        start = now - timedelta(days=730)
        for c in range(1, n_customers + 1):
            self.add_customer(10_000 + c, f"buyer{c}@example.com",
                              start + timedelta(days=rng.uniform(0, 30)), rng.random() < 0.5)
        kinds = ("Shirts", "Shoes", "Books", "")
        for o in range(1, n_orders + 1):
            created = start + timedelta(days=30 + rng.uniform(0, 690))
            guest = rng.random() < 0.03
            customer_id = None if guest else 10_000 + rng.randint(1, int(n_customers * 0.9))
            lines = [(rng.choice(kinds), rng.randint(1, 3),
                      Decimal(rng.randint(500, 9000)) / 100)
                     for _ in range(rng.randint(1, 3))]
            cancelled = rng.random() < 0.04
            refunded = (Decimal(rng.randint(100, 400)) / 100
                        if not cancelled and rng.random() < 0.05 else Decimal(0))
            self.add_order(100_000 + o, customer_id, created, lines,
                           email=f"guest{o}@example.com" if guest else None,
                           cancelled=cancelled, refunded=refunded,
                           discount=Decimal(5) if rng.random() < 0.2 else Decimal(0))

    # ------------------------------------------------------------------ resolvers

    def _order_view(self, node: dict[str, Any], bulk: bool) -> dict[str, Any]:
        view = {k: v for k, v in node.items() if k != "_lines"}
        lines = node["_lines"]
        view["lineItems"] = lambda info, first=None, after=None: _connection(
            lines, first, after, lambda n: (n["id"],), bulk)
        return view

    def _list(self, rows: dict[str, dict[str, Any]], query: str | None,
              sort_key: str | None) -> list:
        since = _updated_since(query)
        nodes = [n for n in rows.values()
                 if since is None or datetime.fromisoformat(
                     n["updatedAt"].replace("Z", "+00:00")) > since]
        return sorted(nodes, key=_sort_key(sort_key))

    def resolvers(self) -> dict[str, Callable[..., Any]]:
        """Root fields this half answers."""

        def orders(info, first=None, after=None, query=None, sortKey=None, reverse=False):
            bulk = bool(info.context.get("bulk"))
            nodes = [self._order_view(n, bulk)
                     for n in self._list(self.orders, query, sortKey)]
            return _connection(nodes, first, after, _sort_key(sortKey), bulk)

        def customers(info, first=None, after=None, query=None, sortKey=None, reverse=False):
            bulk = bool(info.context.get("bulk"))
            nodes = self._list(self.customers, query, sortKey)
            return _connection(nodes, first, after, _sort_key(sortKey), bulk)

        return {"orders": orders, "customers": customers, "node": self._node,
                "nodes": lambda info, ids: [self._product(gid) for gid in ids],
                "currentBulkOperation": lambda info, type="QUERY": (
                    self.operations[-1].view() if self.operations else None),
                "bulkOperationRunQuery": self._run}

    def _product(self, gid: str) -> dict[str, Any] | None:
        """A product by id (null for one the shop does not have, as ``nodes`` answers)."""
        for product_type, number in self.products.items():
            if gid == f"{PRODUCT_GID}{number}":
                return {"__typename": "Product", "id": gid, "productType": product_type}
        return None

    def _node(self, info: Any, id: str) -> dict[str, Any] | None:
        for operation in self.operations:
            if operation.gid == id:
                self._poll(operation, info.context)
                return operation.view()
        if id.startswith(ORDER_GID) and id.removeprefix(ORDER_GID) in self.orders:
            return self._order_view(self.orders[id.removeprefix(ORDER_GID)], False)
        if id.startswith(CUSTOMER_GID):
            return self.customers.get(id.removeprefix(CUSTOMER_GID))
        return None

    def _run(self, info: Any, query: str, groupObjects: bool = False) -> dict[str, Any]:
        if any(op.status in {"CREATED", "RUNNING"} for op in self.operations):
            return {"bulkOperation": None, "userErrors": [{
                "field": None, "code": "OPERATION_IN_PROGRESS",
                "message": "A bulk query operation for this app and shop is already in "
                           "progress."}]}
        try:
            errors = validate(info.schema, parse(query))
        except GraphQLError as exc:
            errors = [exc]
        if errors:
            return {"bulkOperation": None, "userErrors": [{
                "field": ["query"], "code": "INVALID",
                "message": f"Invalid bulk query: {errors[0].message}"}]}
        operation = BulkOperation(len(self.operations) + 1, query, groupObjects,
                                  self.polls_before_done)
        self.operations.append(operation)
        return {"bulkOperation": operation.view(), "userErrors": []}

    def _poll(self, operation: BulkOperation, context: dict[str, Any]) -> None:
        if operation.status not in {"CREATED", "RUNNING"}:
            return
        if operation.polls_left > 0:
            operation.polls_left -= 1
            operation.status = "RUNNING"
            return
        if self.fail_with:
            operation.status, operation.error_code = self.fail_with
            return
        result = graphql_sync(context["schema"], operation.query,
                              root_value=context["root"], context_value={"bulk": True})
        if result.errors:
            operation.status, operation.error_code = "FAILED", "INTERNAL_SERVER_ERROR"
            return
        lines = list(_flatten(result.data, operation.group_objects))
        operation.result = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
        operation.lines = len(lines)
        operation.roots = sum(1 for line in lines if "__parentId" not in line)
        operation.status = "COMPLETED"
        if lines:
            operation.url = f"{context['base_url']}/bulk-results/{operation.number}.jsonl"

    # ------------------------------------------------------------------ HTTP

    def download(self, number: int, headers: dict[str, str]) -> Response:
        """Serve a finished result (breaking off once if told to)."""
        self.downloads.append(headers)
        if not 0 < number <= len(self.operations) or not self.operations[number - 1].url:
            return Response("NoSuchKey", status=404)
        body = self.operations[number - 1].result
        if self.drop_download is None or self.drop_download[0] != number:
            return Response(body, content_type="application/jsonl")
        cut = self.drop_download[1]
        self.drop_download = None

        def broken() -> Iterator[bytes]:
            yield b"".join(line + b"\n" for line in body.splitlines()[:cut])
            raise ConnectionAbortedError("stand-in drops the download")

        # A declared length longer than what is sent: the client sees the body cut short.
        return Response(broken(), content_type="application/jsonl",
                        headers={"Content-Length": str(len(body))})


def _sort_key(sort_key: str | None) -> Callable[[dict[str, Any]], tuple]:
    if sort_key == "UPDATED_AT":
        return lambda n: (n["updatedAt"], int(n["id"].rsplit("/", 1)[1]))
    return lambda n: (int(n["id"].rsplit("/", 1)[1]),)


def _flatten(data: dict[str, Any], grouped: bool) -> Iterator[dict[str, Any]]:
    """Bulk JSONL lines: every connection node on its own line, children naming their parent."""
    later: list[dict[str, Any]] = []
    for connection in data.values():
        for edge in connection["edges"]:
            yield from _node_lines(edge["node"], None, grouped, later)
    yield from later


def _node_lines(node: dict[str, Any], parent: str | None, grouped: bool,
                later: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    flat = {k: v for k, v in node.items()
            if not (isinstance(v, dict) and "edges" in v)}
    if parent is not None:
        flat["__parentId"] = parent
    yield flat
    for value in node.values():
        if isinstance(value, dict) and "edges" in value:
            for edge in value["edges"]:
                children = _node_lines(edge["node"], node["id"], grouped, later)
                if grouped:
                    yield from children
                else:
                    later.extend(children)
