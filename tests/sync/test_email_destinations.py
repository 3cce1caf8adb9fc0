"""Klaviyo wired into the sync machinery: dry run first, consent respected, diff-based."""

from __future__ import annotations

from sqlalchemy import select

from app.storage.models import Destination
from tests.connectors.openapi import klaviyo_spec
from tests.seeding import add_store, days_ago, deliver, order_payload, process_pending, sync_dirty
from tests.standins.klaviyo import KlaviyoStandin
from tests.standins.server import serving

API_KEY = "pk_test_wired"


def test_klaviyo_gets_consenting_customers_only_after_going_live(app, client, shop):
    store_id = add_store(app, shop)
    standin = KlaviyoStandin(API_KEY, validator=klaviyo_spec().validate_request)
    runner = app.test_cli_runner()
    with serving(standin) as url:
        added = runner.invoke(args=["destinations", "add", "klaviyo", "--store", str(store_id),
                                    "--api-key", API_KEY, "--api-base-url", url])
        assert added.exit_code == 0 and "dry run" in added.output, added.output
        # the captured order's buyer accepts marketing; the second buyer does not
        deliver(client, "orders/create", order_payload(1, created=days_ago(3)), "k1")
        refusing = order_payload(2, customer_id=4242, email="no@x.com", created=days_ago(3))
        refusing["buyer_accepts_marketing"] = False
        deliver(client, "orders/create", refusing, "k2")
        process_pending(app)
        sync_dirty(app)
        assert standin.total_requests() == 0  # dry run: nothing sent
        with app.extensions["db"].session() as session:
            destination = session.execute(select(Destination).filter_by(kind="klaviyo")).scalar()
            destination.mode = "live"
        result = runner.invoke(args=["sync", "--store", str(store_id)])
        assert "klaviyo: sent 1, ok 1" in result.output
        assert standin.profile("no@x.com") is None  # no marketing consent: never sent
        assert set(standin.profile_ids_by_email) == {"john@example.com"}
        profile = standin.profile("john@example.com")
        segments = profile["properties"]["tagwise_segments"]
        assert "lifecycle-new" in segments and all(not s.startswith("tw:") for s in segments)
        before = standin.total_requests()
        result = runner.invoke(args=["sync", "--store", str(store_id)])
        assert "klaviyo" not in result.output or "sent 0" in result.output
        assert standin.total_requests() == before  # nothing changed: no request
