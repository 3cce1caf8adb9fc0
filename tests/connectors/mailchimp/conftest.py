"""Fixtures: a stand-in Mailchimp served on loopback, a client whose retries advance its clock."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from connectors.base import RetryPolicy
from connectors.mailchimp import MailchimpClient, MailchimpWriter
from tests.connectors.openapi import mailchimp_spec
from tests.standins.mailchimp import MailchimpStandin
from tests.standins.server import serving

API_KEY = "0123456789abcdef0123456789abcdef-us6"
LIST_ID = "a1b2c3d4e5"


def spec_validator():
    """The spec's request validator, or None when ../shared is not there (checks then skip)."""
    spec = mailchimp_spec()
    return spec.validate_request if spec else None


@pytest.fixture
def standin() -> MailchimpStandin:
    return MailchimpStandin(API_KEY, list_id=LIST_ID, validator=spec_validator(),
                            compliance_emails=frozenset({"unsubscribed.long.ago@example.com"}),
                            forgotten_emails=frozenset({"forget.me@example.com"}))


@pytest.fixture
def base_url(standin: MailchimpStandin) -> Iterator[str]:
    with serving(standin) as url:
        yield f"{url}/3.0"


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(standin: MailchimpStandin, base_url: str, sleeps: list[float]) -> MailchimpClient:
    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        standin.advance(seconds)

    return MailchimpClient(API_KEY, base_url=base_url,
                           policy=RetryPolicy(sleep=sleep, rng=random.Random(3)))


@pytest.fixture
def writer(client: MailchimpClient) -> MailchimpWriter:
    return MailchimpWriter(client, LIST_ID, prefix="tw:")
