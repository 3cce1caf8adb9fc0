"""Seed tests the way production is fed: stores added through the CLI, Shopify deliveries built
from the captured payloads and signed, pushed through the pipeline, then rescored."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.storage.models import INBOX_PENDING, Destination, InboxEvent
from tests.conftest import API_TOKEN, SHOP, fixture_json, shopify_headers

CUSTOMER_ID = 115310627314723954  # the customer in the captured orders/create sample


def order_payload(order_id: int, *, customer_id: int | None = CUSTOMER_ID, total: str = "100.00",
                  created: datetime | None = None, updated: datetime | None = None,
                  email: str | None = "john@example.com", cancelled: bool = False,
                  discount: str = "0.00", refunds: list[dict] | None = None) -> dict:
    """A real orders/create body with the fields a scenario varies replaced."""
    body = copy.deepcopy(fixture_json("shopify", "orders_create__sample.json"))
    created = created or datetime(2026, 11, 1, 12, tzinfo=UTC)
    body.update(id=order_id, admin_graphql_api_id=f"gid://shopify/Order/{order_id}",
                created_at=created.isoformat(), updated_at=(updated or created).isoformat(),
                cancelled_at=created.isoformat() if cancelled else None,
                cancel_reason="customer" if cancelled else None, test=False,
                financial_status="voided" if cancelled else "paid", email=email,
                contact_email=email, total_price=total, total_discounts=discount,
                refunds=refunds or [], discount_codes=[])
    for name in ("total_price_set", "total_discounts_set"):
        body.pop(name, None)
    if customer_id is None:
        body["customer"] = None
    else:
        body["customer"] = dict(body["customer"], id=customer_id, email=email,
                                admin_graphql_api_id=f"gid://shopify/Customer/{customer_id}")
    return body


def refund_payload(refund_id: int, order_id: int, amount: str, when: datetime) -> dict:
    """A refunds/create body: one successful refund transaction."""
    return {"id": refund_id, "order_id": order_id, "created_at": when.isoformat(),
            "transactions": [{"id": refund_id * 10, "kind": "refund", "status": "success",
                              "amount": amount}]}


def deliver(client, topic: str, payload: dict, webhook_id: str, shop: str = SHOP):
    """POST a signed delivery and return the response."""
    body = json.dumps(payload).encode()
    return client.post("/webhooks/shopify", data=body,
                       headers=shopify_headers(body, topic, webhook_id, shop=shop))


def process_pending(app) -> list[str]:
    """Run the ingest task for every pending inbox event, as a worker would."""
    from tasks.ingest import ingest_event

    with app.extensions["db"].session() as session:
        ids = list(session.execute(select(InboxEvent.id).where(
            InboxEvent.status == INBOX_PENDING).order_by(InboxEvent.id)).scalars())
    return [ingest_event.apply(args=[i]).get() for i in ids]


def sync_dirty(app) -> int:
    """Run the debounced sync of every destination, as the worker would once it fires."""
    from tasks.sync import sync_destination

    with app.extensions["db"].session() as session:
        ids = list(session.execute(select(Destination.id)).scalars())
    return sum(sync_destination.apply(args=[i]).get() for i in ids)


def days_ago(days: float) -> datetime:
    """A UTC timestamp ``days`` before now."""
    return datetime.now(UTC) - timedelta(days=days)


OTHER_SHOP = "other-shop.myshopify.com"
# kombu's Redis transport keeps a queue's messages of priority step N in "<queue>\x06\x16N"
PRIORITY_SEPARATOR = "\x06\x16"


def add_store(app, shop, *extra: str, domain: str = SHOP) -> int:
    """Add a Shopify store writing tags to the stand-in shop (``tagwise stores add``); its id.

    UTC and USD are given: left out, the store would take the stand-in shop's own settings
    (Europe/Berlin, EUR), and day boundaries in the tests would move.
    """
    result = app.test_cli_runner().invoke(args=[
        "stores", "add", "shopify", "--domain", domain, "--access-token", shop.access_token,
        "--api-base-url", shop.url, "--timezone", "UTC", "--currency", "USD", *extra])
    assert result.exit_code == 0, result.output
    shop.requests.clear()  # the token check's one query; tests count what the pipeline sends
    return int(result.stdout)  # stdout is the bare id (the next step goes to stderr)


def customer_view(client, store_id: int, customer_id: int = CUSTOMER_ID) -> dict:
    """The API's view of one customer (profile, segments with reasons, sync state)."""
    response = client.get(f"/api/v1/stores/{store_id}/customers/{customer_id}",
                          headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert response.status_code == 200, response.json
    return response.json


def seed_orders(client, app, domain: str = SHOP, first_customer: int = 7000) -> None:
    """The captured customer buys three times; eight others once each; then processing runs."""
    start = days_ago(300)
    for i in range(3):
        deliver(client, "orders/create",
                order_payload(first_customer * 10 + i, created=start + timedelta(days=90 * i)),
                f"{domain}-o{i}", shop=domain)
    for i in range(8):
        deliver(client, "orders/create",
                order_payload(first_customer * 10 + 100 + i, customer_id=first_customer + i,
                              email=f"Buyer{i}@Example.com", created=days_ago(20 * i + 5),
                              total=f"{15 * (i + 1)}.00"), f"{domain}-p{i}", shop=domain)
    process_pending(app)


def rescore(app, store_id: int) -> None:
    """Run ``tagwise rescore`` for the store, then the sync the worker would run."""
    result = app.test_cli_runner().invoke(args=["rescore", "--store", str(store_id)])
    assert result.exit_code == 0, result.output
    sync_dirty(app)


def rescored_store(app, client, shop) -> int:
    """One shop with nine customers through the pipeline, rescored; its id."""
    store_id = add_store(app, shop)
    seed_orders(client, app)
    rescore(app, store_id)
    return store_id


def two_stores(app, client, shop) -> tuple[int, int]:
    """Two shops with customers, profiles and built-in segments; return their ids."""
    first = add_store(app, shop)
    second = add_store(app, shop, domain=OTHER_SHOP)
    seed_orders(client, app)
    seed_orders(client, app, OTHER_SHOP, first_customer=8000)
    rescore(app, first)
    rescore(app, second)
    return first, second


__all__ = ["CUSTOMER_ID", "OTHER_SHOP", "add_store", "rescore", "rescored_store", "seed_orders",
           "two_stores"]


def run_queued(app, queue: str = "realtime", limit: int | None = None
               ) -> list[tuple[str, list, object]]:
    """Run the messages waiting in a Redis broker queue as a worker would: priority 0 first,
    then 3, 6 and 9 (the transport's lists for each), oldest first within one, including
    those the tasks queue meanwhile, or only the first ``limit``; return (task, args, result)
    of each."""
    import base64

    import tasks.ingest  # noqa: F401  (register the tasks)
    import tasks.sweep  # noqa: F401

    redis, celery = app.extensions["redis"], app.extensions["celery"]
    keys = [queue] + [f"{queue}{PRIORITY_SEPARATOR}{step}" for step in (3, 6, 9)]
    ran = []
    while (limit is None or len(ran) < limit) and (
            raw := next(filter(None, (redis.rpop(key) for key in keys)), None)) is not None:
        message = json.loads(raw)
        args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        name = message["headers"]["task"]
        ran.append((name, args, celery.tasks[name].apply(args=args, kwargs=kwargs).get()))
    return ran
