"""Operating sync end to end against the Shopify stand-in: run history with per-customer
failures, replaying them re-diffed, the safety brake, the tag budget."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.storage.models import Customer, Destination, Profile, SyncFailure, SyncRun
from app.sync.diff import describe_failure
from connectors.base import ChangeOutcome
from tasks.sync import schedule_sync, sync_store_destination
from tests.conftest import API_TOKEN, OTHER_ID
from tests.seeding import (
    CUSTOMER_ID,
    add_store,
    days_ago,
    deliver,
    order_payload,
    process_pending,
    rescore,
    seed_orders,
    sync_dirty,
)
from tests.sync.conftest import SEEDED
from tests.web.api.spec import assert_conforms

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
STRANGER_ID = 5151  # a customer Tagwise knows but the shop does not (yet)
RUNS = "/stores/{store_id}/destinations/{destination_id}/runs"
RUN = RUNS + "/{run_id}"


def destination_id(app) -> int:
    with app.extensions["db"].session() as session:
        return session.execute(select(Destination.id)).scalar_one()


def customer_id(app, platform_id: int) -> int:
    with app.extensions["db"].session() as session:
        return session.execute(select(Customer.id).filter_by(
            platform_id=str(platform_id))).scalar_one()


def api_get(client, template: str, **values):
    response = client.get("/api/v1" + template.format(**values), headers=AUTH)
    assert_conforms(response, "GET", template)
    return response


def test_a_failed_customer_is_kept_with_its_reason_and_a_replay_fixes_it(app, client, shop):
    store_id = add_store(app, shop)
    deliver(client, "orders/create", order_payload(1, created=days_ago(3)), "r1")
    deliver(client, "orders/create", order_payload(2, customer_id=STRANGER_ID, email="s@x.com",
                                                   created=days_ago(4)), "r2")
    process_pending(app)
    sync_dirty(app)
    dest = destination_id(app)

    runs = api_get(client, RUNS, store_id=store_id, destination_id=dest).json
    assert runs["total"] == 1 and runs["unretried_failures"] == 1
    run = runs["runs"][0]
    assert (run["trigger"], run["status"]) == ("debounce", "completed")
    assert (run["changed"], run["succeeded"], run["failed"]) == (2, 1, 1)
    assert run["requests"] == 1 and run["finished_at"]
    detail = api_get(client, RUN, store_id=store_id, destination_id=dest,
                     run_id=run["id"]).json
    assert detail["failures"] == [{
        "customer_id": customer_id(app, STRANGER_ID), "platform_customer_id": str(STRANGER_ID),
        "outcome": "permanent", "reason": "rejected", "message": "Customer does not exist",
        "retried_in_run_id": None}]
    listing = app.test_cli_runner().invoke(args=["sync", "runs", "--store", str(store_id)])
    assert "1 customers awaiting a replay" in listing.output
    assert "debounce" in listing.output and "failed 1" in listing.output

    # The customer now exists in the shop, and its wanted tags moved on since the failure:
    # the replay sends what it should carry now, not the stale change.
    shop.customers[str(STRANGER_ID)] = []
    with app.extensions["db"].session() as session:
        profile = session.get(Profile, customer_id(app, STRANGER_ID))
        profile.segment_keys = ["champions"]
    result = app.test_cli_runner().invoke(args=[
        "sync", "retry-failed", "--store", str(store_id), "--destination", str(dest)])
    assert result.exit_code == 0, result.output
    assert "1 customers re-diffed, sent 1, ok 1" in result.output
    assert shop.tags_of(str(STRANGER_ID)) == ["tw:champions"]
    runs = api_get(client, RUNS, store_id=store_id, destination_id=dest).json
    replay = runs["runs"][0]
    assert (replay["trigger"], replay["status"], replay["succeeded"]) == ("replay",
                                                                         "completed", 1)
    assert runs["unretried_failures"] == 0
    detail = api_get(client, RUN, store_id=store_id, destination_id=dest, run_id=run["id"]).json
    assert detail["failures"][0]["retried_in_run_id"] == replay["id"]
    again = app.test_cli_runner().invoke(args=[
        "sync", "retry-failed", "--store", str(store_id), "--destination", str(dest)])
    assert "0 customers re-diffed, sent 0" in again.output


def test_the_replay_api_queues_only_when_there_is_something_to_replay(app, client, shop):
    store_id = add_store(app, shop)
    dest = destination_id(app)
    path = f"/api/v1/stores/{store_id}/destinations/{dest}/retry-failed"
    response = client.post(path, json={}, headers=AUTH)
    assert response.status_code == 202 and response.json == {"customers": 0, "queued": False}
    assert_conforms(response, "POST", "/stores/{store_id}/destinations/{destination_id}"
                                      "/retry-failed")
    bad = client.post(path, json={"since": "yesterday"}, headers=AUTH)
    assert bad.status_code == 400 and bad.json["error"]["reason"] == "invalid_since"
    assert client.get(f"/api/v1/stores/{store_id}/destinations/{dest}/runs/999",
                      headers=AUTH).status_code == 404


def test_failure_messages_keep_no_vendor_body_and_mask_emails():
    body = 'HTTP 503: {"errors": [{"detail": "profile john@example.com is locked"}]}'
    assert describe_failure(ChangeOutcome(1, "transient", body)) == ("server_error", "HTTP 503")
    assert describe_failure(ChangeOutcome(1, "permanent", "HTTP 401: bad key")) == (
        "credentials_rejected", "HTTP 401")
    reason, message = describe_failure(ChangeOutcome(1, "permanent",
                                                     "Invalid email: jane.doe@shop.example"))
    assert reason == "rejected" and message == "Invalid email: <email>"


def test_a_sync_changing_half_the_audience_is_held_until_confirmed(app, client, seeded_shop):
    store_id = add_store(app, seeded_shop)
    seed_orders(client, app)
    rescore(app, store_id)  # the first sync: never braked, however large
    dest = destination_id(app)
    first = set(api_get(client, RUNS, store_id=store_id, destination_id=dest).json["runs"][0]
                .items())
    assert ("status", "completed") in first and ("changed", 9) in first
    app.config["SYNC_BRAKE_MIN_AUDIENCE"] = 5
    sent_before = len(seeded_shop.mutation_requests())

    added = app.test_cli_runner().invoke(args=[
        "segments", "add", "--store", str(store_id), "--key", "big-spender",
        "--rule", "net_spent >= 75"])
    assert added.exit_code == 0, added.output
    from tasks.rescore import refresh_segments

    refresh_segments.apply(args=[store_id])
    sync_dirty(app)
    sync_store_destination.apply(args=[dest])  # the periodic full compare is held too
    assert len(seeded_shop.mutation_requests()) == sent_before  # nothing went out
    runs = api_get(client, RUNS, store_id=store_id, destination_id=dest).json["runs"]
    held = [r for r in runs if r["status"] == "held"]
    assert len(held) == 1  # one hold waits; later passes do not pile up more
    detail = api_get(client, RUN, store_id=store_id, destination_id=dest,
                     run_id=held[0]["id"]).json
    assert detail["hold"]["audience"] == 9 and detail["hold"]["changing"] == 5
    assert detail["hold"]["adds"] == {"tw:big-spender": 5} and detail["hold"]["share"] > 0.5
    shown = app.test_cli_runner().invoke(args=["sync", "runs", "--store", str(store_id),
                                               "--run", str(held[0]["id"])])
    assert "5 of 9 customers would change" in shown.output and "add tw:big-spender: 5" in \
        shown.output

    confirm = f"/api/v1/stores/{store_id}/destinations/{dest}/runs/{held[0]['id']}/confirm"
    response = client.post(confirm, headers=AUTH)
    assert response.status_code == 200, response.json
    assert_conforms(response, "POST", RUN + "/confirm")
    assert response.json["status"] == "confirmed"
    assert response.json["decided_by"] == "deployment-token"
    assert client.post(confirm, headers=AUTH).status_code == 409  # decided once
    sync_store_destination.apply(args=[dest], kwargs={"trigger": "confirmed"})  # the queued pass
    tagged = [c for c in SEEDED if "tw:big-spender" in seeded_shop.tags_of(c)]
    assert len(tagged) == 5
    latest = api_get(client, RUNS, store_id=store_id, destination_id=dest).json["runs"][0]
    assert (latest["trigger"], latest["succeeded"]) == ("confirmed", 5)


def test_a_rejected_hold_sends_nothing_and_puts_the_destination_back_in_dry_run(
        app, client, seeded_shop):
    store_id = add_store(app, seeded_shop)
    seed_orders(client, app)
    rescore(app, store_id)
    dest = destination_id(app)
    app.config["SYNC_BRAKE_MIN_AUDIENCE"] = 5
    with app.extensions["db"].session() as session:
        ids = list(session.execute(select(Profile.customer_id)).scalars())
        for profile in session.execute(select(Profile)).scalars():
            profile.segment_keys = []  # a bad edit: everyone would lose every tag
    schedule_sync(dest, ids)
    sync_dirty(app)
    with app.extensions["db"].session() as session:
        run_id = session.execute(select(SyncRun.id).filter_by(status="held")).scalar_one()
    result = app.test_cli_runner().invoke(args=[
        "sync", "reject", "--store", str(store_id), "--destination", str(dest),
        "--run", str(run_id)])
    assert result.exit_code == 0, result.output
    assert "back in dry run" in result.output
    with app.extensions["db"].session() as session:
        assert session.get(Destination, dest).mode == "dry_run"
        run = session.get(SyncRun, run_id)
        assert run.status == "rejected" and run.decided_by == "operator"
    assert all(seeded_shop.tags_of(c) for c in SEEDED)  # nobody lost a tag


def test_a_small_change_to_a_large_audience_goes_through(app, client, seeded_shop):
    store_id = add_store(app, seeded_shop)
    seed_orders(client, app)
    rescore(app, store_id)
    dest = destination_id(app)
    app.config["SYNC_BRAKE_MIN_AUDIENCE"] = 5
    deliver(client, "orders/create", order_payload(99, created=days_ago(1)), "small")
    process_pending(app)
    sync_dirty(app)
    latest = api_get(client, RUNS, store_id=store_id, destination_id=dest).json["runs"][0]
    assert (latest["trigger"], latest["status"], latest["changed"]) == ("debounce",
                                                                       "completed", 1)


def test_a_customer_at_the_tag_cap_gets_what_fits_and_the_batch_goes_on(app, client, shop):
    merchant_tags = [f"merchant-{i}" for i in range(248)]
    shop.customers[str(CUSTOMER_ID)] = list(merchant_tags)
    store_id = add_store(app, shop)
    deliver(client, "orders/create", order_payload(1, created=days_ago(3)), "c1")
    deliver(client, "orders/create", order_payload(2, customer_id=OTHER_ID, email="o@x.com",
                                                   created=days_ago(2)), "c2")
    process_pending(app)
    sync_dirty(app)
    capped = shop.tags_of(str(CUSTOMER_ID))
    assert len(capped) == 250 and set(merchant_tags) <= set(capped)
    ours = [t for t in shop.tags_of(str(OTHER_ID)) if t.startswith("tw:")]
    assert len(ours) > 2  # the other customer of the batch got all of its tags
    dest = destination_id(app)
    run = api_get(client, RUNS, store_id=store_id, destination_id=dest).json["runs"][0]
    assert (run["status"], run["succeeded"], run["failed"]) == ("completed", 2, 0)
    with app.extensions["db"].session() as session:
        failure = session.execute(select(SyncFailure)).scalar_one()
    assert (failure.outcome, failure.reason) == ("partial", "tag_budget")
    assert "left out" in failure.message and "248 of Shopify's 250" in failure.message
    assert failure.customer_id == customer_id(app, CUSTOMER_ID)


def test_runs_past_retention_are_deleted_but_a_pending_hold_stays(app, client, shop):
    from tasks.retention import purge_sync_runs

    add_store(app, shop)
    dest = destination_id(app)
    old = days_ago(app.config["SYNC_RUN_RETENTION_DAYS"] + 1)
    with app.extensions["db"].session() as session:
        for status in ("completed", "held"):
            session.add(SyncRun(destination_id=dest, trigger="debounce", status=status,
                                started_at=old, considered=0, changed=0, succeeded=0,
                                failed=0, requests=0, throttle_waits=0,
                                throttle_wait_seconds=0.0))
        session.add(SyncRun(destination_id=dest, trigger="debounce", status="completed",
                            started_at=old + timedelta(days=2), considered=0, changed=0,
                            succeeded=0, failed=0, requests=0, throttle_waits=0,
                            throttle_wait_seconds=0.0))
    assert purge_sync_runs.apply().get() == 1
    with app.extensions["db"].session() as session:
        assert sorted(session.execute(select(SyncRun.status)).scalars()) == ["completed",
                                                                             "held"]
