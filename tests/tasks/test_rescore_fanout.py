"""The nightly beat fans out one rescore per installed store, biggest first; a store is never
recomputed twice at once."""

import json

from app.storage.models import Customer, Store
from tasks.rescore import lock_key, rescore, rescore_all, run_rescore


def add_stores(app, customers: dict[str, int], uninstalled: str | None = None) -> dict[str, int]:
    """Stores by domain with that many live customers (plus a deleted one each); their ids."""
    ids = {}
    with app.extensions["db"].session() as session:
        for domain, count in customers.items():
            store = Store(platform="shopify", domain=f"{domain}.myshopify.com",
                          install_state="uninstalled" if domain == uninstalled else "active")
            session.add(store)
            session.flush()
            session.add_all(Customer(store_id=store.id, platform_id=str(i)) for i in range(count))
            session.add(Customer(store_id=store.id, platform_id="gone",
                                 deleted_at=store.created_at))
            ids[domain] = store.id
    return ids


def queued_bulk(app) -> list[tuple[str, int]]:
    """(task name, store id) of the messages on the bulk queue, in the order workers take them."""
    messages = app.extensions["redis"].lrange("bulk", 0, -1)[::-1]  # LPUSH in, BRPOP out
    headers = [json.loads(m)["headers"] for m in messages]
    return [(h["task"].removeprefix("tasks.rescore."), int(h["argsrepr"].strip("(),")))
            for h in headers]


def test_the_nightly_beat_queues_every_installed_store_biggest_first(app):
    ids = add_stores(app, {"small": 2, "big": 9, "gone": 50, "middle": 5, "empty": 0},
                     uninstalled="gone")
    assert rescore_all.apply().get() == 4
    order = [ids["big"], ids["middle"], ids["small"], ids["empty"]]
    # Then each store's customer facts check, behind every rescore.
    assert queued_bulk(app) == ([("rescore", i) for i in order]
                                + [("check_store_facts", i) for i in order])


def test_a_store_being_recomputed_is_not_rescored_again_meanwhile(app):
    store_id = add_stores(app, {"busy": 3})["busy"]
    lock = app.extensions["redis"].lock(lock_key(store_id), timeout=60)
    assert lock.acquire(blocking=False)
    assert rescore.apply(args=[store_id]).get() == {"customers": 0, "changed": 0}
    result = app.test_cli_runner().invoke(args=["rescore", "--store", str(store_id)])
    assert result.exit_code == 1
    assert f"store {store_id} is being recomputed by another process" in result.output
    with app.extensions["db"].session() as session:
        assert session.get(Store, store_id).rescored_at is None
    lock.release()
    counts = run_rescore(store_id)
    assert counts["customers"] == 3 and counts["rows_written_profiles"] == 3
