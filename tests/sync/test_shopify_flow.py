"""The shopify_flow destination: a customer entering or leaving a segment fires the Flow
trigger of the example extension, through documents valid against the real 2026-07 schema."""

from __future__ import annotations

import tomllib
from pathlib import Path

from connectors.base import TagChange
from connectors.shopify.flow import TRIGGER_HANDLE, events, trigger_document
from demo.standins.shopify import admin_errors
from tests.conftest import OTHER_ID
from tests.seeding import (
    CUSTOMER_ID,
    add_store,
    days_ago,
    deliver,
    order_payload,
    process_pending,
    sync_dirty,
)

EXTENSION = (Path(__file__).resolve().parents[2] / "examples" / "shopify-app" / "extensions"
             / "tagwise-segment-changed" / "shopify.extension.toml")


def test_the_trigger_document_and_the_example_extension_agree():
    assert admin_errors(trigger_document(1)) == [] and admin_errors(trigger_document(25)) == []
    config = tomllib.loads(EXTENSION.read_text())
    extension = config["extensions"][0]
    assert (extension["type"], extension["handle"]) == ("flow_trigger", TRIGGER_HANDLE)
    assert len(TRIGGER_HANDLE) <= 30
    fields = config["settings"]["fields"]
    assert [f["type"] for f in fields][0] == "customer_reference"
    assert {f.get("key") for f in fields[1:]} == {"Segment", "Change"}
    left = TagChange(customer_id=1, platform_customer_id="42", email=None,
                     tags=frozenset({"tw:loyal"}), add=frozenset({"tw:loyal"}),
                     remove=frozenset({"tw:new"}))
    assert events(left) == [{"customer_id": 42, "Segment": "tw:loyal", "Change": "entered"},
                            {"customer_id": 42, "Segment": "tw:new", "Change": "left"}]


def test_segment_changes_fire_flow_once_and_existing_members_are_not_replayed(app, client,
                                                                              shop):
    store_id = add_store(app, shop)
    deliver(client, "orders/create", order_payload(1, created=days_ago(3)), "f1")
    process_pending(app)
    sync_dirty(app)
    added = app.test_cli_runner().invoke(args=[
        "destinations", "add", "shopify_flow", "--store", str(store_id), "--mode", "live"])
    assert added.exit_code == 0, added.output
    assert "1 customers' current segments recorded as known" in added.output
    assert shop.flow_triggers == []  # today's members do not start workflows

    deliver(client, "orders/create", order_payload(2, customer_id=OTHER_ID, email="o@x.com",
                                                   created=days_ago(2)), "f2")
    process_pending(app)
    sync_dirty(app)
    fired = shop.flow_triggers
    assert fired and {t["handle"] for t in fired} == {TRIGGER_HANDLE}
    assert {t["payload"]["customer_id"] for t in fired} == {OTHER_ID}
    assert {t["payload"]["Change"] for t in fired} == {"entered"}
    assert "tw:lifecycle-new" in {t["payload"]["Segment"] for t in fired}
    count = len(fired)
    sync_dirty(app)
    assert len(shop.flow_triggers) == count  # told once
    assert all(t["payload"]["customer_id"] != CUSTOMER_ID for t in shop.flow_triggers)
