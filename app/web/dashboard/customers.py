"""Customer lookup and the customer page: each tag with why it is there, and where it is synced."""

from __future__ import annotations

from flask import abort, render_template, request

from app.services import customers as customer_view
from app.services import segments as segment_admin
from app.services.errors import NotFound
from app.services.segment_members import member_csv_rows
from app.storage.db import db
from app.web.dashboard import bp, current_store, principal
from app.web.downloads import csv_download

MAX_QUERY_CHARS = 320  # the longest email address
MAX_PLATFORM_ID_CHARS = 64  # Customer.platform_id
PER_PAGE = 50
MAX_PAGE = 100_000


@bp.get("/stores/<int:store_id>/customers")
def customer_search(store_id: int):
    """Every customer a page at a time, narrowed by email or id and by segment."""
    store = current_store(store_id)
    query = request.args.get("q", "").strip()
    segment = request.args.get("segment", "").strip()[:segment_admin.KEY_MAX_CHARS + 1]
    page = request.args.get("page", "1")
    page = int(page) if page.isascii() and page.isdigit() and 0 < int(page) <= MAX_PAGE else 1
    segments = [s for s in segment_admin.list_segments(db(), principal(), store_id)
                if s["members"] and s["key"] != segment_admin.CATEGORY_KEYS]
    listing = {"store": store, "query": query, "segment": segment, "segments": segments,
               "max_query": MAX_QUERY_CHARS, "page": page, "per_page": PER_PAGE}
    if len(query) > MAX_QUERY_CHARS:
        return render_template("customers.html", **{**listing, "query": ""}, results=[],
                               total=0, error=f"Search for at most {MAX_QUERY_CHARS} "
                                             f"characters."), 400
    try:
        found = customer_view.search_customers(db(), principal(), store_id, query, page,
                                               PER_PAGE, segment)
    except NotFound:
        return render_template("customers.html", **{**listing, "segment": ""}, results=[],
                               total=0, error=f"There is no segment “{segment}”."), 404
    return render_template("customers.html", **listing, results=found["customers"],
                           total=found["total"], error=None)


@bp.get("/stores/<int:store_id>/segments/<key>/members.csv")
def segment_members_csv(store_id: int, key: str):
    """Download every current member of a segment as CSV."""
    current_store(store_id)
    lines = member_csv_rows(db(), principal(), store_id, key[:segment_admin.KEY_MAX_CHARS + 1])
    return csv_download(lines, f"{key}.csv")


@bp.get("/stores/<int:store_id>/customers/<platform_customer_id>")
def customer_page(store_id: int, platform_customer_id: str):
    """Email, profile, segments with explanations, orders, and what each destination holds."""
    if len(platform_customer_id) > MAX_PLATFORM_ID_CHARS:
        abort(404)
    store = current_store(store_id)
    detail = customer_view.customer_detail(db(), principal(), store_id, platform_customer_id)
    wanted = {s["tag"] for s in detail["segments"]}
    destinations = [{"kind": kind, **state,
                     "add": sorted(wanted - set(state["confirmed_tags"])),
                     "remove": sorted(set(state["confirmed_tags"]) - wanted)}
                    for kind, state in sorted(detail["destinations"].items())]
    contact = customer_view.customer_orders(db(), principal(), store_id, platform_customer_id)
    return render_template("customer.html", store=store, customer=detail,
                           profile=detail["profile"], segments=detail["segments"],
                           destinations=destinations, email=contact["email"],
                           orders=contact["orders"], orders_total=contact["total"])
