"""A stand-in WooCommerce site: the REST v3 routes Tagwise uses, and signed webhook sending.

It keeps what WooCommerce would do where Tagwise depends on it:
- HTTP Basic with a consumer key/secret, 401 in WooCommerce's error shape otherwise;
- ``page`` / ``per_page`` (≤ 100, else 400) with ``X-WP-Total`` / ``X-WP-TotalPages``;
- ``modified_after`` (+ ``dates_are_gmt``) on orders only: the customers endpoint ignores it
  (woocommerce/woocommerce#31482);
- customer ``meta_data`` updated by key, a null value deleting it, other keys untouched;
- customers/batch refusing more than 100 items with HTTP 413
  ``woocommerce_rest_request_entity_too_large`` (WC_REST_Controller::check_batch_limit) and
  reporting failures per item;
- webhooks with status ``active`` | ``paused`` | ``disabled``;
- injected failures: 429 with ``Retry-After`` or 503, counted like any other request.

Use :func:`make_site` for a populated site and :func:`deliver_webhook` / :func:`deliver_ping`
to POST deliveries signed exactly as WC_Webhook does.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import math
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

API = "/wp-json/wc/v3"
BATCH_LIMIT = 100
MAX_PER_PAGE = 100
WEBHOOK_STATUSES = ("active", "paused", "disabled")
WEBHOOK_RESOURCES = ("coupon", "customer", "order", "product")
WEBHOOK_EVENTS = ("created", "updated", "deleted", "restored")
USER_AGENT = "WooCommerce/9.9.3 Hookshot (WordPress/6.8.1)"


@dataclass
class LoggedRequest:
    """One request the stand-in received."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int


@dataclass
class InjectedFailure:
    """Answer the next matching request with this status instead of serving it."""

    status: int
    retry_after: str | None = None
    path_contains: str = ""
    times: int = 1
    skip: int = 0


