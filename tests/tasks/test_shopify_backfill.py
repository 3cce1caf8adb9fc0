"""Shopify history through a bulk operation: thousands of orders, resumable, visible progress."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from app.storage.models import BackfillJob, Customer, InboxEvent, Order, Profile, Store
from connectors.base import TransientError
from tests.conftest import API_TOKEN
from tests.seeding import add_store

N_CUSTOMERS, N_ORDERS = 2000, 2000
# A shop of few customers with many orders each: quick to import, and small enough that the
# rescore uses the documented prior instead of fitting (a fit is covered by the big shop).
SMALL_CUSTOMERS, SMALL_ORDERS = 20, 800
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def history_shop(shop):
    """The stand-in shop with a deterministic two-year history of thousands of orders."""
    shop.history.generate(N_CUSTOMERS, N_ORDERS, seed=8, now=datetime.now(UTC))
    return shop


@pytest.fixture
def small_shop(shop, monkeypatch):
    """A smaller history, applied in chunks of 100 records so a break lands between chunks."""
    monkeypatch.setattr("tasks.backfill.RECORDS_PER_CHUNK", 100)
    shop.history.generate(SMALL_CUSTOMERS, SMALL_ORDERS, seed=5, now=datetime.now(UTC))
    return shop


class Sleeps(list):
    """Records the pauses the poller asks for instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def expected_profiles(history) -> dict[str, tuple[int, float, float]]:
    """Per customer key (platform id, or guest email): live orders, total and net spent."""
    out: dict[str, list] = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    for key in history.customers:
        out[key]  # noqa: B018  (customers without orders have a profile too)
    for node in history.orders.values():
        buyer = node["customer"]
        key = buyer["id"].rsplit("/", 1)[1] if buyer else node["email"].lower()
        if node["cancelledAt"]:
            out[key]
            continue
        total = Decimal(node["totalPriceSet"]["shopMoney"]["amount"])
        refunded = sum((Decimal(r["totalRefundedSet"]["shopMoney"]["amount"])
                        for r in node["refunds"]), Decimal(0))
        out[key][0] += 1
        out[key][1] += total
        out[key][2] += total - refunded
    return {k: (n, round(float(t), 2), round(float(net), 2)) for k, (n, t, net) in out.items()}


def stored_profiles(app) -> dict[str, tuple[int, float, float]]:
    with app.extensions["db"].session() as session:
        rows = session.execute(select(Customer.platform_id, Customer.guest_email_key,
                                      Profile.orders_count, Profile.total_spent,
                                      Profile.net_spent)
                               .join(Profile, Profile.customer_id == Customer.id)).all()
    return {platform_id or guest: (count, round(total, 2), round(net, 2))
            for platform_id, guest, count, total, net in rows}


def backfill_state(client, store_id: int) -> dict:
    response = client.get(f"/api/v1/stores/{store_id}/backfill", headers=AUTH)
    assert response.status_code == 200, response.json
    return response.json


def test_a_bulk_backfill_of_thousands_of_orders_ends_with_correct_profiles(app, client,
                                                                          history_shop):
    from tasks.backfill import run_backfill

    store_id = add_store(app, history_shop)
    history_shop.history.polls_before_done = 3
    sleeps = Sleeps()
    job = run_backfill(store_id, sleep=sleeps)
    assert job["status"] == "completed" and job["rejected"] == 0
    assert (job["customers"], job["orders"]) == (N_CUSTOMERS, N_ORDERS)
    assert stored_profiles(app) == expected_profiles(history_shop.history)
    # Polled with growing pauses, not a busy loop; each operation was asked for by its gid.
    assert sleeps == [1.0, 2.0, 4.0, 1.0, 2.0, 4.0]
    [customers_op, orders_op] = history_shop.history.operations
    assert customers_op.group_objects and orders_op.group_objects
    assert orders_op.roots == N_ORDERS and orders_op.lines > 2 * N_ORDERS
    # Streamed from the signed url without our access token; nothing went through the inbox.
    assert all("X-Shopify-Access-Token" not in h for h in history_shop.history.downloads)
    with app.extensions["db"].session() as session:
        assert session.execute(select(func.count(InboxEvent.id))).scalar() == 0
        assert session.get(Store, store_id).rescored_at is not None
    state = backfill_state(client, store_id)
    assert (state["status"], state["orders"], state["customers"]) == (
        "completed", N_ORDERS, N_CUSTOMERS)


