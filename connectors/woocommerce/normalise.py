"""Turn WooCommerce REST v3 webhook bodies into canonical records.

Conventions (REST v3 order/customer schema, woocommerce-rest-api-docs):
- money is a decimal string in the order's own ``currency`` ("29.35"); line item ``price`` is
  a JSON number (item total after discounts / quantity, tax excluded);
- the ``*_gmt`` dates carry no offset but are UTC; the dates without it are in the site's
  timezone and are ignored here;
- ``customer_id`` 0 is a guest; ``variation_id`` / ``product_id`` 0 mean "none";
- refunds appear on the order as ``{"id", "reason", "total": "-5.00"}`` without a date.

``financial_status`` uses Shopify's vocabulary so both platforms feed one profile code:
pending, paid, partially_refunded, refunded, voided, plus ``failed``.
"""

from __future__ import annotations

from collections.abc import Mapping
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
)
from connectors.woocommerce.consts import (
    CONSENT_META_KEYS,
    CUSTOMER_TOPICS,
    DELETION_TOPICS,
    ORDER_TOPICS,
)
from connectors.woocommerce.webhooks import is_draft

# WooCommerce order status → canonical financial status. Statuses added by plugins fall
# back on whether the order was paid (date_paid_gmt), see _financial_status.
FINANCIAL_STATUS_BY_ORDER_STATUS: dict[str, str] = {
    "pending": "pending",  # awaiting payment
    "on-hold": "pending",  # awaiting manual confirmation (e.g. bank transfer)
    "processing": "paid",  # paid, not yet shipped
    "completed": "paid",
    "cancelled": "voided",
    "refunded": "refunded",
    "failed": "failed",
    "trash": "voided",
}

# Line item meta keys that may name a category, first match wins. WooCommerce puts no
# category on line items; stores that want per-line categories add one of these (Tagwise's
# own key first), otherwise the caller can look the product up (category_from_product).
LINE_ITEM_CATEGORY_META_KEYS: tuple[str, ...] = (
    "_tagwise_category",
    "category",
    "product_category",
    "product_type",
)

_CONSENT_TRUE = frozenset({"1", "yes", "true"})
_CONSENT_FALSE = frozenset({"0", "no", "false"})


def normalise(topic: str, payload: Any) -> list[CanonicalEvent]:
    """Map one webhook body to canonical records: none for drafts and unhandled topics."""
    record = normalise_record(topic, payload)
    return [record] if record is not None else []


def normalise_record(topic: str, payload: Any) -> CanonicalEvent | None:
    """The one canonical record a webhook body carries; None for drafts and unhandled topics."""
    if not isinstance(payload, Mapping):
        raise PayloadError(f"{topic}: payload is {type(payload).__name__}, expected an object")
    if topic in DELETION_TOPICS:
        kind = topic.split(".", 1)[0]
        return Deletion(kind=kind, platform_id=str(_positive_int(payload, "id", topic)))
    if topic in ORDER_TOPICS:
        if is_draft(payload):
            return None
        return normalise_order(payload)
    if topic in CUSTOMER_TOPICS:
        return normalise_customer(payload)
    return None


