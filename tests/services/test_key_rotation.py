"""`tagwise keys rotate`: after it, the old key can leave TAGWISE_ENCRYPTION_KEY."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from app.storage.crypto import SecretBox
from app.storage.models import Destination, Store
from tests.conftest import shopify_headers
from tests.seeding import (
    CUSTOMER_ID,
    add_store,
    days_ago,
    order_payload,
    process_pending,
    sync_dirty,
)


def secrets_held(app) -> dict[str, str]:
    """Every stored secret, decrypted with the app's current keys."""
    box = app.extensions["secret_box"]
    with app.extensions["db"].session() as session:
        store = session.execute(select(Store)).scalar_one()
        destination = session.execute(select(Destination).filter_by(kind="klaviyo")).scalar_one()
        return {"token": box.decrypt(store.access_token_enc),
                "webhook": box.decrypt(store.webhook_secret_enc),
                "refresh": box.decrypt(store.refresh_token_enc),
                "klaviyo": box.decrypt(destination.credentials_enc)}


@pytest.fixture
def stored(app, shop):
    """A store with a token, a webhook secret, a refresh token and a Klaviyo key."""
    store_id = add_store(app, shop, "--webhook-secret", "custom-app-secret")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["destinations", "add", "klaviyo", "--store", str(store_id),
                                 "--api-key", "pk_test_rotation"])
    assert result.exit_code == 0, result.output
    with app.extensions["db"].session() as session:
        session.get(Store, store_id).refresh_token_enc = \
            app.extensions["secret_box"].encrypt("shprt_rotation")
    return secrets_held(app)


def use_keys(app, *keys: str) -> None:
    app.extensions["secret_box"] = SecretBox(",".join(keys))


def test_after_rotation_the_old_key_can_be_dropped(app, client, shop, stored):
    old = app.config["TAGWISE_ENCRYPTION_KEY"]
    new = Fernet.generate_key().decode()
    use_keys(app, new)
    with pytest.raises(ValueError):  # without rotation the new key alone reads nothing
        secrets_held(app)
    use_keys(app, new, old)
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 4 secrets" in result.output
    use_keys(app, new)
    assert secrets_held(app) == stored
    # The pipeline still verifies deliveries with the store's webhook secret and writes tags
    # with its token, both now readable with the new key only.
    body = json.dumps(order_payload(1, created=days_ago(2))).encode()
    response = client.post("/webhooks/shopify", data=body, headers=shopify_headers(
        body, "orders/create", "k1", secret="custom-app-secret"))
    assert response.status_code == 200, response.json
    assert process_pending(app) == ["done"]
    assert sync_dirty(app) == 1
    assert any(t.startswith("tw:") for t in shop.tags_of(str(CUSTOMER_ID)))


def test_a_value_no_key_reads_stops_the_rotation_before_anything_changes(app, stored):
    with app.extensions["db"].session() as session:
        destination = session.execute(select(Destination).filter_by(kind="klaviyo")).scalar_one()
        destination.credentials_enc = SecretBox(Fernet.generate_key().decode()).encrypt("x")
        before = session.execute(select(Store.access_token_enc)).scalar_one()
    use_keys(app, Fernet.generate_key().decode(), app.config["TAGWISE_ENCRYPTION_KEY"])
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code != 0 and "nothing rotated: destinations" in result.output
    with app.extensions["db"].session() as session:
        assert session.execute(select(Store.access_token_enc)).scalar_one() == before
