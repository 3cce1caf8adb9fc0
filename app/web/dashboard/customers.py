"""Customer lookup and the customer page: each tag with why it is there, and where it is synced."""

from __future__ import annotations

from flask import abort, render_template, request

from app.services import customers as customer_view
from app.storage.db import db
from app.web.dashboard import bp, current_store, principal

MAX_QUERY_CHARS = 320  # the longest email address
MAX_PLATFORM_ID_CHARS = 64  # Customer.platform_id


@bp.get("/stores/<int:store_id>/customers")
def customer_search(store_id: int):
    """Search by email or the store's customer id."""
    store = current_store(store_id)
    query = request.args.get("q", "").strip()
    if len(query) > MAX_QUERY_CHARS:
        return render_template("customers.html", store=store, query="", results=[],
                               error=f"Search for at most {MAX_QUERY_CHARS} characters.",
                               max_query=MAX_QUERY_CHARS), 400
    results = (customer_view.search_customers(db(), principal(), store_id, query)["customers"]
               if query else [])
    return render_template("customers.html", store=store, query=query, results=results,
                           error=None, max_query=MAX_QUERY_CHARS)


@bp.get("/stores/<int:store_id>/customers/<platform_customer_id>")
def customer_page(store_id: int, platform_customer_id: str):
    """Profile, segments with explanations, and what each destination holds or still needs."""
    if len(platform_customer_id) > MAX_PLATFORM_ID_CHARS:
        abort(404)
    store = current_store(store_id)
    detail = customer_view.customer_detail(db(), principal(), store_id, platform_customer_id)
    wanted = {s["tag"] for s in detail["segments"]}
    destinations = [{"kind": kind, **state,
                     "add": sorted(wanted - set(state["confirmed_tags"])),
                     "remove": sorted(set(state["confirmed_tags"]) - wanted)}
                    for kind, state in sorted(detail["destinations"].items())]
    return render_template("customer.html", store=store, customer=detail,
                           profile=detail["profile"], segments=detail["segments"],
                           destinations=destinations)
