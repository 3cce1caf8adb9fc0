"""Fixtures: a stand-in Klaviyo served on loopback, a client whose retries advance its clock."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from connectors.base import RetryPolicy
from connectors.klaviyo import KlaviyoClient, KlaviyoWriter
from tests.connectors.openapi import klaviyo_spec
from tests.standins.klaviyo import KlaviyoStandin
from tests.standins.server import serving

API_KEY = "pk_test_store_one"


@pytest.fixture
def standin() -> KlaviyoStandin:
    return KlaviyoStandin(API_KEY, validator=klaviyo_spec().validate_request)


@pytest.fixture
def base_url(standin: KlaviyoStandin) -> Iterator[str]:
    with serving(standin) as url:
        yield url


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(standin: KlaviyoStandin, base_url: str, sleeps: list[float]) -> KlaviyoClient:
    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        standin.advance(seconds)

    policy = RetryPolicy(sleep=sleep, rng=random.Random(7))
    return KlaviyoClient(API_KEY, base_url=base_url, policy=policy)


def make_writer(client: KlaviyoClient, standin: KlaviyoStandin, **kwargs) -> KlaviyoWriter:
    """Build a writer whose polling sleeps advance the stand-in's clock instead of waiting."""
    return KlaviyoWriter(client, prefix="tw:", sleep=standin.advance, clock=lambda: standin.now,
                         **kwargs)
