"""The spine end to end: signed deliveries in, profile and segments computed, tags out."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import delete, select

from app.ingest.categories import backoff_key
from app.storage.db import Base
from app.storage.models import Customer, InboxEvent, Membership, Profile, Store, SyncAttempt
from tests.conftest import API_TOKEN, OTHER_ID, SHOP, fixture_json
from tests.seeding import (
    CUSTOMER_ID,
    add_store,
    customer_view,
    days_ago,
    deliver,
    order_payload,
    process_pending,
    refund_payload,
    sync_dirty,
)


def test_an_order_becomes_tags_in_the_shop_and_the_merchants_tag_survives(app, client, shop):
    store_id = add_store(app, shop)
    deliver(client, "orders/create", order_payload(1, created=days_ago(3), total="80.00"), "w1")
    assert process_pending(app) == ["done"]
    assert sync_dirty(app) == 1
    tags = shop.tags_of(str(CUSTOMER_ID))
    assert "VIP" in tags
    view = customer_view(client, store_id)
    ours = {s["tag"] for s in view["segments"]}
    assert ours and set(tags) == ours | {"VIP"}
    assert set(view["shop_tags"]) == ours
    assert view["profile"]["orders_count"] == 1 and view["profile"]["net_spent"] == 80.0
    assert all(s["explanation"] for s in view["segments"])
    assert "lifecycle-new" in {s["key"] for s in view["segments"]}


def scenario(now) -> list[tuple[str, dict, str]]:
    """Two customers, five orders, an update that cancels one, a refund, a guest."""
    t = now - timedelta(days=200)
    return [
        ("orders/create", order_payload(1, created=t, total="50.00"), "d1"),
        ("orders/create", order_payload(2, created=t + timedelta(days=40), total="70.00"), "d2"),
        ("orders/create", order_payload(3, created=t + timedelta(days=150), total="120.00",
                                        discount="10.00"), "d3"),
        ("orders/updated", order_payload(2, created=t + timedelta(days=40), total="70.00",
                                         updated=t + timedelta(days=41), cancelled=True), "d4"),
        ("refunds/create", refund_payload(9, 3, "20.00", t + timedelta(days=160)), "d5"),
        ("orders/create", order_payload(4, customer_id=OTHER_ID, email="other@example.com",
                                        created=now - timedelta(days=2), total="300.00"), "d6"),
        ("orders/create", order_payload(5, customer_id=None, email="Guest@Example.com",
                                        created=now - timedelta(days=1), total="20.00"), "d7"),
    ]


def snapshot(app, shop) -> dict:
    with app.extensions["db"].session() as session:
        profiles = {
            c.platform_id or c.guest_email_key: {
                col.name: getattr(p, col.name) for col in Profile.__table__.columns
                if col.name not in {"computed_at", "customer_id", "store_id"}}
            for c, p in session.execute(select(Customer, Profile).join(
                Profile, Profile.customer_id == Customer.id))}
        members = sorted((c.platform_id or c.guest_email_key, m.segment_key)
                         for m, c in session.execute(select(Membership, Customer).join(
                             Customer, Customer.id == Membership.customer_id)
                             .where(Membership.left_at.is_(None))))
    return {"profiles": profiles, "members": members,
            "shop": {k: sorted(v) for k, v in shop.customers.items()}}


def reset(app, shop) -> None:
    with app.extensions["db"].session() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "stores" and table.name != "destinations":
                session.execute(delete(table))
    app.extensions["redis"].flushdb()
    shop.customers = {str(CUSTOMER_ID): ["VIP"], str(OTHER_ID): []}


def test_duplicated_and_shuffled_deliveries_end_like_one_clean_delivery(app, client, shop):
    add_store(app, shop)
    now = days_ago(0)
    for topic, payload, webhook_id in scenario(now):
        deliver(client, topic, payload, webhook_id)
        process_pending(app)
    sync_dirty(app)
    clean = snapshot(app, shop)
    assert clean["profiles"][str(CUSTOMER_ID)]["orders_count"] == 2  # order 2 cancelled
    assert clean["profiles"][str(CUSTOMER_ID)]["net_spent"] == 150.0  # 50 + 120 - 20 refund
    assert clean["profiles"]["guest@example.com"]["orders_count"] == 1

    rng = random.Random(7)
    for round_ in range(3):
        reset(app, shop)
        deliveries = scenario(now) * 2  # every delivery retried once, same webhook id
        rng.shuffle(deliveries)
        for topic, payload, webhook_id in deliveries:
            deliver(client, topic, payload, webhook_id)
            if rng.random() < 0.5:
                process_pending(app)
        process_pending(app)
        sync_dirty(app)
        assert snapshot(app, shop) == clean, f"shuffle round {round_}"


def test_stale_update_is_dropped(app, client, shop):
    add_store(app, shop)
    t = days_ago(10)
    deliver(client, "orders/updated", order_payload(1, created=t, updated=t + timedelta(hours=2),
                                                    cancelled=True), "u2")
    deliver(client, "orders/create", order_payload(1, created=t, updated=t), "u1")
    process_pending(app)
    with app.extensions["db"].session() as session:
        profile = session.execute(select(Profile)).scalar_one()
    assert profile.orders_count == 0  # the older create did not resurrect the cancelled order


def test_a_customer_leaving_a_segment_loses_that_tag_and_only_that(app, client, shop):
    store_id = add_store(app, shop)
    deliver(client, "orders/create", order_payload(1, created=days_ago(400)), "l1")
    process_pending(app)
    sync_dirty(app)
    before = set(shop.tags_of(str(CUSTOMER_ID)))
    assert {"VIP", "tw:lifecycle-churned"} <= before
    deliver(client, "orders/create", order_payload(2, created=days_ago(1)), "l2")
    process_pending(app)
    sync_dirty(app)
    after = set(shop.tags_of(str(CUSTOMER_ID)))
    assert "VIP" in after
    assert "tw:lifecycle-churned" not in after and "tw:lifecycle-active" not in before
    wanted = {s["tag"] for s in customer_view(client, store_id)["segments"]}
    assert after == wanted | {"VIP"}
    last = shop.mutation_requests()[-1]
    assert "tagsRemove" in last["query"] and "tw:lifecycle-churned" in str(last["variables"])


def test_a_burst_of_orders_for_one_customer_is_one_write(app, client, shop):
    add_store(app, shop)
    for i in range(5):
        deliver(client, "orders/create", order_payload(10 + i, created=days_ago(30 - i)), f"b{i}")
        process_pending(app)
    sync_dirty(app)
    assert len(shop.mutation_requests()) == 1


def deliver_many_customers(client, count: int, now) -> None:
    for i in range(count):
        deliver(client, "orders/create",
                order_payload(100 + i, customer_id=9000 + i % (count // 2),
                              email=f"c{i % (count // 2)}@example.com",
                              created=now - timedelta(days=60 - i), total=f"{20 + i}.00"), f"m{i}")


def test_a_burst_is_processed_in_one_batch_exactly_like_one_by_one(app, client, shop):
    from tasks.ingest import ingest_event

    add_store(app, shop)
    now = days_ago(0)
    app.config["INGEST_BATCH_SIZE"] = 1
    deliver_many_customers(client, 20, now)
    assert process_pending(app) == ["done"] * 20
    one_by_one = snapshot(app, shop)

    reset(app, shop)
    app.config["INGEST_BATCH_SIZE"] = 500
    deliver_many_customers(client, 20, now)
    with app.extensions["db"].session() as session:
        first, second = session.execute(select(InboxEvent.id).order_by(InboxEvent.id)
                                        .limit(2)).scalars()
    assert ingest_event.apply(args=[first]).get() == "done"
    with app.extensions["db"].session() as session:
        statuses = set(session.execute(select(InboxEvent.status)).scalars())
    assert statuses == {"done"}  # the first task took the whole burst
    assert ingest_event.apply(args=[second]).get() == "done"  # its own task finds it done
    assert snapshot(app, shop) == one_by_one
    assert len(one_by_one["profiles"]) == 10


def fail_order_103(monkeypatch) -> None:
    """Make applying any batch that holds order 103 fail, as a constraint violation would."""
    import app.ingest.events as pipeline

    real_apply = pipeline.apply_records

    def fails_on_order_103(db, session, store, records):
        if any(getattr(record, "platform_id", None) == "103" for record in records):
            raise RuntimeError("constraint violated")
        return real_apply(db, session, store, records)

    monkeypatch.setattr(pipeline, "apply_records", fails_on_order_103)


def test_one_failing_event_does_not_hold_back_its_batch(app, client, shop, monkeypatch):
    from tasks.ingest import ingest_event

    fail_order_103(monkeypatch)
    add_store(app, shop)
    deliver_many_customers(client, 8, days_ago(0))
    with app.extensions["db"].session() as session:
        first = session.execute(select(InboxEvent.id).order_by(InboxEvent.id)).scalars().first()
    assert ingest_event.apply(args=[first]).get() == "done"
    with app.extensions["db"].session() as session:
        events = {e.dedupe_key: e for e in session.execute(select(InboxEvent)).scalars()}
        profiles = session.execute(select(Profile)).scalars().all()
    assert {k for k, e in events.items() if e.status == "done"} == {
        f"m{i}" for i in range(8)} - {"m3"}
    assert events["m3"].status == "pending" and events["m3"].attempts == 1
    assert "constraint violated" in events["m3"].error
    assert len(profiles) == 4  # every customer, from the orders that went through


def test_our_own_tag_echo_does_not_loop(app, client, shop):
    add_store(app, shop)
    deliver(client, "orders/create", order_payload(1, created=days_ago(5)), "e1")
    process_pending(app)
    sync_dirty(app)
    writes = len(shop.mutation_requests())
    ours = [t for t in shop.tags_of(str(CUSTOMER_ID)) if t.startswith("tw:")]
    echo = dict(fixture_json("shopify", "customer_tags_added__sample.json"),
                customerId=f"gid://shopify/Customer/{CUSTOMER_ID}", tags=ours)
    deliver(client, "customer.tags_added", echo, "e2")
    update = dict(fixture_json("shopify", "customers_create__sample.json"), id=CUSTOMER_ID,
                  updated_at=days_ago(0).isoformat())
    deliver(client, "customers/update", update, "e3")
    process_pending(app)
    assert sync_dirty(app) == 0
    assert len(shop.mutation_requests()) == writes


def test_guest_orders_are_attributed_by_email_and_never_written_to_the_shop(app, client, shop):
    add_store(app, shop)
    deliver(client, "orders/create", order_payload(1, customer_id=None, email="A@x.com"), "g1")
    deliver(client, "orders/create", order_payload(2, customer_id=None, email="a@X.com "), "g2")
    deliver(client, "orders/create", order_payload(3, customer_id=None, email=None), "g3")
    assert process_pending(app) == ["done", "done", "done"]
    sync_dirty(app)
    with app.extensions["db"].session() as session:
        [(key, count)] = session.execute(select(Customer.guest_email_key, Profile.orders_count)
                                         .join(Profile, Profile.customer_id == Customer.id)).all()
    assert (key, count) == ("a@x.com", 2)
    assert shop.mutation_requests() == []


def test_dry_run_records_the_diff_and_sends_nothing(app, client, shop):
    add_store(app, shop, "--dry-run")
    deliver(client, "orders/create", order_payload(1, created=days_ago(5)), "dr1")
    process_pending(app)
    sync_dirty(app)
    assert shop.mutation_requests() == []  # it may read (product types), never write
    with app.extensions["db"].session() as session:
        attempt = session.execute(select(SyncAttempt)).scalar_one()
    assert attempt.method == "DRY-RUN"
    assert attempt.detail["changes"][0]["add"]


def test_a_malformed_event_is_parked_visible_and_replayable(app, client, shop, monkeypatch):
    store_id = add_store(app, shop)
    bad = order_payload(1)
    bad["created_at"] = "not a date"
    deliver(client, "orders/create", bad, "p1")
    assert process_pending(app) == ["parked"]
    response = client.get(f"/api/v1/stores/{store_id}/inbox?status=parked",
                          headers={"Authorization": f"Bearer {API_TOKEN}"})
    [event] = response.json["events"]
    assert "created_at" in event["error"]

    import app.ingest.events as pipeline

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(pipeline, "refresh_customers", broken)
    deliver(client, "orders/create", order_payload(2, created=days_ago(3)), "p2")
    assert process_pending(app) == ["parked"]  # retried, then parked after the limit
    with app.extensions["db"].session() as session:
        event = session.execute(select(InboxEvent).filter_by(dedupe_key="p2")).scalar_one()
    assert event.attempts == app.config["INBOX_MAX_ATTEMPTS"]
    assert "database went away" in event.error
    monkeypatch.undo()
    result = app.test_cli_runner().invoke(args=["inbox", "replay", "--id", str(event.id)])
    assert f"event {event.id} (orders/create): done" in result.output
    assert customer_view(client, store_id)["profile"]["orders_count"] == 1


def test_processing_twice_changes_nothing(app, client, shop):
    from tasks.ingest import ingest_event

    add_store(app, shop)
    deliver(client, "orders/create", order_payload(1, created=days_ago(5)), "i1")
    process_pending(app)
    first = snapshot(app, shop)
    with app.extensions["db"].session() as session:
        event_id = session.execute(select(InboxEvent.id)).scalar_one()
    assert ingest_event.apply(args=[event_id]).get() == "done"
    assert snapshot(app, shop) == first


def test_sweeper_re_enqueues_events_left_pending(app, client, shop):
    from tasks.sweep import sweep_inbox

    add_store(app, shop)
    deliver(client, "orders/create", order_payload(1), "s1")
    redis = app.extensions["redis"]
    redis.delete("realtime")  # the broker lost the message
    assert sweep_inbox.apply().get() == 0  # too young to be considered lost
    app.config["INBOX_SWEEP_AFTER_SECONDS"] = -1
    assert sweep_inbox.apply().get() == 1
    assert redis.llen("realtime") == 1
    assert process_pending(app) == ["done"]


def test_rescore_rebins_the_store_and_an_uninstall_stops_writes(app, client, shop):
    store_id = add_store(app, shop)
    for i in range(12):
        deliver(client, "orders/create",
                order_payload(100 + i, customer_id=5000 + i, email=f"c{i}@x.com",
                              created=days_ago(10 * i + 1), total=f"{20 * (i + 1)}.00"), f"r{i}")
    process_pending(app)
    result = app.test_cli_runner().invoke(args=["rescore", "--store", str(store_id)])
    assert "rescored 13 customers" in result.output or "rescored 12 customers" in result.output
    with app.extensions["db"].session() as session:
        store = session.get(Store, store_id)
        assert store.scoring["cutoffs"]["monetary"][0] > 20
    shop.requests.clear()  # the orders' product lookups
    deliver(client, "app/uninstalled",
            dict(fixture_json("shopify", "app_uninstalled__sample.json"), myshopify_domain=SHOP),
            "un1")
    process_pending(app)
    shop.customers.update({str(5000 + i): [] for i in range(12)})
    sync_dirty(app)
    assert shop.requests == []


def test_shopify_line_items_get_their_product_type_from_one_cached_lookup(app, client, shop):
    """Shopify's order webhooks name each line's product, not its type: the type is read with
    one ``nodes(ids:)`` query per batch of unknown products and cached, so category segments
    work for Shopify stores as for WooCommerce ones."""
    store_id = add_store(app, shop)
    coffee = shop.history.product_id("Coffee")
    for i in range(2):
        payload = order_payload(40 + i, created=days_ago(10 - i), total="30.00")
        for item in payload["line_items"]:
            item["product_id"] = coffee
        deliver(client, "orders/create", payload, f"cat{i}")
        assert process_pending(app) == ["done"]
    lookups = [r for r in shop.requests if "nodes(ids:" in r["query"]]
    assert len(lookups) == 1  # the second order's product came from the cache
    assert lookups[0]["variables"] == {"ids": [f"gid://shopify/Product/{coffee}"]}
    view = customer_view(client, store_id)
    assert view["profile"]["top_product_type"] == "Coffee"
    assert "category-coffee" in {s["key"] for s in view["segments"]}


def test_a_batch_of_orders_looks_up_its_uncached_products_in_one_query(app, client, shop):
    """Orders drained together share one cache read and one ``nodes(ids:)`` query for the
    products none of them had cached: not a lookup per order."""
    add_store(app, shop)
    coffee, tea = shop.history.product_id("Coffee"), shop.history.product_id("Tea")
    for i, product in enumerate([coffee, tea, coffee]):
        payload = order_payload(60 + i, customer_id=7000 + i, created=days_ago(5 - i),
                                total="30.00")
        for item in payload["line_items"]:
            item["product_id"] = product
        deliver(client, "orders/create", payload, f"batch{i}")
    assert process_pending(app) == ["done", "done", "done"]
    lookups = [r for r in shop.requests if "nodes(ids:" in r["query"]]
    assert [sorted(r["variables"]["ids"]) for r in lookups] == [
        sorted(f"gid://shopify/Product/{p}" for p in (coffee, tea))]
    with app.extensions["db"].session() as session:
        types = dict(session.execute(select(Customer.platform_id, Profile.top_product_type)
                                     .join(Profile, Profile.customer_id == Customer.id)).all())
    assert types == {"7000": "Coffee", "7001": "Tea", "7002": "Coffee"}


def test_a_shop_that_cannot_be_reached_leaves_categories_empty_and_loses_no_order(app, client,
                                                                                  shop):
    store_id = add_store(app, shop)
    shop.fail_next.extend([(503, {}), (503, {})])  # the lookup and its one retry
    deliver(client, "orders/create", order_payload(50, created=days_ago(2)), "down")
    assert process_pending(app) == ["done"]
    view = customer_view(client, store_id)
    assert view["profile"]["orders_count"] == 1
    assert not any(s["key"].startswith("category-") for s in view["segments"])


def test_after_a_failed_lookup_the_store_s_next_orders_do_not_call_it_again(app, client, shop):
    store_id = add_store(app, shop)
    shop.fail_next.extend([(503, {}), (503, {})])  # the lookup and its one retry
    for i in range(3):
        deliver(client, "orders/create", order_payload(60 + i, created=days_ago(3 - i)),
                f"away{i}")
    assert set(process_pending(app)) == {"done"}
    lookups = [r for r in shop.requests if "nodes(ids:" in r["query"]]
    assert len(lookups) == 2  # the first order's lookup and retry; the others skipped it
    assert customer_view(client, store_id)["profile"]["orders_count"] == 3
    app.extensions["redis"].delete(backoff_key(store_id))  # as when the backoff expires
    deliver(client, "orders/create", order_payload(70, created=days_ago(0)), "back")
    assert process_pending(app) == ["done"]
    assert len([r for r in shop.requests if "nodes(ids:" in r["query"]]) == 3
