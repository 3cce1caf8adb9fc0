"""A local stand-in for a shop's Admin GraphQL API, faithful where Tagwise depends on it.

- ``POST /admin/api/<version>/graphql.json`` with ``X-Shopify-Access-Token`` (401 otherwise).
- Documents are parsed and validated against a schema slice (graphql-core), so a malformed
  query fails the way Shopify's does: HTTP 200 with ``errors``.
- ``tagsAdd`` / ``tagsRemove`` touch only the named tags, case-insensitively, and answer
  ``userErrors`` for an unknown customer.
- Cost-based throttling: a bucket of 1,000 points restored at 100/s on an injectable clock;
  each mutation costs 10, a query 1 per node. A document that does not fit is answered
  ``THROTTLED`` (HTTP 200) with ``extensions.cost.throttleStatus``, as Shopify does.
- ``fail_next`` queues raw failures (e.g. 429 with ``Retry-After``, 503) for retry tests.
- History (orders, customers, bulk operations and their JSONL files) lives in
  ``tests/standins/shopify_history.py``; the bucket's size and restore rate are settable, and
  a query's cost is computed from the document as Shopify does (connections by ``first``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import build_schema, graphql_sync
from werkzeug.wrappers import Request, Response

from tests.standins.shopify_history import (
    HISTORY_SDL,
    MAX_QUERY_COST,
    ShopHistory,
    query_cost,
)

SCHEMA = build_schema(HISTORY_SDL + """
type Query { customer(id: ID!): Customer }
type Mutation {
  tagsAdd(id: ID!, tags: [String!]!): TagsAddPayload
  tagsRemove(id: ID!, tags: [String!]!): TagsRemovePayload
}
interface Node { id: ID! }
type Customer implements Node { id: ID! tags: [String!]! email: String }
type UserError { field: [String!] message: String! }
type TagsAddPayload { node: Node userErrors: [UserError!]! }
type TagsRemovePayload { node: Node userErrors: [UserError!]! }
""")

BUCKET_SIZE = 1000.0
RESTORE_RATE = 100.0
MUTATION_COST = 10
GID = "gid://shopify/Customer/"


@dataclass
class ShopifyStandIn:
    """In-memory shop: customers with tags, a cost bucket, and a log of every request."""

    access_token: str = "shpat_test"
    clock: Callable[[], float] = time.monotonic
    customers: dict[str, list[str]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_next: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    available: float = BUCKET_SIZE
    bucket_size: float = BUCKET_SIZE
    restore_rate: float = RESTORE_RATE
    history: ShopHistory = field(default_factory=ShopHistory)
    throttled: int = 0  # THROTTLED answers given
    _last: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.available = min(self.available, self.bucket_size)
        self.history.tags = self.customers  # customers from the history can be tagged

    def tags_of(self, customer_id: str) -> list[str]:
        """The customer's tags as the shop holds them."""
        return sorted(self.customers[str(customer_id)])

    def mutation_requests(self) -> list[dict[str, Any]]:
        """Logged GraphQL requests that carried a mutation."""
        return [r for r in self.requests if r["query"].lstrip().startswith("mutation")]

    # ------------------------------------------------------------------ resolvers

    def _customer(self, gid: str) -> list[str] | None:
        return self.customers.get(gid.removeprefix(GID)) if gid.startswith(GID) else None

    def _tags(self, _root: Any, _info: Any, id: str, tags: list[str], add: bool) -> dict:
        current = self._customer(id)
        if current is None:
            return {"node": None, "userErrors": [{"field": ["id"], "message":
                                                  "Customer does not exist"}]}
        lowered = {t.lower() for t in tags}
        if add:
            present = {t.lower() for t in current}
            current.extend(t for t in tags if t.lower() not in present)
        else:
            current[:] = [t for t in current if t.lower() not in lowered]
        return {"node": {"__typename": "Customer", "id": id, "tags": current}, "userErrors": []}

    def _root(self) -> dict[str, Any]:
        return {
            **self.history.resolvers(),
            "tagsAdd": lambda info, id, tags: self._tags(None, info, id, tags, True),
            "tagsRemove": lambda info, id, tags: self._tags(None, info, id, tags, False),
            "customer": lambda info, id: (
                {"id": id, "tags": self._customer(id), "email": None}
                if self._customer(id) is not None else None),
        }

    # ------------------------------------------------------------------ HTTP

    def _refill(self) -> None:
        now = self.clock()
        if self._last is not None:
            self.available = min(self.bucket_size,
                                 self.available + (now - self._last) * self.restore_rate)
        self._last = now

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        request = Request(environ)
        response = self._handle(request)
        return response(environ, start_response)

    def _handle(self, request: Request) -> Response:
        if request.path.startswith("/bulk-results/") and request.method == "GET":
            number = request.path.removeprefix("/bulk-results/").removesuffix(".jsonl")
            return self.history.download(int(number) if number.isdigit() else 0,
                                         dict(request.headers))
        if not request.path.endswith("/graphql.json") or request.method != "POST":
            return _json({"errors": "Not Found"}, 404)
        self.requests.append({"query": "", "variables": {}, "headers": dict(request.headers)})
        if request.headers.get("X-Shopify-Access-Token") != self.access_token:
            return _json({"errors": "[API] Invalid API key or access token (unrecognized login "
                                    "or wrong password)"}, 401)
        try:
            body = json.loads(request.get_data())
            query, variables = body["query"], body.get("variables") or {}
        except (ValueError, KeyError, TypeError):
            return _json({"errors": {"query": "Required parameter missing or invalid"}}, 400)
        with self._lock:
            self.requests[-1].update(query=query, variables=variables)
            if self.fail_next:
                status, headers = self.fail_next.pop(0)
                return _json({"errors": "Exceeded 2 calls per second for api client."
                              if status == 429 else "Internal Server Error"}, status, headers)
            self._refill()
            cost = (MUTATION_COST * (query.count("tagsAdd(") + query.count("tagsRemove("))
                    or query_cost(query, variables))
            status = {"maximumAvailable": self.bucket_size, "currentlyAvailable": self.available,
                      "restoreRate": self.restore_rate}
            if cost > MAX_QUERY_COST:
                return _json({"errors": [{"message": f"Query cost is {cost}, which exceeds the "
                                          f"single query max cost limit ({MAX_QUERY_COST}).",
                                          "extensions": {"code": "MAX_COST_EXCEEDED",
                                                         "cost": cost,
                                                         "maxCost": MAX_QUERY_COST}}]}, 200)
            if cost > self.available:
                self.throttled += 1
                return _json({"errors": [{"message": "Throttled",
                                          "extensions": {"code": "THROTTLED"}}],
                              "extensions": {"cost": {"requestedQueryCost": cost,
                                                      "actualQueryCost": None,
                                                      "throttleStatus": status}}}, 200)
            self.available -= cost
            root = self._root()
            context = {"schema": SCHEMA, "root": root, "base_url": request.host_url.rstrip("/")}
            result = graphql_sync(SCHEMA, query, root_value=root, variable_values=variables,
                                  context_value=context)
        answer: dict[str, Any] = {"data": result.data}
        if result.errors:
            answer = {"errors": [{"message": e.message} for e in result.errors]}
        answer["extensions"] = {"cost": {"requestedQueryCost": cost, "actualQueryCost": cost,
                                         "throttleStatus": {**status,
                                                            "currentlyAvailable": self.available}}}
        return _json(answer, 200)


def _json(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers or {},
                    content_type="application/json")
