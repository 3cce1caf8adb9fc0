"""Turn Shopify webhook bodies (REST resource shapes) into canonical records.

Since API 2025-01 customer payloads carry no tags, order counts or consent fields
(shopify.dev/changelog), so consent comes from the order's ``buyer_accepts_marketing`` or
``email_marketing_consent`` where present, and everything else is computed from orders.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.base import (
    CanonicalEvent,
    CustomerRecord,
    Deletion,
    LineItemRecord,
    OrderRecord,
    PayloadError,
    RefundRecord,
    TagsEcho,
)
from connectors.shopify.consts import CUSTOMER_GID_PREFIX, CUSTOMER_TOPICS, ORDER_TOPICS


def normalise(topic: str, payload: Any) -> list[CanonicalEvent]:
    """Map one webhook body to canonical records; raise PayloadError when it cannot."""
    if not isinstance(payload, dict):
        raise PayloadError("body must be a JSON object")
    if topic in ORDER_TOPICS:
        return [order(payload)]
    if topic == "refunds/create":
        return [refund(payload, _id(payload.get("order_id"), "order_id"))]
    if topic in CUSTOMER_TOPICS:
        record = customer(payload)
        events: list[CanonicalEvent] = [record]
        if isinstance(payload.get("tags"), str):  # older API versions still send tags
            events.append(TagsEcho(record.platform_id or "", _split_tags(payload["tags"]),
                                   record.updated_at))
        return events
    if topic == "customers/delete":
        return [Deletion("customer", _id(payload.get("id"), "id"))]
    if topic in {"customer.tags_added", "customer.tags_removed"}:
        return [tags_event(payload)]
    return []


def order(payload: dict[str, Any]) -> OrderRecord:
    """Map a REST Order (webhook body) to an OrderRecord in shop money."""
    platform_id = _id(payload.get("id"), "id")
    created_at = _time(payload.get("created_at"), "created_at")
    buyer = payload.get("customer")
    email = _email(payload.get("email") or payload.get("contact_email"))
    accepts = payload.get("buyer_accepts_marketing")
    accepts = accepts if isinstance(accepts, bool) else None
    if isinstance(buyer, dict) and buyer.get("id") is not None:
        record = customer(buyer, fallback_email=email, fallback_consent=accepts)
    elif buyer is None or buyer == {}:
        record = CustomerRecord(None, email, accepts) if email else None
    else:
        raise PayloadError("customer must be an object or null")
    items = payload.get("line_items") or []
    if not isinstance(items, list):
        raise PayloadError("line_items must be a list")
    refunds = payload.get("refunds") or []
    if not isinstance(refunds, list):
        raise PayloadError("refunds must be a list")
    codes = payload.get("discount_codes") or []
    return OrderRecord(
        platform_id=platform_id,
        customer=record,
        created_at=created_at,
        updated_at=_time(payload.get("updated_at") or payload.get("created_at"), "updated_at"),
        currency=_shop_currency(payload),
        total=_shop_money(payload, "total_price"),
        subtotal=_shop_money(payload, "subtotal_price"),
        discount_total=_shop_money(payload, "total_discounts"),
        discount_codes=tuple(str(c.get("code")) for c in codes if isinstance(c, dict)),
        financial_status=str(payload.get("financial_status") or "unknown"),
        cancelled_at=_optional_time(payload.get("cancelled_at"), "cancelled_at"),
        line_items=tuple(_line_item(item) for item in items),
        refunds=tuple(refund(r, platform_id) for r in refunds),
        is_test=payload.get("test") is True,
    )


def refund(payload: dict[str, Any], order_platform_id: str) -> RefundRecord:
    """Map a REST Refund: the amount is the sum of its successful refund transactions."""
    if not isinstance(payload, dict):
        raise PayloadError("refund must be an object")
    transactions = payload.get("transactions") or []
    if not isinstance(transactions, list):
        raise PayloadError("refund transactions must be a list")
    amount = sum(
        (
            _decimal(t.get("amount"), "transactions.amount")
            for t in transactions
            if isinstance(t, dict) and t.get("kind") == "refund" and t.get("status") == "success"
        ),
        Decimal(0),
    )
    return RefundRecord(
        platform_id=_id(payload.get("id"), "refund id"),
        order_platform_id=order_platform_id,
        amount=amount,
        created_at=_time(payload.get("created_at") or payload.get("processed_at"), "created_at"),
    )


def customer(
    payload: dict[str, Any],
    *,
    fallback_email: str | None = None,
    fallback_consent: bool | None = None,
) -> CustomerRecord:
    """Map a REST Customer (webhook body or an order's ``customer``)."""
    consent = payload.get("email_marketing_consent")
    accepts = fallback_consent
    if isinstance(consent, dict) and consent.get("state"):
        accepts = consent["state"] == "subscribed"
    return CustomerRecord(
        platform_id=_id(payload.get("id"), "customer id"),
        email=_email(payload.get("email")) or fallback_email,
        accepts_marketing=accepts,
        created_at=_optional_time(payload.get("created_at"), "created_at"),
        updated_at=_optional_time(payload.get("updated_at"), "updated_at"),
    )


def tags_event(payload: dict[str, Any]) -> TagsEcho:
    """Map the GraphQL-shaped ``customer.tags_added`` / ``tags_removed`` payload."""
    gid = payload.get("customerId")
    tags = payload.get("tags")
    if not isinstance(gid, str) or not gid.startswith(CUSTOMER_GID_PREFIX):
        raise PayloadError("customerId must be a Customer gid")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise PayloadError("tags must be a list of strings")
    return TagsEcho(gid.removeprefix(CUSTOMER_GID_PREFIX), frozenset(tags),
                    _optional_time(payload.get("occurredAt"), "occurredAt"))


def _line_item(item: Any) -> LineItemRecord:
    if not isinstance(item, dict):
        raise PayloadError("line item must be an object")
    quantity = item.get("quantity", 0)
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise PayloadError("line item quantity must be an integer")
    return LineItemRecord(
        product_id=_optional_str(item.get("product_id")),
        variant_id=_optional_str(item.get("variant_id")),
        product_type=_optional_str(item.get("product_type")),
        vendor=_optional_str(item.get("vendor")),
        quantity=quantity,
        price=_decimal(item.get("price", "0"), "line_items.price"),
    )


def _split_tags(text: str) -> frozenset[str]:
    return frozenset(t.strip() for t in text.split(",") if t.strip())


def _shop_money(payload: dict[str, Any], field: str) -> Decimal:
    """Prefer ``<field>_set.shop_money`` (shop currency) over the presentment-era scalar."""
    money_set = payload.get(f"{field}_set")
    if isinstance(money_set, dict) and isinstance(money_set.get("shop_money"), dict):
        return _decimal(money_set["shop_money"].get("amount"), field)
    return _decimal(payload.get(field, "0"), field)


def _shop_currency(payload: dict[str, Any]) -> str:
    money_set = payload.get("total_price_set")
    if isinstance(money_set, dict) and isinstance(money_set.get("shop_money"), dict):
        code = money_set["shop_money"].get("currency_code")
        if isinstance(code, str):
            return code
    code = payload.get("currency")
    if not isinstance(code, str) or len(code) != 3:
        raise PayloadError("currency must be a 3-letter code")
    return code


def _id(value: Any, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str) or str(value).strip() == "":
        raise PayloadError(f"{field} is missing or not an id")
    return str(value)


def _optional_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _email(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and "@" in value else None


def _decimal(value: Any, field: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise PayloadError(f"{field} is not a decimal amount") from exc
    if not amount.is_finite():
        raise PayloadError(f"{field} is not a decimal amount")
    return amount


def _time(value: Any, field: str) -> datetime:
    parsed = _optional_time(value, field)
    if parsed is None:
        raise PayloadError(f"{field} is missing")
    return parsed


def _optional_time(value: Any, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{field} must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise PayloadError(f"{field} is not an ISO 8601 timestamp") from exc
    if parsed.tzinfo is None:
        raise PayloadError(f"{field} has no UTC offset")
    return parsed.astimezone(UTC)


# --------------------------------------------------------------------------- GraphQL nodes
# Reconciliation and bulk history read the Admin GraphQL API, whose nodes are camelCase with
# gids and MoneyBag amounts. They are translated to the REST (webhook) shape above so that one
# normaliser serves webhooks, reconciliation and backfill alike, and a reconciled order can sit
# in the inbox exactly like a delivered one.

ORDER_GID_PREFIX = "gid://shopify/Order/"


def legacy_id(gid: Any, prefix: str) -> str:
    """The numeric id inside a gid (``gid://shopify/Order/1`` → ``1``); PayloadError otherwise."""
    if not isinstance(gid, str) or not gid.startswith(prefix) or gid == prefix:
        raise PayloadError(f"id must be a {prefix}<id> gid")
    return gid.removeprefix(prefix)


def rest_customer(node: dict[str, Any]) -> dict[str, Any]:
    """A GraphQL ``Customer`` node as the REST customer object the webhooks carry."""
    if not isinstance(node, dict):
        raise PayloadError("customer node must be an object")
    address = node.get("defaultEmailAddress") or {}
    state = address.get("marketingState") if isinstance(address, dict) else None
    return {
        "id": legacy_id(node.get("id"), CUSTOMER_GID_PREFIX),
        "email": address.get("emailAddress") if isinstance(address, dict) else None,
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        # REST spells CustomerEmailAddressMarketingState values in lower case.
        "email_marketing_consent": {"state": state.lower()} if isinstance(state, str) else None,
    }


def rest_order(node: dict[str, Any]) -> dict[str, Any]:
    """A GraphQL ``Order`` node (line items under ``lineItems.edges``) as a REST order body."""
    if not isinstance(node, dict):
        raise PayloadError("order node must be an object")
    order_id = legacy_id(node.get("id"), ORDER_GID_PREFIX)
    buyer = node.get("customer")
    lines = ((node.get("lineItems") or {}).get("edges")) or []
    status = node.get("displayFinancialStatus")
    return {
        "id": order_id,
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "cancelled_at": node.get("cancelledAt"),
        "test": node.get("test") is True,
        "email": node.get("email"),
        "buyer_accepts_marketing": node.get("customerAcceptsMarketing"),
        "currency": node.get("currencyCode"),
        "financial_status": status.lower() if isinstance(status, str) else None,
        "discount_codes": [{"code": c} for c in node.get("discountCodes") or []],
        "total_price_set": _rest_money(node, "totalPriceSet"),
        "subtotal_price_set": _rest_money(node, "subtotalPriceSet"),
        "total_discounts_set": _rest_money(node, "totalDiscountsSet"),
        "customer": rest_customer(buyer) if buyer else None,
        "line_items": [_rest_line_item(edge.get("node") if isinstance(edge, dict) else None)
                       for edge in lines],
        "refunds": [_rest_refund(r) for r in node.get("refunds") or []],
    }


def _rest_money(node: dict[str, Any], field: str) -> dict[str, Any] | None:
    bag = node.get(field)
    if not isinstance(bag, dict) or not isinstance(bag.get("shopMoney"), dict):
        return None
    money = bag["shopMoney"]
    return {"shop_money": {"amount": money.get("amount"),
                           "currency_code": money.get("currencyCode")}}


def _rest_line_item(node: Any) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise PayloadError("line item node must be an object")
    product = node.get("product") or {}
    variant = node.get("variant") or {}
    price = ((node.get("originalUnitPriceSet") or {}).get("shopMoney") or {}).get("amount", "0")
    return {
        "product_id": legacy_id(product.get("id"), "gid://shopify/Product/") if product else None,
        "variant_id": (legacy_id(variant.get("id"), "gid://shopify/ProductVariant/")
                       if variant else None),
        "product_type": product.get("productType"),
        "vendor": node.get("vendor"),
        "quantity": node.get("quantity", 0),
        "price": price,
    }


def _rest_refund(node: Any) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise PayloadError("refund node must be an object")
    amount = ((node.get("totalRefundedSet") or {}).get("shopMoney") or {}).get("amount", "0")
    # REST counts successful refund transactions; GraphQL totals them in totalRefundedSet.
    return {"id": legacy_id(node.get("id"), "gid://shopify/Refund/"),
            "created_at": node.get("createdAt"),
            "transactions": [{"kind": "refund", "status": "success", "amount": amount}]}
