"""Raw webhook bodies are purged after INBOX_RETENTION_DAYS; pending events keep theirs."""

from __future__ import annotations

from sqlalchemy import select, update

from app.ingest.inbox import insert_event
from app.storage.models import InboxEvent
from tests.seeding import add_store, days_ago


def test_finished_bodies_past_retention_are_purged_and_the_rest_kept(app, shop):
    from tasks.retention import purge_inbox_bodies

    app.config["INBOX_RETENTION_DAYS"] = 30
    store_id = add_store(app, shop)
    db = app.extensions["db"]
    cases = {  # key: (status, days since received, body kept?)
        "done-old": ("done", 31, False), "ignored-old": ("ignored", 45, False),
        "parked-old": ("parked", 31, False), "pending-old": ("pending", 90, True),
        "done-recent": ("done", 29, True), "parked-recent": ("parked", 2, True),
    }
    for key, (status, age, _kept) in cases.items():
        event_id = insert_event(db, store_id, "shopify", "orders/create", key, b'{"id": 1}')
        with db.session() as session:
            session.execute(update(InboxEvent).where(InboxEvent.id == event_id)
                            .values(status=status, received_at=days_ago(age)))
    assert purge_inbox_bodies.apply().get() == 3
    assert purge_inbox_bodies.apply().get() == 0  # a second run finds nothing more
    with db.session() as session:
        kept = {key: body is not None for key, body in session.execute(
            select(InboxEvent.dedupe_key, InboxEvent.body))}
    assert kept == {key: case[2] for key, case in cases.items()}


def test_a_purged_parked_event_is_reported_not_replayed(app, shop):
    store_id = add_store(app, shop)
    db = app.extensions["db"]
    event_id = insert_event(db, store_id, "shopify", "orders/create", "p1", b'{"id": 1}')
    with db.session() as session:
        session.execute(update(InboxEvent).where(InboxEvent.id == event_id)
                        .values(status="parked", body=None))
    result = app.test_cli_runner().invoke(args=["inbox", "replay"])
    assert result.exit_code == 0
    assert f"event {event_id}: body purged" in result.output
    with db.session() as session:
        assert session.get(InboxEvent, event_id).status == "parked"


def test_the_purge_runs_daily_on_the_bulk_queue(app):
    celery = app.extensions["celery"]
    entry = celery.conf.beat_schedule["purge-inbox-bodies"]
    assert entry["task"] == "tasks.retention.purge_inbox_bodies"
    assert str(entry["schedule"].hour) == str({app.config["RESCORE_HOUR_UTC"]})
    assert celery.amqp.router.route({}, "tasks.retention.purge_inbox_bodies")["queue"].name \
        == "bulk"
