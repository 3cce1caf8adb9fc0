"""Customers: search by email or id, and one customer with why each tag is there."""

from __future__ import annotations

from flask import jsonify

from app.services.customers import customer_detail, search_customers
from app.storage.db import db
from app.web.api import bp, current_principal
from app.web.api.body import page_args, query_text


@bp.get("/stores/<int:store_id>/customers")
def list_customers(store_id: int):
    """Customers matching ``?q=`` (an email, any case, or a platform id), a page at a time."""
    page, per_page = page_args()
    return jsonify(search_customers(db(), current_principal(), store_id, query_text("q"),
                                    page, per_page))


@bp.get("/stores/<int:store_id>/customers/<platform_customer_id>")
def show_customer(store_id: int, platform_customer_id: str):
    """Profile, R/F/M, segments (with why), and the tags each destination last confirmed."""
    return jsonify(customer_detail(db(), current_principal(), store_id, platform_customer_id))
