"""Shopify's mandatory privacy topics: who a ``customers/*`` request names."""

from __future__ import annotations

from typing import Any

from connectors.base import PayloadError, RequestedCustomer


def requested_customer(topic: str, payload: Any) -> RequestedCustomer:
    """The customer a ``customers/data_request`` or ``customers/redact`` body names."""
    person = payload.get("customer") if isinstance(payload, dict) else None
    if not isinstance(person, dict) or person.get("id") is None:
        raise PayloadError(f"{topic} needs customer.id")
    email = person.get("email") if isinstance(person.get("email"), str) else None
    request = payload.get("data_request")
    request_id = (str(request["id"]) if isinstance(request, dict)
                  and request.get("id") is not None else None)
    orders = payload.get("orders_requested") or payload.get("orders_to_redact")
    orders = tuple(str(o) for o in orders) if isinstance(orders, list) else ()
    return RequestedCustomer(str(person["id"]), email, request_id, orders)
