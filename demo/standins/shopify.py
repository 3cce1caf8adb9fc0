"""A local stand-in for a shop's Admin GraphQL API, faithful where Tagwise depends on it.

- ``POST /admin/api/<version>/graphql.json`` with ``X-Shopify-Access-Token`` (401 otherwise).
- Documents are validated against the real Admin 2026-07 schema
  (``../shared/contracts/specs/shopify/admin-2026-07.graphql``, see :func:`admin_schema`), then
  executed against a hand-written slice (graphql-core), so a document Shopify would refuse
  fails the way Shopify's does: HTTP 200 with ``errors``.
- Metafields: ``metafieldDefinitionCreate`` (``TAKEN`` for an existing namespace/key/owner),
  ``metafieldsSet`` (at most 25 per call, atomic, values checked against the definition's
  type), ``metafieldsDelete``; ``metafields`` holds ``{customer id: {"ns.key": value}}``.
- Flow: ``flowTriggerReceive(handle, payload)`` records each trigger in ``flow_triggers``
  (the payload at most 50 kB, the handle required).
- ``tagsAdd`` / ``tagsRemove`` touch only the named tags, case-insensitively, and answer
  ``userErrors`` for an unknown customer; a ``tagsAdd`` that would take a customer past 250
  tags, or adds a tag over 255 characters, is refused whole with a ``tags`` userError.
- Cost-based throttling: a bucket of 1,000 points restored at 100/s on an injectable clock;
  each mutation costs 10, a query 1 per node. A document that does not fit is answered
  ``THROTTLED`` (HTTP 200) with ``extensions.cost.throttleStatus``, as Shopify does.
- ``fail_next`` queues raw failures (e.g. 429 with ``Retry-After``, 503) for retry tests.
- OAuth install (see the "OAuth install" section): the authorize redirect, the token endpoint
  (single-use codes, expiring offline tokens with rotating refresh tokens) and webhook
  subscriptions (``webhookSubscriptions``, ``webhookSubscriptionCreate``), with the errors
  Shopify gives.
- History (orders, customers, bulk operations and their JSONL files) lives in
  ``demo/standins/shopify_history.py``; the bucket's size and restore rate are settable, and
  a query's cost is computed from the document as Shopify does (connections by ``first``).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    build_schema,
    execute,
    parse,
    validate,
)
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from demo.standins.shopify_history import (
    HISTORY_SDL,
    MAX_QUERY_COST,
    ShopHistory,
    query_cost,
)

ADMIN_SCHEMA_PATH = (Path(__file__).resolve().parents[3] / "shared" / "contracts" / "specs"
                     / "shopify" / "admin-2026-07.graphql")


@cache
def admin_schema():
    """The real Admin API schema of 2026-07 (built once per test session: a few seconds)."""
    # assume_valid: the captured schema has deprecation mismatches graphql-core would reject as
    # a schema, though Shopify serves it and they do not touch document validation.
    return build_schema(ADMIN_SCHEMA_PATH.read_text(), assume_valid=True)


def admin_errors(document: str) -> list[str]:
    """Why Shopify's 2026-07 schema refuses a document (empty when it validates)."""
    return list(_admin_errors(document))


# A client sends the same few documents again and again (the values travel as variables), so
# each text is parsed and validated once: the stand-in's own cost stays out of what a
# benchmark measures, and every document is still checked.
@lru_cache(maxsize=1024)
def _admin_errors(document: str) -> tuple[str, ...]:
    try:
        return tuple(e.message for e in validate(admin_schema(), parse(document)))
    except GraphQLError as exc:
        return (exc.message,)


@lru_cache(maxsize=1024)
def _checked(document: str) -> tuple[DocumentNode | None, tuple[GraphQLError, ...]]:
    """The document parsed and validated against the stand-in's executable slice."""
    try:
        parsed = parse(document)
    except GraphQLError as exc:
        return None, (exc,)
    return parsed, tuple(validate(SCHEMA, parsed))


