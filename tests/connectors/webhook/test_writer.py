"""The webhook writer against a receiver that checks signatures: batches, retries, failures."""

from __future__ import annotations

import pytest

from connectors.base import PermanentError, WriterContext
from connectors.webhook.writer import build_writer
from tests.connectors.changes import change, many
from tests.connectors.webhook.conftest import SECRET, make_writer
from tests.standins.server import serving
from tests.standins.webhook_receiver import WebhookReceiver


def test_a_batch_arrives_signed_with_what_each_customer_gained_and_lost(receiver, url, waits):
    changes = [change(1, tags={"tw:champions", "tw:lifecycle-active"},
                      add={"tw:champions"}, remove={"tw:at-risk"}, rfm_group="champions"),
               change(2, tags=set(), add=set(), remove={"tw:champions"}, email=None)]
    outcomes = make_writer(url, waits).write(changes)
    assert [(o.customer_id, o.status) for o in outcomes] == [(1, "ok"), (2, "ok")]
    [attempt] = receiver.attempts
    assert attempt.status == 200  # the receiver verified signature and timestamp
    document = attempt.document
    assert document["type"] == "segments.changed"
    assert document["id"] == attempt.headers["Idempotency-Key"]
    assert document["store"] == {"id": 7, "domain": "tagwise-test.myshopify.com"}
    first, second = document["changes"]
    assert first["tags"] == ["tw:champions", "tw:lifecycle-active"]
    assert (first["added"], first["removed"]) == (["tw:champions"], ["tw:at-risk"])
    assert first["email"] == "c1@example.com" and first["properties"]["rfm_group"] == "champions"
    assert second == {"customer_id": 2, "platform_customer_id": "1002", "email": None, "tags": [],
                      "added": [], "removed": ["tw:champions"], "properties": {}}


def test_a_503_is_retried_after_its_retry_after_with_the_same_idempotency_key(
        receiver, url, waits):
    receiver.fail_next(503, retry_after="2")
    outcomes = make_writer(url, waits).write([change(1)])
    assert [o.status for o in outcomes] == ["ok"]
    assert [a.status for a in receiver.attempts] == [503, 200]
    assert waits == [2.0]  # Retry-After honoured (recorded, not slept)
    keys = {a.headers["Idempotency-Key"] for a in receiver.attempts}
    assert len(keys) == 1 and set(receiver.accepted) == keys
    bodies = {a.body for a in receiver.attempts}
    assert len(bodies) == 1  # the same bytes, re-signed for the retry


def test_a_429_is_retried_and_persistent_5xx_become_transient_outcomes(receiver, url, waits):
    receiver.fail_next(429, retry_after="1")
    assert [o.status for o in make_writer(url, waits).write([change(1)])] == ["ok"]
    assert waits == [1.0]
    receiver.fail_next(500, times=4)
    outcomes = make_writer(url, waits).write([change(2)])
    assert outcomes[0].status == "transient" and "HTTP 500" in outcomes[0].error
    assert [a.status for a in receiver.attempts[2:]] == [500] * 4  # bounded: four attempts


@pytest.mark.parametrize("status", [400, 404, 410, 422])
def test_other_4xx_fail_permanently_without_a_retry(receiver, url, waits, status):
    receiver.fail_next(status)
    outcomes = make_writer(url, waits).write([change(1), change(2)])
    assert [o.status for o in outcomes] == ["permanent", "permanent"]
    assert f"HTTP {status}" in outcomes[0].error
    assert len(receiver.attempts) == 1 and waits == []


def test_a_receiver_with_another_secret_refuses_the_delivery(receiver, url, waits):
    outcomes = make_writer(url, waits, secret="not-the-receivers-secret").write([change(1)])
    assert outcomes[0].status == "permanent" and "HTTP 401" in outcomes[0].error
    assert receiver.accepted == {} and [a.status for a in receiver.attempts] == [401]


def test_a_stale_timestamp_is_refused_by_the_receiver(url, waits):
    late = WebhookReceiver(SECRET, clock=lambda: 10_000_000_000.0)  # its clock is far ahead
    with serving(late) as base:
        outcomes = make_writer(base, waits).write([change(1)])
    assert outcomes[0].status == "permanent" and late.accepted == {}


def test_an_unreachable_receiver_is_a_transient_failure(waits):
    with serving(WebhookReceiver(SECRET)) as base:
        pass  # stopped: nothing listens on its port any more
    outcomes = make_writer(base, waits).write([change(1)])
    assert outcomes[0].status == "transient" and outcomes[0].error.startswith("network")
    assert len(waits) == 3  # four attempts, three waits between them


def test_redirects_are_not_followed(waits):
    def redirect(environ, start_response):
        start_response("302 Found", [("Location", "http://169.254.169.254/latest/meta-data")])
        return [b""]

    with serving(redirect) as base:
        outcomes = make_writer(base, waits).write([change(1)])
    assert outcomes[0].status == "permanent" and "redirect" in outcomes[0].error


def test_many_changes_go_in_batches_each_with_its_own_key(receiver, url, waits):
    outcomes = make_writer(url, waits, changes_per_delivery=100).write(many(250))
    assert len(outcomes) == 250 and {o.status for o in outcomes} == {"ok"}
    assert [len(d["changes"]) for d in receiver.accepted.values()] == [100, 100, 50]
    delivered = [c["customer_id"] for d in receiver.accepted.values() for c in d["changes"]]
    assert delivered == list(range(1, 251))


@pytest.mark.parametrize("target", ["http://127.0.0.1:9/hook", "http://10.1.2.3/hook",
                                    "http://169.254.169.254/latest", "http://[::1]/hook",
                                    "ftp://example.com/hook", "not a url"])
def test_the_writer_refuses_private_or_odd_urls_unless_the_operator_allows(target):
    context = WriterContext(config={"url": target}, credentials=SECRET, store_id=1,
                            store_domain="x", prefix="tw:", store_client=lambda: None)
    with pytest.raises(PermanentError) as refused:
        build_writer(context)
    assert refused.value.reason == "unsafe_url"