def test_an_interrupted_backfill_resumes_from_the_same_result_without_double_counting(
        app, client, small_shop):
    from tasks.backfill import run_backfill

    store_id = add_store(app, small_shop)
    small_shop.history.drop_download = (2, 1200)  # the orders file breaks off mid-way
    with pytest.raises(TransientError):
        run_backfill(store_id, sleep=Sleeps())
    state = backfill_state(client, store_id)
    assert (state["status"], state["phase"]) == ("running", "orders")
    assert 0 < state["lines_done"] <= 1200 < state["lines_total"]
    assert 0 < state["orders"] < SMALL_ORDERS and "resume" in state["error"]
    with app.extensions["db"].session() as session:
        assert session.execute(select(func.count(Order.id))).scalar() == state["orders"]

    job = run_backfill(store_id, sleep=Sleeps())
    assert job["id"] == state["id"] and job["status"] == "completed"
    assert job["orders"] == SMALL_ORDERS  # every order applied exactly once
    assert len(small_shop.history.operations) == 2  # the same bulk result, downloaded again
    assert stored_profiles(app) == expected_profiles(small_shop.history)


def test_even_replaying_a_whole_result_counts_nothing_twice(app, small_shop):
    from tasks.backfill import run_backfill

    store_id = add_store(app, small_shop)
    small_shop.history.drop_download = (2, 1800)
    with pytest.raises(TransientError):
        run_backfill(store_id, sleep=Sleeps())
    with app.extensions["db"].session() as session:  # as if the offset had been lost
        session.execute(update(BackfillJob).values(lines_done=0, orders=0))
    run_backfill(store_id, sleep=Sleeps())
    assert stored_profiles(app) == expected_profiles(small_shop.history)
    with app.extensions["db"].session() as session:
        assert session.execute(select(func.count(Order.id))).scalar() == SMALL_ORDERS


def test_a_failed_bulk_operation_fails_the_job_with_its_status_and_code(app, client,
                                                                       small_shop):
    store_id = add_store(app, small_shop)
    small_shop.history.fail_with = ("FAILED", "TIMEOUT")
    result = app.test_cli_runner().invoke(args=["backfill", "--store", str(store_id)])
    assert result.exit_code == 1
    assert "backfill failed: bulk operation gid://shopify/BulkOperation/1 ended FAILED " \
           "(TIMEOUT)" in result.output
    state = backfill_state(client, store_id)
    assert state["status"] == "failed" and "TIMEOUT" in state["error"]


def test_a_store_uninstalled_mid_backfill_stops_it(app, client, small_shop):
    from tasks.backfill import run_backfill

    store_id = add_store(app, small_shop)

    def uninstall_once_orders_flow(phase: str, done: int, total: int | None) -> None:
        if phase == "orders" and done:
            with app.extensions["db"].session() as session:
                session.get(Store, store_id).install_state = "uninstalled"

    job = run_backfill(store_id, progress=uninstall_once_orders_flow, sleep=Sleeps())
    assert job["status"] == "stopped" and job["error"] == "store is uninstalled"
    assert 0 < job["orders"] < SMALL_ORDERS
    assert backfill_state(client, store_id)["status"] == "stopped"


def test_the_cli_backfills_with_a_progress_bar_and_the_task_runs_on_the_bulk_queue(
        app, client, small_shop):
    from tasks.backfill import backfill_store

    store_id = add_store(app, small_shop)
    result = app.test_cli_runner().invoke(args=["backfill", "--store", str(store_id)])
    assert result.exit_code == 0, result.output
    assert "importing customers" in result.output and "importing orders" in result.output
    assert (f"backfill completed: {SMALL_CUSTOMERS} customers, {SMALL_ORDERS} orders"
            in result.output)
    assert stored_profiles(app) == expected_profiles(small_shop.history)
    # The install flow's call: the task by name, on the bulk queue; a rerun is a new job,
    # and ``since`` narrows the bulk query to what changed after it.
    celery = app.extensions["celery"]
    route = celery.amqp.router.route({}, "tasks.backfill.backfill_store", (store_id,), {})
    assert backfill_store.name == "tasks.backfill.backfill_store"
    assert route["queue"].name == "bulk"
    job = backfill_store.apply(args=[store_id], kwargs={"since": "2099-01-01"}).get()
    assert job["status"] == "completed" and job["orders"] == 0
    assert "updated_at:>'2099-01-01T00:00:00+00:00'" in small_shop.history.operations[-1].query
    assert backfill_state(client, store_id)["since"] == "2099-01-01T00:00:00+00:00"


def test_backfill_progress_for_a_store_without_one_is_a_clear_404(app, client, shop):
    store_id = add_store(app, shop)
    response = client.get(f"/api/v1/stores/{store_id}/backfill", headers=AUTH)
    assert response.status_code == 404
    assert response.json["error"]["reason"] == "no_backfill"
    assert client.get("/api/v1/stores/999/backfill", headers=AUTH).status_code == 404