def normalise_order(order: Mapping[str, Any]) -> OrderRecord:
    """Map a REST v3 order object (webhook body or REST listing item) to an OrderRecord."""
    order_id = _positive_int(order, "id", "order")
    where = f"order {order_id}"
    status = _str(order, "status", where)
    created_at = _utc(order, "date_created_gmt", where)
    updated_at = _utc(order, "date_modified_gmt", where, required=False) or created_at
    currency = _str(order, "currency", where)
    line_items = tuple(
        _line_item(item, f"{where} line_items[{index}]")
        for index, item in enumerate(_list(order, "line_items", where))
    )
    refunds = tuple(
        _refund(refund, order_id, updated_at, f"{where} refunds[{index}]")
        for index, refund in enumerate(_list(order, "refunds", where))
    )
    codes = tuple(
        _str(_mapping(line, f"{where} coupon_lines[{index}]"), "code", where)
        for index, line in enumerate(_list(order, "coupon_lines", where))
    )
    # Subtotal as Shopify means it: line items after discounts, before shipping and tax.
    subtotal = sum(
        (
            _money(_mapping(item, where), "total", f"{where} line_items[{index}]")
            for index, item in enumerate(_list(order, "line_items", where))
        ),
        Decimal("0"),
    )
    return OrderRecord(
        platform_id=str(order_id),
        customer=_order_customer(order, where),
        created_at=created_at,
        updated_at=updated_at,
        currency=currency,
        total=_money(order, "total", where),
        subtotal=subtotal,
        discount_total=_money(order, "discount_total", where, default=Decimal("0")),
        discount_codes=codes,
        financial_status=_financial_status(order, status, bool(refunds), where),
        cancelled_at=updated_at if status == "cancelled" else None,
        line_items=line_items,
        refunds=refunds,
    )


def normalise_customer(customer: Mapping[str, Any]) -> CustomerRecord:
    """Map a REST v3 customer object to a CustomerRecord."""
    customer_id = _positive_int(customer, "id", "customer")
    where = f"customer {customer_id}"
    email = _optional_str(customer, "email", where)
    if email is None:
        billing = customer.get("billing")
        if isinstance(billing, Mapping):
            email = _optional_str(billing, "email", where + " billing")
    return CustomerRecord(
        platform_id=str(customer_id),
        email=email,
        accepts_marketing=consent_from_meta(customer.get("meta_data")),
        created_at=_utc(customer, "date_created_gmt", where, required=False),
        updated_at=_utc(customer, "date_modified_gmt", where, required=False),
    )


def consent_from_meta(meta_data: Any) -> bool | None:
    """Read marketing consent from known plugin meta; None when no plugin recorded it.

    WooCommerce core has no consent field. Mailchimp for WooCommerce stores "1"/"0" under
    ``mailchimp_woocommerce_is_subscribed`` (user meta, and copied onto orders); an empty
    value means it never asked.
    """
    if not isinstance(meta_data, list):
        return None
    for entry in meta_data:
        if not isinstance(entry, Mapping) or entry.get("key") not in CONSENT_META_KEYS:
            continue
        value = entry.get("value")
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower() if value is not None else ""
        if text in _CONSENT_TRUE:
            return True
        if text in _CONSENT_FALSE:
            return False
    return None


def category_from_product(product: Mapping[str, Any]) -> str | None:
    """Return the first category name of a REST v3 product (GET products/{id}), if any."""
    categories = product.get("categories")
    if isinstance(categories, list):
        for category in categories:
            if isinstance(category, Mapping) and isinstance(category.get("name"), str):
                name = category["name"].strip()
                if name:
                    return name
    return None


# --------------------------------------------------------------------------- pieces


def _order_customer(order: Mapping[str, Any], where: str) -> CustomerRecord | None:
    customer_id = order.get("customer_id", 0)
    if isinstance(customer_id, bool) or not isinstance(customer_id, int) or customer_id < 0:
        raise PayloadError(f"{where}: customer_id is not a non-negative integer ({customer_id!r})")
    billing = order.get("billing")
    if billing is not None and not isinstance(billing, Mapping):
        raise PayloadError(f"{where}: billing is {type(billing).__name__}, expected an object")
    email = _optional_str(billing, "email", where + " billing") if billing else None
    consent = consent_from_meta(order.get("meta_data"))
    if customer_id == 0 and email is None:
        return None  # a guest without an email counts for store statistics only
    return CustomerRecord(
        platform_id=str(customer_id) if customer_id else None,
        email=email,
        accepts_marketing=consent,
    )


