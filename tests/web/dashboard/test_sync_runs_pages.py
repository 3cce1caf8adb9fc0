"""The sync runs pages: a failed customer shown with its reason, the replay button queues the
replay, a held sync is shown with its diff and confirmed from the page."""

from __future__ import annotations

from sqlalchemy import select

from app.storage.models import Profile, SyncRun
from tasks.sync import retry_failed_destination, schedule_sync
from tests.conftest import API_TOKEN
from tests.seeding import add_store, days_ago, deliver, order_payload, process_pending, sync_dirty
from tests.sync.test_sync_runs import STRANGER_ID, destination_id
from tests.web.dashboard.test_pages import csrf, sign_in_as


def queued(app, queue: str = "sync") -> int:
    """Messages waiting on a Celery queue of the real broker."""
    return app.extensions["redis"].llen(queue)


def test_a_failed_customer_is_listed_and_the_replay_button_queues_its_replay(app, client,
                                                                             shop):
    store_id = add_store(app, shop)
    deliver(client, "orders/create", order_payload(2, customer_id=STRANGER_ID, email="s@x.com",
                                                   created=days_ago(4)), "d1")
    process_pending(app)
    sync_dirty(app)
    dest = destination_id(app)
    sign_in_as(client, token=API_TOKEN)
    runs_url = f"/stores/{store_id}/destinations/{dest}/runs"
    page = client.get(runs_url).get_data(as_text=True)
    assert "1 customer failed and awaits a replay" in page and "debounce" in page
    with app.extensions["db"].session() as session:
        run_id = session.execute(select(SyncRun.id)).scalar_one()
    detail = client.get(f"{runs_url}/{run_id}").get_data(as_text=True)
    assert str(STRANGER_ID) in detail and "Customer does not exist" in detail

    shop.customers[str(STRANGER_ID)] = []
    before = queued(app)
    response = client.post(f"/stores/{store_id}/destinations/{dest}/retry-failed",
                           data={"csrf_token": csrf(client, runs_url)})
    assert response.status_code == 302
    assert queued(app) == before + 1
    assert "Replay queued" in client.get(response.headers["Location"]).get_data(as_text=True)
    retry_failed_destination.apply(args=[dest])  # what the worker does with the message
    assert shop.tags_of(str(STRANGER_ID))
    page = client.get(runs_url).get_data(as_text=True)
    assert "0 customers failed and await a replay" in page and "replay" in page


def test_a_held_sync_is_shown_with_its_diff_and_confirmed_from_its_page(app, client, shop):
    store_id = add_store(app, shop)
    for n, customer in enumerate((None, 4242)):
        kwargs = {"customer_id": customer, "email": "o@x.com"} if customer else {}
        deliver(client, "orders/create", order_payload(n + 1, created=days_ago(3), **kwargs),
                f"h{n}")
    process_pending(app)
    sync_dirty(app)  # the first sync: two customers in the audience
    app.config["SYNC_BRAKE_MIN_AUDIENCE"] = 2
    dest = destination_id(app)
    with app.extensions["db"].session() as session:
        ids = list(session.execute(select(Profile.customer_id)).scalars())
        for profile in session.execute(select(Profile)).scalars():
            profile.segment_keys = [*profile.segment_keys, "summer-promo"]
    schedule_sync(dest, ids)
    sync_dirty(app)
    with app.extensions["db"].session() as session:
        run_id = session.execute(select(SyncRun.id).filter_by(status="held")).scalar_one()
    sign_in_as(client, token=API_TOKEN)
    runs_url = f"/stores/{store_id}/destinations/{dest}/runs"
    assert "Sync held for your decision" in client.get(runs_url).get_data(as_text=True)
    page = client.get(f"{runs_url}/{run_id}").get_data(as_text=True)
    assert "2 of 2 customers (100%" in page and "tw:summer-promo" in page
    before = queued(app)
    response = client.post(f"{runs_url}/{run_id}/decide", data={
        "csrf_token": csrf(client, f"{runs_url}/{run_id}"), "decision": "confirm"})
    assert response.status_code == 302 and queued(app) == before + 1
    with app.extensions["db"].session() as session:
        run = session.get(SyncRun, run_id)
        assert (run.status, run.decided_by) == ("confirmed", "deployment-token")
