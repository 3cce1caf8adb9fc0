"""Exports answering Shopify's ``customers/data_request``, for the merchant to hand over."""

from __future__ import annotations

from flask import jsonify
from sqlalchemy import select

from app.services import serialise
from app.storage.db import db
from app.storage.models import DataExport
from app.web.api import bp
from app.web.api.lookup import get_store
from app.web.errors import ApiError


def _summary(row: DataExport) -> dict:
    return {"id": row.id, "customer_platform_id": row.customer_platform_id,
            "data_request_id": row.data_request_id, "requested_at": serialise.iso(row.requested_at)}


@bp.get("/stores/<int:store_id>/data-requests")
def list_data_requests(store_id: int):
    """Every export of the store, newest first, without the exported data."""
    with db().session() as session:
        get_store(session, store_id)
        rows = session.execute(select(DataExport).filter_by(store_id=store_id)
                               .order_by(DataExport.id.desc())).scalars()
        return jsonify({"data_requests": [_summary(r) for r in rows]})


@bp.get("/stores/<int:store_id>/data-requests/<int:export_id>")
def show_data_request(store_id: int, export_id: int):
    """One export with everything Tagwise held about the customer."""
    with db().session() as session:
        get_store(session, store_id)
        row = session.execute(select(DataExport).filter_by(store_id=store_id,
                                                           id=export_id)).scalar()
        if row is None:
            raise ApiError(404, "data_request_not_found", f"no data request export {export_id}")
        return jsonify({**_summary(row), "export": row.export})
