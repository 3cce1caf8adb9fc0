"""The shopify_metafields destination end to end: orders in, rescored, scores out as customer
metafields on the Shopify stand-in (which validates every document against the real schema)."""

from __future__ import annotations

from sqlalchemy import select

from app.storage.models import Destination
from tasks.sync import sync_store_destination
from tests.seeding import CUSTOMER_ID, add_store, rescore, seed_orders
from tests.sync.conftest import SEEDED


def test_scores_reach_the_shop_as_metafields_and_only_changes_are_resent(app, client,
                                                                           seeded_shop):
    store_id = add_store(app, seeded_shop)
    added = app.test_cli_runner().invoke(args=[
        "destinations", "add", "shopify_metafields", "--store", str(store_id), "--mode", "live"])
    assert added.exit_code == 0, added.output
    seed_orders(client, app)
    rescore(app, store_id)
    values = seeded_shop.metafields[str(CUSTOMER_ID)]
    assert set(values) == {"tagwise.rfm_group", "tagwise.lifecycle_stage", "tagwise.churn_risk",
                           "tagwise.predicted_clv_12m", "tagwise.expected_next_order_date"}
    assert all(seeded_shop.metafields.get(c) for c in SEEDED)
    assert {k[2] for k in seeded_shop.metafield_definitions} >= {"rfm_group", "churn_risk"}
    # the tag destination of the same shop still writes tags, untouched by the metafields
    assert any(t.startswith("tw:") for t in seeded_shop.tags_of(str(CUSTOMER_ID)))

    with app.extensions["db"].session() as session:
        destination_id = session.execute(select(Destination.id).filter_by(
            kind="shopify_metafields")).scalar_one()
    before = len(seeded_shop.requests)
    sync_store_destination.apply(args=[destination_id])  # the periodic full compare
    assert len(seeded_shop.requests) == before  # nothing changed: nothing sent


def test_metafields_need_a_shopify_store(app):
    result = app.test_cli_runner().invoke(args=[
        "destinations", "add", "shopify_metafields", "--store", "999"])
    assert result.exit_code != 0 and "no store 999" in result.output