class WooCommerceStandIn:
    """An in-memory WooCommerce site; ``wsgi_app`` is served by tests/standins/server.py."""

    def __init__(
        self,
        consumer_key: str = "ck_test",
        consumer_secret: str = "cs_test",
        *,
        clock: Callable[[], datetime] | None = None,
        ping_on_create: bool = False,
    ):
        self.consumer_key = consumer_key
        # WooCommerce pings the delivery URL when an active webhook is created; off by
        # default because unit tests register URLs nobody serves.
        self.ping_on_create = ping_on_create
        self.consumer_secret = consumer_secret
        self.clock = clock or (lambda: datetime.now(UTC))
        self.customers: dict[int, dict[str, Any]] = {}
        self.orders: dict[int, dict[str, Any]] = {}
        self.products: dict[int, dict[str, Any]] = {}
        self.webhooks: dict[int, dict[str, Any]] = {}
        self.requests: list[LoggedRequest] = []
        self.failures: list[InjectedFailure] = []
        # customer id → (code, message, status): make that customer's batch item fail.
        self.item_errors: dict[int, tuple[str, str, int]] = {}
        self._next_id = 1000
        self._lock = threading.Lock()
        self._urls = Map(
            [
                Rule(f"{API}/customers", endpoint="list_customers", methods=["GET"]),
                Rule(f"{API}/customers/batch", endpoint="batch_customers", methods=["POST"]),
                Rule(f"{API}/customers/<int:id>", endpoint="get_customer", methods=["GET"]),
                Rule(f"{API}/customers/<int:id>", endpoint="put_customer", methods=["PUT"]),
                Rule(f"{API}/orders", endpoint="list_orders", methods=["GET"]),
                Rule(f"{API}/orders/<int:id>", endpoint="get_order", methods=["GET"]),
                Rule(f"{API}/products/<int:id>", endpoint="get_product", methods=["GET"]),
                Rule(f"{API}/webhooks", endpoint="list_webhooks", methods=["GET"]),
                Rule(f"{API}/webhooks", endpoint="create_webhook", methods=["POST"]),
                Rule(f"{API}/webhooks/<int:id>", endpoint="get_webhook", methods=["GET"]),
                Rule(f"{API}/webhooks/<int:id>", endpoint="put_webhook", methods=["PUT"]),
                Rule(f"{API}/webhooks/<int:id>", endpoint="delete_webhook", methods=["DELETE"]),
            ]
        )

    # ----------------------------------------------------------------------- seeding

    def add_customer(self, customer: Mapping[str, Any]) -> dict[str, Any]:
        """Store a REST v3 customer object (an ``id`` is assigned when missing)."""
        stored = copy.deepcopy(dict(customer))
        stored.setdefault("id", self._new_id())
        stored.setdefault("meta_data", [])
        for entry in stored["meta_data"]:
            entry.setdefault("id", self._new_id())
        stored.setdefault("date_modified_gmt", self._now())
        self.customers[stored["id"]] = stored
        return stored

    def add_order(self, order: Mapping[str, Any]) -> dict[str, Any]:
        """Store a REST v3 order object (an ``id`` is assigned when missing)."""
        stored = copy.deepcopy(dict(order))
        stored.setdefault("id", self._new_id())
        self.orders[stored["id"]] = stored
        return stored

    def add_product(self, product: Mapping[str, Any]) -> dict[str, Any]:
        """Store a REST v3 product object."""
        stored = copy.deepcopy(dict(product))
        stored.setdefault("id", self._new_id())
        self.products[stored["id"]] = stored
        return stored

    def fail_next(
        self,
        status: int = 429,
        *,
        times: int = 1,
        retry_after: str | None = "1",
        path: str = "",
        skip: int = 0,
    ) -> None:
        """Answer ``times`` requests whose path contains ``path`` with ``status``.

        The first ``skip`` matching requests are served normally.
        """
        self.failures.append(InjectedFailure(status, retry_after, path, times, skip))

    def meta(self, customer_id: int) -> dict[str, Any]:
        """Return a customer's meta as {key: value} (every key, hidden ones included)."""
        return {entry["key"]: entry["value"] for entry in self.customers[customer_id]["meta_data"]}

    def count(self, method: str, path_suffix: str) -> int:
        """Count logged requests with this method whose path ends with ``path_suffix``."""
        return sum(1 for r in self.requests if r.method == method and r.path.endswith(path_suffix))

    # ----------------------------------------------------------------------- WSGI

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Serve one request."""
        request = Request(environ)
        response = self._dispatch(request)
        body: Any = None
        if request.get_data():
            try:
                body = json.loads(request.get_data())
            except ValueError:
                body = request.get_data(as_text=True)
        with self._lock:
            self.requests.append(
                LoggedRequest(
                    request.method, request.path, dict(request.args), body, response.status_code
                )
            )
        return response(environ, start_response)

    __call__ = wsgi_app

    def _dispatch(self, request: Request) -> Response:
        with self._lock:
            failure = next((f for f in self.failures if f.path_contains in request.path), None)
            if failure is not None and failure.skip:
                failure.skip -= 1
            elif failure is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self.failures.remove(failure)
                return _failure_response(failure)
        if not self._authorised(request):
            return self._auth_error(request)
        try:
            endpoint, args = self._urls.bind_to_environ(request.environ).match()
        except HTTPException:
            return _error(
                "rest_no_route", "No route was found matching the URL and request method.", 404
            )
        with self._lock:
            return getattr(self, f"_{endpoint}")(request, **args)

    def _authorised(self, request: Request) -> bool:
        auth = request.authorization
        return (
            auth is not None
            and auth.type == "basic"
            and hmac.compare_digest(auth.username or "", self.consumer_key)
            and hmac.compare_digest(auth.password or "", self.consumer_secret)
        )

    def _auth_error(self, request: Request) -> Response:
        auth = request.authorization
        if auth is None:
            # No credentials: the request runs as a logged-out user and fails the permission check.
            verb = "list resources" if request.method == "GET" else "edit this resource"
            return _error("woocommerce_rest_cannot_view", f"Sorry, you cannot {verb}.", 401)
        if not hmac.compare_digest(auth.username or "", self.consumer_key):
            return _error("woocommerce_rest_authentication_error", "Consumer key is invalid.", 401)
        return _error("woocommerce_rest_authentication_error", "Consumer secret is invalid.", 401)

    # ----------------------------------------------------------------------- customers

    def _list_customers(self, request: Request) -> Response:
        # modified_after is not a customers parameter: ignored, as WooCommerce does.
        return self._paged(
            request, sorted(self.customers.values(), key=lambda c: c["id"]), self._customer_out
        )

    def _get_customer(self, request: Request, id: int) -> Response:
        customer = self.customers.get(id)
        if customer is None:
            return _error("woocommerce_rest_invalid_id", "Invalid resource ID.", 404)
        return _json(self._customer_out(customer))

    def _put_customer(self, request: Request, id: int) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _error("rest_invalid_json", "Invalid JSON body passed.", 400)
        result = self._update_customer(id, body)
        if isinstance(result, tuple):
            return _error(*result)
        return _json(self._customer_out(result))

    def _batch_customers(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _error("rest_invalid_json", "Invalid JSON body passed.", 400)
        total = sum(len(body.get(kind) or []) for kind in ("create", "update", "delete"))
        if total > BATCH_LIMIT:
            return _error(
                "woocommerce_rest_request_entity_too_large",
                f"Unable to accept more than {BATCH_LIMIT} items for this request.",
                413,
            )
        answers = []
        for item in body.get("update") or []:
            item_id = item.get("id") if isinstance(item, dict) else None
            if item_id in self.item_errors:
                code, message, status = self.item_errors[item_id]
                answers.append({"id": item_id, "error": _error_body(code, message, status)})
                continue
            result = self._update_customer(item_id, item)
            if isinstance(result, tuple):
                answers.append({"id": item_id, "error": _error_body(*result)})
            else:
                answers.append(self._customer_out(result))
        return _json({"update": answers})

    def _update_customer(
        self, id: Any, body: Mapping[str, Any]
    ) -> dict[str, Any] | tuple[str, str, int]:
        customer = self.customers.get(id) if isinstance(id, int) else None
        if customer is None:
            return ("woocommerce_rest_invalid_id", "Invalid resource ID.", 400)
        meta_updates = body.get("meta_data", [])
        if not isinstance(meta_updates, list):
            return ("rest_invalid_param", "Invalid parameter(s): meta_data", 400)
        for field in ("email", "first_name", "last_name"):
            if field in body:
                customer[field] = body[field]
        for update in meta_updates:
            if not isinstance(update, dict) or "key" not in update:
                return ("rest_invalid_param", "Invalid parameter(s): meta_data", 400)
            _update_meta(customer["meta_data"], update["key"], update.get("value"), self._new_id)
        customer["date_modified_gmt"] = self._now()
        return customer

    def _customer_out(self, customer: Mapping[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(dict(customer))
        # Meta keys containing "wp_" never appear in REST reads.
        out["meta_data"] = [m for m in out["meta_data"] if "wp_" not in m["key"]]
        return out

    # ----------------------------------------------------------------------- orders, products

    def _list_orders(self, request: Request) -> Response:
        orders = sorted(self.orders.values(), key=lambda o: o["id"])
        if request.args.get("order", "desc") == "desc":
            orders.reverse()
        after = request.args.get("modified_after")
        if after:
            gmt = request.args.get("dates_are_gmt") in ("true", "1")
            try:
                threshold = datetime.fromisoformat(after)
            except ValueError:
                return _error("rest_invalid_param", "Invalid parameter(s): modified_after", 400)
            key = "date_modified_gmt" if gmt else "date_modified"
            orders = [
                o for o in orders if datetime.fromisoformat(o[key]) > threshold.replace(tzinfo=None)
            ]
        return self._paged(request, orders, copy.deepcopy)

    def _get_order(self, request: Request, id: int) -> Response:
        if id not in self.orders:
            return _error("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
        return _json(self.orders[id])

    def _get_product(self, request: Request, id: int) -> Response:
        if id not in self.products:
            return _error("woocommerce_rest_product_invalid_id", "Invalid ID.", 404)
        return _json(self.products[id])

    # ----------------------------------------------------------------------- webhooks

    def _list_webhooks(self, request: Request) -> Response:
        hooks = sorted(self.webhooks.values(), key=lambda w: w["id"])
        return self._paged(request, hooks, _webhook_out)

    def _create_webhook(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _error("rest_invalid_json", "Invalid JSON body passed.", 400)
        for required in ("topic", "delivery_url"):
            if not body.get(required):
                return _error(
                    "rest_missing_callback_param", f"Missing parameter(s): {required}", 400
                )
        if not _valid_topic(body["topic"]):
            return _error(
                "woocommerce_rest_webhook_invalid_topic", "Webhook topic is invalid.", 400
            )
        status = body.get("status", "active")
        if status not in WEBHOOK_STATUSES:
            return _error("rest_invalid_param", "Invalid parameter(s): status", 400)
        resource, event = body["topic"].split(".", 1)
        hook = {
            "id": self._new_id(),
            "name": body.get("name") or f"Webhook created on {self._now()}",
            "status": status,
            "topic": body["topic"],
            "resource": resource,
            "event": event,
            "delivery_url": body["delivery_url"],
            "secret": body.get("secret") or uuid.uuid4().hex,
            "api_version": "wp_api_v3",
            "failure_count": 0,
            "date_created_gmt": self._now(),
            "date_modified_gmt": self._now(),
        }
        self.webhooks[hook["id"]] = hook
        if self.ping_on_create and status == "active":
            try:
                hook["ping_status"] = deliver_ping(hook["delivery_url"], hook["id"]).status_code
            except requests.RequestException:
                hook["ping_status"] = None
        return _json(_webhook_out(hook), 201)

    def _get_webhook(self, request: Request, id: int) -> Response:
        if id not in self.webhooks:
            return _error("woocommerce_rest_webhook_invalid_id", "Invalid ID.", 404)
        return _json(_webhook_out(self.webhooks[id]))

    def _put_webhook(self, request: Request, id: int) -> Response:
        if id not in self.webhooks:
            return _error("woocommerce_rest_webhook_invalid_id", "Invalid ID.", 404)
        body = request.get_json(silent=True) or {}
        hook = self.webhooks[id]
        if "status" in body:
            if body["status"] not in WEBHOOK_STATUSES:
                return _error("rest_invalid_param", "Invalid parameter(s): status", 400)
            hook["status"] = body["status"]
            if body["status"] == "active":
                hook["failure_count"] = 0
        for field in ("name", "delivery_url", "secret"):
            if field in body:
                hook[field] = body[field]
        hook["date_modified_gmt"] = self._now()
        return _json(_webhook_out(hook))

    def _delete_webhook(self, request: Request, id: int) -> Response:
        hook = self.webhooks.pop(id, None)
        if hook is None:
            return _error("woocommerce_rest_webhook_invalid_id", "Invalid ID.", 404)
        return _json(_webhook_out(hook))

    # ----------------------------------------------------------------------- sending

    def fire(
        self, topic: str, payload: Mapping[str, Any], *, session: requests.Session | None = None
    ) -> list[requests.Response]:
        """Deliver ``payload`` to every active webhook on ``topic``, as WooCommerce would.

        A non-2xx answer (302 and below count as success) increments the webhook's failure
        count; past ``MAX_DELIVERY_FAILURES`` consecutive failures it is disabled.
        """
        responses = []
        for hook in list(self.webhooks.values()):
            if hook["topic"] != topic or hook["status"] != "active":
                continue
            response = deliver_webhook(
                hook["delivery_url"],
                topic,
                payload,
                hook["secret"].encode(),
                webhook_id=hook["id"],
                session=session,
            )
            if 200 <= response.status_code <= 302:
                hook["failure_count"] = 0
            else:
                hook["failure_count"] += 1
                if hook["failure_count"] > MAX_DELIVERY_FAILURES:
                    hook["status"] = "disabled"
            responses.append(response)
        return responses

    # ----------------------------------------------------------------------- helpers

    def _paged(self, request: Request, items: list[Any], render: Callable[[Any], Any]) -> Response:
        try:
            page = int(request.args.get("page", "1"))
            per_page = int(request.args.get("per_page", "10"))
        except ValueError:
            return _error("rest_invalid_param", "Invalid parameter(s): page, per_page", 400)
        if not 1 <= per_page <= MAX_PER_PAGE:
            return _error(
                "rest_invalid_param",
                f"Invalid parameter(s): per_page (must be between 1 and {MAX_PER_PAGE})",
                400,
            )
        if page < 1:
            return _error("rest_invalid_param", "Invalid parameter(s): page", 400)
        total = len(items)
        pages = math.ceil(total / per_page)
        if page > max(pages, 1):
            return _error(
                "rest_post_invalid_page_number",
                "The page number requested is larger than the number of pages available.",
                400,
            )
        chunk = items[(page - 1) * per_page : page * per_page]
        response = _json([render(item) for item in chunk])
        response.headers["X-WP-Total"] = str(total)
        response.headers["X-WP-TotalPages"] = str(pages)
        return response

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _now(self) -> str:
        return self.clock().astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


# WC_Webhook::failed_delivery(): disabled once failures exceed the
# woocommerce_max_webhook_delivery_failures filter (default 5).
MAX_DELIVERY_FAILURES = 5


def make_site(
    customers: int = 0,
    orders: int = 0,
    *,
    merchant_meta: bool = True,
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC),
    **kwargs: Any,
) -> WooCommerceStandIn:
    """Return a stand-in with numbered customers (ids 1..n) and orders modified a day apart."""
    site = WooCommerceStandIn(**kwargs)
    for n in range(1, customers + 1):
        meta = [{"key": "merchant_loyalty_tier", "value": "gold"}] if merchant_meta else []
        site.add_customer(
            {
                "id": n,
                "email": f"customer{n}@example.com",
                "date_created_gmt": (start + timedelta(days=n)).replace(tzinfo=None).isoformat(),
                "date_modified_gmt": (start + timedelta(days=n)).replace(tzinfo=None).isoformat(),
                "meta_data": meta,
            }
        )
    for n in range(1, orders + 1):
        moment = (start + timedelta(days=n)).replace(tzinfo=None).isoformat()
        site.add_order(
            {
                "id": 5000 + n,
                "status": "completed",
                "currency": "USD",
                "total": "10.00",
                "customer_id": (n % customers) + 1 if customers else 0,
                "date_created_gmt": moment,
                "date_modified_gmt": moment,
                "date_modified": moment,
                "line_items": [],
            }
        )
    return site


def sign(secret: bytes, raw_body: bytes) -> str:
    """Return the X-WC-Webhook-Signature WooCommerce computes for ``raw_body``."""
    return base64.b64encode(hmac.new(secret, raw_body, hashlib.sha256).digest()).decode()


def webhook_headers(
    topic: str,
    raw_body: bytes,
    secret: bytes,
    *,
    webhook_id: int = 1,
    source: str = "https://shop.example/",
) -> dict[str, str]:
    """Return the headers of one delivery, as WC_Webhook::deliver() sends them."""
    resource, event = topic.split(".", 1)
    return {
        "User-Agent": USER_AGENT,
        "Content-Type": "application/json",
        "X-WC-Webhook-Source": source,
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": sign(secret, raw_body),
        "X-WC-Webhook-ID": str(webhook_id),
        "X-WC-Webhook-Delivery-ID": uuid.uuid4().hex,
    }


def deliver_webhook(
    url: str,
    topic: str,
    payload: Mapping[str, Any] | bytes,
    secret: bytes,
    *,
    webhook_id: int = 1,
    source: str = "https://shop.example/",
    session: requests.Session | None = None,
) -> requests.Response:
    """POST one signed delivery (a dict is JSON-encoded; bytes are sent as they are)."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = webhook_headers(topic, raw, secret, webhook_id=webhook_id, source=source)
    return (session or requests).post(url, data=raw, headers=headers, timeout=60)


