"""Customer lookup and the customer page: each tag with why it is there, and where it is synced."""

from __future__ import annotations

from flask import render_template, request

from app.auth import visible_store
from app.dashboard import bp, principal
from app.db_access import db
from app.services import customers as service

MAX_QUERY_CHARS = 320  # the longest email address


@bp.get("/stores/<int:store_id>/customers")
def customer_search(store_id: int):
    """Search by email or the store's customer id."""
    query = request.args.get("q", "").strip()
    error, results = None, []
    with db().session() as session:
        store = visible_store(session, principal(), store_id)
        if len(query) > MAX_QUERY_CHARS:
            error = f"Search for at most {MAX_QUERY_CHARS} characters."
            query = query[:MAX_QUERY_CHARS]
        elif query:
            results = service.search_customers(session, store, query)
    return render_template("customers.html", store=store, query=query, results=results,
                           error=error, max_query=MAX_QUERY_CHARS), 400 if error else 200


@bp.get("/stores/<int:store_id>/customers/<int:customer_id>")
def customer_page(store_id: int, customer_id: int):
    """Profile, segments with explanations, and per-destination sync state."""
    with db().session() as session:
        store = visible_store(session, principal(), store_id)
        detail = service.customer_detail(session, store, customer_id)
    return render_template("customer.html", store=store, **detail)