def _line_item(item: Any, where: str) -> LineItemRecord:
    item = _mapping(item, where)
    quantity = item.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise PayloadError(f"{where}: quantity is not an integer ({quantity!r})")
    if "price" in item and item["price"] is not None:
        price = _money(item, "price", where)
    else:
        total = _money(item, "total", where)
        price = total / quantity if quantity else total
    return LineItemRecord(
        product_id=_optional_id(item, "product_id", where),
        variant_id=_optional_id(item, "variation_id", where),
        product_type=_line_item_category(item.get("meta_data")),
        vendor=None,  # WooCommerce core has no vendor
        quantity=quantity,
        price=price,
    )


def _line_item_category(meta_data: Any) -> str | None:
    if not isinstance(meta_data, list):
        return None
    by_key = {
        entry.get("key"): entry.get("value") for entry in meta_data if isinstance(entry, Mapping)
    }
    for key in LINE_ITEM_CATEGORY_META_KEYS:
        value = by_key.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _refund(refund: Any, order_id: int, order_updated_at: datetime, where: str) -> RefundRecord:
    refund = _mapping(refund, where)
    refund_id = _positive_int(refund, "id", where)
    # The order lists refunds without a date; the refund modified the order, so the order's
    # date_modified_gmt is the closest honest timestamp (REST GET orders/{id}/refunds has it).
    return RefundRecord(
        platform_id=str(refund_id),
        order_platform_id=str(order_id),
        amount=abs(_money(refund, "total", where)),
        created_at=order_updated_at,
    )


def _financial_status(order: Mapping[str, Any], status: str, has_refunds: bool, where: str) -> str:
    mapped = FINANCIAL_STATUS_BY_ORDER_STATUS.get(status)
    if mapped is None:
        paid = _utc(order, "date_paid_gmt", where, required=False)
        mapped = "paid" if paid else "pending"
    if mapped == "paid" and has_refunds:
        return "partially_refunded"
    return mapped


# --------------------------------------------------------------------------- typed getters


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PayloadError(f"{where}: is {type(value).__name__}, expected an object")
    return value


def _list(payload: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = payload.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{where}: {key} is {type(value).__name__}, expected a list")
    return value


def _positive_int(payload: Mapping[str, Any], key: str, where: str) -> int:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise PayloadError(f"{where}: {key} missing or not a positive integer ({value!r})")
    return value


def _optional_id(payload: Mapping[str, Any], key: str, where: str) -> str | None:
    value = payload.get(key)
    if value is None or value == 0:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PayloadError(f"{where}: {key} is not a non-negative integer ({value!r})")
    return str(value)


def _str(payload: Mapping[str, Any], key: str, where: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        raise PayloadError(f"{where}: {key} missing or not a non-empty string ({value!r})")
    return value


def _optional_str(payload: Mapping[str, Any], key: str, where: str) -> str | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{where}: {key} is {type(value).__name__}, expected a string")
    return value.strip() or None


def _money(
    payload: Mapping[str, Any], key: str, where: str, *, default: Decimal | None = None
) -> Decimal:
    value = payload.get(key)
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PayloadError(f"{where}: {key} is not a money amount ({value!r})")
    try:
        # str() of a float is its shortest round-trip form, the same digits PHP's
        # json_encode wrote, so 12.3 stays Decimal("12.3") and not 12.2999...
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise PayloadError(f"{where}: {key} is not a money amount ({value!r})") from exc
    if not amount.is_finite():
        raise PayloadError(f"{where}: {key} is not a finite amount ({value!r})")
    return amount


def _utc(
    payload: Mapping[str, Any], key: str, where: str, *, required: bool = True
) -> datetime | None:
    value = payload.get(key)
    if value is None or value == "":
        if required:
            raise PayloadError(f"{where}: {key} missing")
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{where}: {key} is {type(value).__name__}, expected a date string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise PayloadError(f"{where}: {key} is not an ISO 8601 date ({value!r})") from exc
    # The *_gmt fields have no offset and are UTC; an offset, if a plugin adds one, is honoured.
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