def deliver_ping(
    url: str, webhook_id: int, *, session: requests.Session | None = None
) -> requests.Response:
    """POST the unsigned creation ping (form body ``webhook_id=N``, no X-WC-* headers)."""
    headers = {"User-Agent": USER_AGENT, "Content-Type": "application/x-www-form-urlencoded"}
    return (session or requests).post(
        url, data=f"webhook_id={webhook_id}".encode(), headers=headers, timeout=60
    )


def _update_meta(
    meta: list[dict[str, Any]], key: str, value: Any, new_id: Callable[[], int]
) -> None:
    # WC_Data::update_meta_data(): the first entry with the key takes the value and any
    # duplicates go; a null value deletes the key (WC_Data::save_meta_data()).
    matches = [entry for entry in meta if entry["key"] == key]
    if value is None:
        meta[:] = [entry for entry in meta if entry["key"] != key]
        return
    if matches:
        matches[0]["value"] = copy.deepcopy(value)
        meta[:] = [entry for entry in meta if entry["key"] != key or entry is matches[0]]
    else:
        meta.append({"id": new_id(), "key": key, "value": copy.deepcopy(value)})


def _valid_topic(topic: Any) -> bool:
    if not isinstance(topic, str) or "." not in topic:
        return False
    resource, event = topic.split(".", 1)
    return resource == "action" or (resource in WEBHOOK_RESOURCES and event in WEBHOOK_EVENTS)


def _webhook_out(hook: Mapping[str, Any]) -> dict[str, Any]:
    # The secret is write-only in REST reads of other contexts; keep it out of answers.
    hidden = ("secret", "failure_count", "ping_status")
    return {key: value for key, value in hook.items() if key not in hidden}


def _failure_response(failure: InjectedFailure) -> Response:
    if failure.status == 429:
        response = _error("too_many_requests", "Too many requests. Please slow down.", 429)
    else:
        response = Response("Service Unavailable", status=failure.status, mimetype="text/html")
    if failure.retry_after is not None:
        response.headers["Retry-After"] = failure.retry_after
    return response


def _error_body(code: str, message: str, status: int) -> dict[str, Any]:
    return {"code": code, "message": message, "data": {"status": status}}


def _error(code: str, message: str, status: int) -> Response:
    return _json(_error_body(code, message, status), status)


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json")
