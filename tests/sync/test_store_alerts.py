"""A store's own alert receiver: set through the API or the CLI, stored encrypted, told once
when its store's condition starts and once when it clears — and never about another store."""

from __future__ import annotations

from sqlalchemy import update

from app.storage.models import INBOX_DONE, INBOX_PARKED, InboxEvent, Store
from tasks.alerts import check_alerts
from tests.conftest import API_TOKEN
from tests.seeding import OTHER_SHOP, add_store, days_ago, deliver, order_payload
from tests.standins.alert_receiver import SIGNING_SECRET, AlertReceiver
from tests.standins.server import serving

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def park(app, store_id: int, status: str) -> None:
    with app.extensions["db"].session() as session:
        session.execute(update(InboxEvent).where(InboxEvent.store_id == store_id)
                        .values(status=status))


def test_a_store_receiver_hears_its_store_once_and_its_recovery_once(app, client, shop,
                                                                      receiver):
    first = add_store(app, shop)
    second = add_store(app, shop, domain=OTHER_SHOP)
    deliver(client, "orders/create", order_payload(1, created=days_ago(3)), "s1")
    deliver(client, "orders/create", order_payload(2, created=days_ago(3)), "s2",
            shop=OTHER_SHOP)
    own = AlertReceiver()
    with serving(own) as url:
        hook = f"{url}/services/T000/B000/XXXXSECRET"
        answer = client.put(f"/api/v1/stores/{first}/alert-url", headers=AUTH, json={"url": hook})
        assert answer.status_code == 200 and answer.json == {"store_id": first,
                                                             "alert_url_set": True}
        with app.extensions["db"].session() as session:
            stored = session.get(Store, first).alert_url_enc
        assert "XXXXSECRET" not in stored  # encrypted at rest

        park(app, first, INBOX_PARKED)
        park(app, second, INBOX_PARKED)
        assert check_alerts.apply().get() == 3  # deployment: both stores; first store: its own
        assert check_alerts.apply().get() == 0  # still parked: nobody hears it twice
        assert [m["tagwise"] for m in own.messages] == [
            {"alert": f"store:{first}:inbox_parked", "state": "firing", "store_id": first}]
        assert own.messages[0]["signed"]
        assert len(receiver.messages) == 2

        park(app, first, INBOX_DONE)
        assert check_alerts.apply().get() == 2
        assert [m["tagwise"]["state"] for m in own.messages] == ["firing", "resolved"]
        assert own.texts()[1].startswith("[Tagwise] RESOLVED:")

        cleared = client.delete(f"/api/v1/stores/{first}/alert-url", headers=AUTH)
        assert cleared.json == {"store_id": first, "alert_url_set": False}
        park(app, first, INBOX_PARKED)
        assert check_alerts.apply().get() == 1  # the deployment only
        assert len(own.messages) == 2


def test_a_store_receiver_alone_gets_its_alerts_when_the_deployment_has_none(app, client,
                                                                             shop):
    app.config.update(ALERT_SIGNING_SECRET=SIGNING_SECRET, TAGWISE_ALLOW_PRIVATE_URLS=True)
    store_id = add_store(app, shop)
    deliver(client, "orders/create", order_payload(1, created=days_ago(3)), "c1")
    own = AlertReceiver()
    with serving(own) as url:
        result = app.test_cli_runner().invoke(args=[
            "stores", "alert-url", "--store", str(store_id), "--url", "-"],
            input=f"{url}/hooks/store\n")
        assert result.exit_code == 0, result.output
        park(app, store_id, INBOX_PARKED)
        assert check_alerts.apply().get() == 1
        assert own.messages[0]["tagwise"]["alert"] == f"store:{store_id}:inbox_parked"


def test_a_private_or_malformed_alert_url_is_refused_with_a_reason(app, client, shop):
    app.config["TAGWISE_ALLOW_PRIVATE_URLS"] = False
    store_id = add_store(app, shop)
    for url in ("http://127.0.0.1:9/hook", "ftp://example.com/x", "https://u:p@example.com/"):
        answer = client.put(f"/api/v1/stores/{store_id}/alert-url", headers=AUTH,
                            json={"url": url})
        assert answer.status_code == 422, url
        assert answer.json["error"]["reason"] == "invalid_alert_url"
    with app.extensions["db"].session() as session:
        assert session.get(Store, store_id).alert_url_enc is None  # nothing written
    cli = app.test_cli_runner().invoke(args=["stores", "alert-url", "--store", str(store_id),
                                             "--url", "-"], input="http://10.0.0.1/x\n")
    assert cli.exit_code != 0 and "alert URL refused" in cli.output
    assert "Traceback" not in cli.output