BASE_SDL = """
scalar JSON
type Query { customer(id: ID!): Customer }
type Mutation {
  tagsAdd(id: ID!, tags: [String!]!): TagsAddPayload
  tagsRemove(id: ID!, tags: [String!]!): TagsRemovePayload
  metafieldDefinitionCreate(definition: MetafieldDefinitionInput!):
    MetafieldDefinitionCreatePayload
  metafieldsSet(metafields: [MetafieldsSetInput!]!): MetafieldsSetPayload
  metafieldsDelete(metafields: [MetafieldIdentifierInput!]!): MetafieldsDeletePayload
  flowTriggerReceive(handle: String, payload: JSON): FlowTriggerReceivePayload
}
enum MetafieldOwnerType { CUSTOMER ORDER PRODUCT }
input MetafieldDefinitionInput {
  namespace: String key: String! name: String! description: String
  ownerType: MetafieldOwnerType! type: String! pin: Boolean = false
}
input MetafieldsSetInput {
  ownerId: ID! namespace: String key: String! value: String! type: String
}
input MetafieldIdentifierInput { ownerId: ID! namespace: String! key: String! }
type MetafieldDefinition { id: ID! namespace: String! key: String! type: MetafieldDefinitionType! }
type MetafieldDefinitionType { name: String! }
type MetafieldDefinitionCreateUserError { code: String field: [String!] message: String! }
type MetafieldDefinitionCreatePayload {
  createdDefinition: MetafieldDefinition userErrors: [MetafieldDefinitionCreateUserError!]!
}
type Metafield { id: ID! namespace: String! key: String! value: String! type: String! }
type MetafieldsSetUserError {
  code: String elementIndex: Int field: [String!] message: String!
}
type MetafieldsSetPayload { metafields: [Metafield!] userErrors: [MetafieldsSetUserError!]! }
type MetafieldIdentifier { ownerId: ID! namespace: String! key: String! }
type MetafieldsDeletePayload {
  deletedMetafields: [MetafieldIdentifier] userErrors: [UserError!]!
}
type FlowTriggerReceivePayload { userErrors: [UserError!]! }
interface Node { id: ID! }
type Customer implements Node { id: ID! tags: [String!]! email: String }
type UserError { field: [String!] message: String! }
type TagsAddPayload { node: Node userErrors: [UserError!]! }
type TagsRemovePayload { node: Node userErrors: [UserError!]! }
"""

BUCKET_SIZE = 1000.0
RESTORE_RATE = 100.0
MUTATION_COST = 10
MUTATIONS = ("tagsAdd(", "tagsRemove(", "metafieldDefinitionCreate(", "metafieldsSet(",
             "metafieldsDelete(", "flowTriggerReceive(")
