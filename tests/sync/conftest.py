"""Fixtures of the sync tests."""

from __future__ import annotations

import pytest

from demo.standins.shopify import ShopifyStandIn
from tests.seeding import CUSTOMER_ID
from tests.standins.alert_receiver import SIGNING_SECRET, AlertReceiver
from tests.standins.server import serving

SEEDED = [str(CUSTOMER_ID)] + [str(7000 + i) for i in range(8)]  # seed_orders' customers


@pytest.fixture
def seeded_shop():
    """A stand-in shop knowing the customers of ``tests.seeding.seed_orders``."""
    stand_in = ShopifyStandIn(customers={c: [] for c in SEEDED})
    with serving(stand_in) as url:
        stand_in.url = url
        yield stand_in


@pytest.fixture
def receiver(app):
    """The deployment's alert receiver (ALERT_WEBHOOK_URL), signing on, private URLs allowed."""
    stand_in = AlertReceiver()
    with serving(stand_in) as url:
        app.config.update(ALERT_WEBHOOK_URL=url + "/hooks/T000/B000",
                          ALERT_SIGNING_SECRET=SIGNING_SECRET, TAGWISE_ALLOW_PRIVATE_URLS=True)
        yield stand_in
