"""Fixtures: a stand-in receiver on loopback, and a client whose retry waits are recorded."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from connectors.base import RetryPolicy
from connectors.webhook import WebhookClient, WebhookWriter
from tests.standins.server import serving
from tests.standins.webhook_receiver import WebhookReceiver

SECRET = "whsec_test_receiver_secret"


@pytest.fixture
def receiver() -> WebhookReceiver:
    return WebhookReceiver(SECRET)


@pytest.fixture
def url(receiver: WebhookReceiver) -> Iterator[str]:
    with serving(receiver) as base:
        yield f"{base}/hooks/tagwise"


@pytest.fixture
def waits() -> list[float]:
    """The backoff waits the client asked for (recorded instead of slept)."""
    return []


def make_writer(url: str, waits: list[float], secret: str = SECRET, **kwargs) -> WebhookWriter:
    """A writer for ``url`` whose retries record their waits instead of sleeping."""
    policy = RetryPolicy(sleep=waits.append, rng=random.Random(7))
    return WebhookWriter(WebhookClient(url, secret, policy=policy), store_id=7,
                         store_domain="tagwise-test.myshopify.com", **kwargs)