MAX_METAFIELDS_PER_SET = 25  # metafieldsSet: "Allows a maximum of 25 metafields" (schema)
MAX_FLOW_PAYLOAD_BYTES = 50_000
METAFIELD_TYPES: dict[str, Callable[[str], object]] = {
    "single_line_text_field": str, "number_decimal": float, "number_integer": int,
    "date": datetime.date.fromisoformat, "boolean": lambda v: {"true": 1, "false": 0}[v],
}
MAX_TAGS = 250
MAX_TAG_CHARS = 255
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
    metafield_definitions: dict[tuple[str, str, str], str] = field(default_factory=dict)
    metafields: dict[str, dict[str, str]] = field(default_factory=dict)
    flow_triggers: list[dict[str, Any]] = field(default_factory=list)
    _last: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    install: InstallState = field(default_factory=lambda: InstallState())

    def __post_init__(self) -> None:
        admin_schema()  # built once per process, before the first request waits for it
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
            new = [t for t in dict.fromkeys(tags) if t.lower() not in present]
            if any(len(t) > MAX_TAG_CHARS for t in new):
                return _tags_refused(f"Tags can't be longer than {MAX_TAG_CHARS} characters")
            if len(current) + len(new) > MAX_TAGS:
                return _tags_refused(f"Customer can't have more than {MAX_TAGS} tags")
            current.extend(new)
        else:
            current[:] = [t for t in current if t.lower() not in lowered]
        return {"node": {"__typename": "Customer", "id": id, "tags": current}, "userErrors": []}

    def _define_metafield(self, _info: Any, definition: dict[str, Any]) -> dict[str, Any]:
        key = (definition["ownerType"], definition.get("namespace") or "$app",
               definition["key"])
        if key in self.metafield_definitions:
            return {"createdDefinition": None, "userErrors": [{
                "code": "TAKEN", "field": ["definition", "key"],
                "message": "Key is in use for Customer metafields on the 'tagwise' namespace."}]}
        if definition["type"] not in METAFIELD_TYPES:
            return {"createdDefinition": None, "userErrors": [{
                "code": "INCLUSION", "field": ["definition", "type"],
                "message": "Type name is not included in the list"}]}
        self.metafield_definitions[key] = definition["type"]
        number = len(self.metafield_definitions)
        return {"createdDefinition": {"id": f"gid://shopify/MetafieldDefinition/{number}",
                                      "namespace": key[1], "key": key[2],
                                      "type": {"name": definition["type"]}}, "userErrors": []}

    def _set_metafields(self, _info: Any, metafields: list[dict[str, Any]]) -> dict[str, Any]:
        if len(metafields) > MAX_METAFIELDS_PER_SET:
            return {"metafields": None, "userErrors": [{
                "code": "LESS_THAN_OR_EQUAL_TO", "elementIndex": None, "field": ["metafields"],
                "message": f"Exceeded the maximum metafields input limit of "
                           f"{MAX_METAFIELDS_PER_SET}."}]}
        errors, written = [], []
        for index, item in enumerate(metafields):
            owner = item["ownerId"].removeprefix(GID)
            declared = self.metafield_definitions.get(
                ("CUSTOMER", item.get("namespace") or "$app", item["key"]))
            kind = item.get("type") or declared
            problem = None
            if owner not in self.customers:
                problem = ("INVALID", "Owner does not exist")
            elif kind is None:
                problem = ("BLANK", "Type can't be blank")
            elif declared and kind != declared:
                problem = ("INVALID_TYPE", f"Type must be {declared}")
            else:
                try:
                    METAFIELD_TYPES[kind](item["value"])
                except (KeyError, ValueError):
                    problem = ("INVALID_VALUE", f"Value is invalid for {kind}")
            if problem:
                errors.append({"code": problem[0], "elementIndex": index,
                               "field": ["metafields", str(index), "value"],
                               "message": problem[1]})
            written.append((owner, f"{item.get('namespace')}.{item['key']}", item["value"], kind))
        if errors:  # atomic: nothing is persisted when any element fails
            return {"metafields": None, "userErrors": errors}
        for owner, name, value, _ in written:
            self.metafields.setdefault(owner, {})[name] = value
        return {"metafields": [{"id": f"gid://shopify/Metafield/{i}", "namespace":
                                name.split(".")[0], "key": name.split(".", 1)[1], "value": value,
                                "type": kind} for i, (_, name, value, kind) in enumerate(written)],
                "userErrors": []}

    def _delete_metafields(self, _info: Any, metafields: list[dict[str, Any]]) -> dict[str, Any]:
        deleted = []
        for item in metafields:
            values = self.metafields.get(item["ownerId"].removeprefix(GID), {})
            found = values.pop(f"{item['namespace']}.{item['key']}", None)
            deleted.append(dict(item) if found is not None else None)
        return {"deletedMetafields": deleted, "userErrors": []}

    def _flow_trigger(self, _info: Any, handle: str | None = None,
                      payload: Any = None) -> dict[str, Any]:
        if not handle:
            return {"userErrors": [{"field": ["handle"], "message": "Handle can't be blank"}]}
        if len(json.dumps(payload)) > MAX_FLOW_PAYLOAD_BYTES:
            return {"userErrors": [{"field": ["payload"],
                                    "message": "Payload exceeds the 50 KB limit"}]}
        self.flow_triggers.append({"handle": handle, "payload": payload})
        return {"userErrors": []}

    def _root(self) -> dict[str, Any]:
        return {
            **self.history.resolvers(),
            "tagsAdd": lambda info, id, tags: self._tags(None, info, id, tags, True),
            "tagsRemove": lambda info, id, tags: self._tags(None, info, id, tags, False),
            "metafieldDefinitionCreate": self._define_metafield,
            "metafieldsSet": self._set_metafields,
            "metafieldsDelete": self._delete_metafields,
            "flowTriggerReceive": self._flow_trigger,
            "customer": lambda info, id: (
                {"id": id, "tags": self._customer(id), "email": None}
                if self._customer(id) is not None else None),
            **self.install.resolvers(),
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
        if request.path.startswith("/admin/oauth/"):
            with self._lock:
                return self.install.handle_oauth(request, self.fail_next)
        if request.path.startswith("/bulk-results/") and request.method == "GET":
            number = request.path.removeprefix("/bulk-results/").removesuffix(".jsonl")
            return self.history.download(int(number) if number.isdigit() else 0,
                                         dict(request.headers))
        if not request.path.endswith("/graphql.json") or request.method != "POST":
            return _json({"errors": "Not Found"}, 404)
        self.requests.append({"query": "", "variables": {}, "headers": dict(request.headers)})
        token = request.headers.get("X-Shopify-Access-Token")
        if token != self.access_token and not self.install.token_valid(token):
            return _json({"errors": "[API] Invalid API key or access token (unrecognized login "
                                    "or wrong password)"}, 401)
        try:
            body = json.loads(request.get_data())
            query, variables = body["query"], body.get("variables") or {}
        except (ValueError, KeyError, TypeError):
            return _json({"errors": {"query": "Required parameter missing or invalid"}}, 400)
        refused = admin_errors(query)  # before the request shows in the log, as answered
        with self._lock:
            self.requests[-1].update(query=query, variables=variables)
            if self.fail_next:
                status, headers = self.fail_next.pop(0)
                return _json({"errors": "Exceeded 2 calls per second for api client."
                              if status == 429 else "Internal Server Error"}, status, headers)
            if refused:  # what the real 2026-07 schema refuses, Shopify refuses
                return _json({"errors": [{"message": m} for m in refused]}, 200)
            self._refill()
            cost = (MUTATION_COST * sum(query.count(name) for name in MUTATIONS)
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
            document, errors = _checked(query)
            result = (ExecutionResult(None, list(errors)) if errors or document is None else
                      execute(SCHEMA, document, root_value=root, variable_values=variables,
                              context_value=context))
        answer: dict[str, Any] = {"data": result.data}
        if result.errors:
            answer = {"errors": [{"message": e.message} for e in result.errors]}
        answer["extensions"] = {"cost": {"requestedQueryCost": cost, "actualQueryCost": cost,
                                         "throttleStatus": {**status,
                                                            "currentlyAvailable": self.available}}}
        return _json(answer, 200)


def _tags_refused(message: str) -> dict[str, Any]:
    # The whole tagsAdd is refused, nothing applied (contracts README: 250 tags per customer,
    # 255 characters per tag); the exact wording of Shopify's message is not documented.
    return {"node": None, "userErrors": [{"field": ["tags"], "message": message}]}


def _json(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers or {},
                    content_type="application/json")


# --------------------------------------------------------------------------- OAuth install
# shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant
# and .../offline-access-tokens (expiring tokens: 1 h, refresh token rotated on every use).

INSTALL_SDL = """
extend type Query {
  webhookSubscriptions(first: Int!, after: String): WebhookSubscriptionConnection!
  shop: Shop!
}
extend type Mutation {
  webhookSubscriptionCreate(topic: WebhookSubscriptionTopic!,
                            webhookSubscription: WebhookSubscriptionInput!):
    WebhookSubscriptionCreatePayload
}
enum WebhookSubscriptionTopic {
  APP_UNINSTALLED CUSTOMERS_CREATE CUSTOMERS_DELETE CUSTOMERS_UPDATE CUSTOMER_TAGS_ADDED
  CUSTOMER_TAGS_REMOVED ORDERS_CANCELLED ORDERS_CREATE ORDERS_PAID ORDERS_UPDATED
  PRODUCTS_CREATE PRODUCTS_UPDATE REFUNDS_CREATE
}
enum WebhookSubscriptionFormat { JSON XML }
enum CurrencyCode { CAD EUR GBP JPY USD }
input WebhookSubscriptionInput { uri: String format: WebhookSubscriptionFormat }
type WebhookSubscription implements Node { id: ID! topic: WebhookSubscriptionTopic! uri: String! }
type PageInfo { hasNextPage: Boolean! endCursor: String }
type WebhookSubscriptionConnection { nodes: [WebhookSubscription!]! pageInfo: PageInfo! }
type WebhookSubscriptionCreatePayload {
  webhookSubscription: WebhookSubscription userErrors: [UserError!]!
}
type Shop { currencyCode: CurrencyCode! ianaTimezone: String! }
"""

SCHEMA = build_schema(BASE_SDL + INSTALL_SDL + HISTORY_SDL)

API_KEY = "tagwise-test-client-id"
ACCESS_TOKEN_TTL_SECONDS = 3600
REFRESH_TOKEN_TTL_SECONDS = 90 * 86400


@dataclass
class InstallState:
    """The app's side of one shop: its credentials, issued codes and tokens, subscriptions.

    ``granted_scopes`` (None: what was asked) lets a test have the merchant grant less.
    ``expire_access_tokens()`` stands for an hour passing.
    """

    shop: str = "tagwise-test.myshopify.com"
    api_key: str = API_KEY
    api_secret: str = "shpss_test_app_secret"
    granted_scopes: str | None = None
    currency: str = "EUR"
    timezone: str = "Europe/Berlin"
    page_size: int = 5  # small, so listing subscriptions really pages
    clock: Callable[[], float] = time.time
    codes: dict[str, str] = field(default_factory=dict)  # code -> granted scope
    tokens: dict[str, float | None] = field(default_factory=dict)  # token -> expiry
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # refresh token -> scope
    subscriptions: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, Any]] = field(default_factory=list)

    def token_valid(self, token: str | None) -> bool:
        """Whether an access token this stand-in issued is still good."""
        if token not in self.tokens:
            return False
        expiry = self.tokens[token]
        return expiry is None or expiry > self.clock()

    def expire_access_tokens(self) -> None:
        """Make every expiring access token lapse (refresh tokens stay valid)."""
        for token, expiry in self.tokens.items():
            if expiry is not None:
                self.tokens[token] = self.clock() - 1

    def signed_query(self, params: dict[str, str]) -> dict[str, str]:
        """``params`` plus the hex ``hmac`` Shopify adds (sorted ``k=v`` joined by ``&``)."""
        message = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        digest = hmac.new(self.api_secret.encode(), message.encode(), hashlib.sha256)
        return {**params, "hmac": digest.hexdigest()}

    # ------------------------------------------------------------------ HTTP

    def handle_oauth(self, request: Request,
                     fail_next: list[tuple[int, dict[str, str]]]) -> Response:
        if request.path == "/admin/oauth/authorize" and request.method == "GET":
            return self._authorize(request)
        if request.path == "/admin/oauth/access_token" and request.method == "POST":
            if fail_next:
                status, headers = fail_next.pop(0)
                return _json({"errors": "Internal Server Error"}, status, headers)
            return self._access_token(request)
        return _json({"errors": "Not Found"}, 404)

    def _authorize(self, request: Request) -> Response:
        """The merchant approves at once: redirect to ``redirect_uri`` with a signed code."""
        args = request.args
        if args.get("client_id") != self.api_key:
            return Response("Oauth error invalid_request: The client_id is invalid", 400)
        if not args.get("redirect_uri") or not args.get("state"):
            return Response("Oauth error invalid_request: redirect_uri and state are required",
                            400)
        code = secrets.token_hex(16)
        self.codes[code] = self.granted_scopes if self.granted_scopes is not None \
            else args.get("scope", "")
        store_name = self.shop.removesuffix(".myshopify.com")
        host = base64.b64encode(f"admin.shopify.com/store/{store_name}".encode()).decode()
        query = self.signed_query({"code": code, "host": host, "shop": self.shop,
                                   "state": args["state"],
                                   "timestamp": str(int(self.clock()))})
        target = args["redirect_uri"] + "?" + urlencode(query)
        return redirect(target, 302)

    def _access_token(self, request: Request) -> Response:
        try:
            body = request.get_json(force=True) if request.is_json else request.form.to_dict()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _oauth_error("invalid_request", "body must be JSON or a form")
        self.token_requests.append({k: v for k, v in body.items() if k != "client_secret"})
        if body.get("client_id") != self.api_key or body.get("client_secret") != self.api_secret:
            return _oauth_error("invalid_client", "Client authentication failed", 401)
        if body.get("grant_type") == "refresh_token":
            scope = self.refresh_tokens.pop(str(body.get("refresh_token")), None)
            if scope is None:
                return _oauth_error("invalid_grant", "The refresh token is invalid or was "
                                                     "already used")
            return _json(self._grant(scope, expiring=True), 200)
        scope = self.codes.pop(str(body.get("code")), None)  # single use
        if scope is None:
            return _oauth_error("invalid_request", "The authorization code was not found or "
                                                   "was already used")
        return _json(self._grant(scope, expiring=str(body.get("expiring")) == "1"), 200)

    def _grant(self, scope: str, *, expiring: bool) -> dict[str, Any]:
        token = "shpat_" + secrets.token_hex(16)
        if not expiring:
            self.tokens[token] = None
            return {"access_token": token, "scope": scope}
        self.tokens[token] = self.clock() + ACCESS_TOKEN_TTL_SECONDS
        refresh = "shprt_" + secrets.token_hex(16)
        self.refresh_tokens[refresh] = scope
        return {"access_token": token, "scope": scope, "expires_in": ACCESS_TOKEN_TTL_SECONDS,
                "refresh_token": refresh, "refresh_token_expires_in": REFRESH_TOKEN_TTL_SECONDS}

    # ------------------------------------------------------------------ GraphQL resolvers

    def resolvers(self) -> dict[str, Any]:
        return {"webhookSubscriptions": self._list_subscriptions,
                "webhookSubscriptionCreate": self._create_subscription,
                "shop": lambda info: {"currencyCode": self.currency,
                                      "ianaTimezone": self.timezone}}

    def _list_subscriptions(self, _info: Any, first: int, after: str | None = None) -> dict:
        start = int(after) if after else 0
        size = min(first, self.page_size)
        page = self.subscriptions[start:start + size]
        more = start + size < len(self.subscriptions)
        return {"nodes": page, "pageInfo": {"hasNextPage": more,
                                            "endCursor": str(start + size) if page else None}}

    def _create_subscription(self, _info: Any, topic: str,
                             webhookSubscription: dict[str, Any]) -> dict:
        uri = webhookSubscription.get("uri") or ""
        error = None
        if not uri.startswith("https://"):
            error = f"Address protocol {uri.split(':', 1)[0]}:// is not supported"
        elif any(s["topic"] == topic and s["uri"] == uri for s in self.subscriptions):
            error = "Address for this topic has already been taken"
        if error:
            return {"webhookSubscription": None,
                    "userErrors": [{"field": ["webhookSubscription", "uri"], "message": error}]}
        subscription = {"id": f"gid://shopify/WebhookSubscription/{len(self.subscriptions) + 1}",
                        "topic": topic, "uri": uri}
        self.subscriptions.append(subscription)
        return {"webhookSubscription": subscription, "userErrors": []}


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    return _json({"error": error, "error_description": description}, status)
