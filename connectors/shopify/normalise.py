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
