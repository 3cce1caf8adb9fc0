"""MailchimpWriter against the stand-in: paths, member safety, limits, failures, isolation."""

from __future__ import annotations

import math
import random

import pytest

from connectors.base import RetryPolicy
from connectors.mailchimp import MailchimpClient, MailchimpWriter
from tests.connectors import openapi
from tests.connectors.changes import change, many
from tests.connectors.mailchimp.conftest import API_KEY, LIST_ID
from tests.connectors.openapi import mailchimp_spec
from tests.standins.mailchimp import MailchimpStandin
from tests.standins.server import serving


def statuses(outcomes) -> dict[int, str]:
    return {o.customer_id: o.status for o in outcomes}


def test_few_changes_use_one_member_tags_call_each(writer, standin):
    for i in (1, 2):
        standin.add_member(f"c{i}@example.com", tags={"champions"})
    changes = [
        change(1, tags={"tw:at-risk"}, add={"tw:at-risk"}, remove={"tw:champions"}),
        change(2, tags={"tw:champions", "tw:value-high"}, add={"tw:value-high"}),
        change(3, email=None),
    ]

    outcomes = writer.write(changes)

    assert [(o.customer_id, o.status, o.error) for o in outcomes] == [
        (1, "ok", None), (2, "ok", None), (3, "permanent", "no_email")]
    assert standin.counts["POST member_tags"] == 2
    assert standin.total_requests() == 2
    assert standin.tags_of("c1@example.com") == {"at-risk"}
    assert standin.tags_of("c2@example.com") == {"champions", "value-high"}
    bodies = [body for method, path, body in standin.log if path.endswith("/tags")]
    assert all(body["is_syncing"] is True for body in bodies)
    assert {"name": "champions", "status": "inactive"} in bodies[0]["tags"]


def test_merchant_tags_are_never_sent(writer, standin):
    standin.add_member("c1@example.com", tags={"VIP"})

    writer.write([change(1, tags={"tw:loyal", "VIP"}, add={"tw:loyal", "VIP"},
                         remove={"wholesale"})])

    assert standin.tags_of("c1@example.com") == {"VIP", "loyal"}
    sent = [t["name"] for _, path, body in standin.log if path.endswith("/tags")
            for t in body["tags"]]
    assert sent == ["loyal"]


def test_unknown_member_is_created_as_transactional_then_tagged_once(writer, standin):
    outcomes = writer.write([change(1, tags={"tw:new"})])

    assert statuses(outcomes) == {1: "ok"}
    assert standin.counts["POST member_tags"] == 2  # 404, then the single retry
    assert standin.counts["PUT member"] == 1
    put = next(body for method, _, body in standin.log if method == "PUT")
    assert put == {"email_address": "c1@example.com", "status_if_new": "transactional"}
    assert standin.tags_of("c1@example.com") == {"new"}


def test_removal_for_someone_not_on_the_list_creates_nobody(writer, standin):
    outcomes = writer.write([change(1, tags=set(), add=set(), remove={"tw:champions"})])

    assert statuses(outcomes) == {1: "ok"}
    assert not standin.members


@pytest.mark.parametrize(("email", "reason"), [
    ("unsubscribed.long.ago@example.com", "member_in_compliance_state"),
    ("forget.me@example.com", "forgotten_email_not_subscribed"),
])
def test_refused_contacts_are_skipped_for_good_one_by_one(writer, standin, email, reason):
    outcomes = writer.write([change(1, email=email), change(2)])

    assert statuses(outcomes) == {1: "permanent", 2: "ok"}
    assert outcomes[0].error.startswith(reason)
    assert "@" not in outcomes[0].error
    assert standin.counts["POST member_tags"] == 3  # no second retry after the refusal


def test_refused_contacts_are_skipped_for_good_in_bulk(writer, standin):
    changes = many(1200)
    changes[5] = change(6, email="unsubscribed.long.ago@example.com")
    changes[700] = change(701, email="forget.me@example.com")

    outcomes = writer.write(changes)

    failed = {o.customer_id: o for o in outcomes if o.status != "ok"}
    assert {k: o.status for k, o in failed.items()} == {6: "permanent", 701: "permanent"}
    assert "compliance state" in failed[6].error
    assert all("@" not in o.error for o in failed.values())  # no email in what gets logged
    assert len(standin.tagged("champions")) == 1198


def test_bulk_path_never_changes_an_existing_members_status(writer, standin):
    standin.add_member("c1@example.com", status="subscribed")
    standin.add_member("c2@example.com", status="unsubscribed")

    outcomes = writer.write(many(600))

    assert set(statuses(outcomes).values()) == {"ok"}
    assert standin.members[_hash("c1@example.com")]["status"] == "subscribed"
    assert standin.members[_hash("c2@example.com")]["status"] == "unsubscribed"
    assert standin.members[_hash("c3@example.com")]["status"] == "transactional"
    assert len(standin.tagged("champions")) == 600


def test_ten_thousand_changes_stay_within_ten_percent_of_the_bulk_minimum(writer, standin):
    changes = many(10_000)

    outcomes = writer.write(changes)

    assert set(statuses(outcomes).values()) == {"ok"}
    minimum = math.ceil(10_000 / 500) + math.ceil(10_000 / 500)  # subscribe + one tag
    assert standin.total_requests() <= minimum * 1.1
    assert standin.counts["POST batch_subscribe"] == 20
    assert standin.counts["POST segment"] == 20
    assert len(standin.tagged("champions")) == 10_000
    assert standin.max_in_flight <= 10


def test_bulk_removal_and_addition_share_segment_calls(writer, standin):
    for i in range(1, 1001):
        standin.add_member(f"c{i}@example.com", tags={"champions"})
    changes = [change(i, tags={"tw:at-risk"}, add={"tw:at-risk"}, remove={"tw:champions"})
               for i in range(1, 1001)]

    outcomes = writer.write(changes)

    assert set(statuses(outcomes).values()) == {"ok"}
    assert standin.tagged("champions") == set()
    assert len(standin.tagged("at-risk")) == 1000
    assert standin.counts["POST segment"] == 4  # 2 chunks per tag


def test_429_is_retried_after_the_advertised_delay(base_url, standin, sleeps):
    standin.rate_limit = (3, 5.0)
    client = MailchimpClient(API_KEY, base_url=base_url, policy=RetryPolicy(
        sleep=lambda s: (sleeps.append(s), standin.advance(s)), rng=random.Random(2)))
    for i in range(1, 6):
        standin.add_member(f"c{i}@example.com")

    outcomes = MailchimpWriter(client, LIST_ID).write([change(i) for i in range(1, 6)])

    assert set(statuses(outcomes).values()) == {"ok"}
    assert sleeps and all(s == 5.0 for s in sleeps)
    assert len(standin.tagged("champions")) == 5


def test_ten_minute_outage_delivers_every_change_exactly_once_on_retry(writer, standin):
    small, bulk = [change(i) for i in range(1, 6)], many(1000, start=100)
    standin.start_outage(600)

    first = writer.write(small) + writer.write(bulk)

    assert set(statuses(first).values()) == {"transient"}
    standin.advance(600)
    again = {o.customer_id for o in first if o.status == "transient"}
    second = writer.write([c for c in small if c.customer_id in again])
    second += writer.write([c for c in bulk if c.customer_id in again])

    assert set(statuses(second).values()) == {"ok"}
    assert len(standin.tagged("champions")) == 1005
    assert set(standin.tag_writes.values()) == {1}


def test_two_stores_never_see_each_others_customers(standin, base_url):
    other_key = "fedcba9876543210fedcba9876543210-us19"
    other = MailchimpStandin(other_key, list_id="zz99")
    with serving(other) as other_url:
        MailchimpWriter(MailchimpClient(API_KEY, base_url=base_url), LIST_ID).write(many(600))
        MailchimpWriter(MailchimpClient(other_key, base_url=f"{other_url}/3.0"), "zz99").write(
            many(600, start=5000))

    def emails(s: MailchimpStandin) -> set[str]:
        found = set()
        for _, _, body in s.log:
            for member in (body or {}).get("members", []):
                found.add(member["email_address"])
            found.update((body or {}).get("members_to_add", []))
        return found

    assert emails(standin) == {f"c{i}@example.com" for i in range(1, 601)}
    assert emails(other) == {f"c{i}@example.com" for i in range(5000, 5600)}


def test_every_request_body_matches_the_mailchimp_spec(writer, standin, client):
    spec = mailchimp_spec()
    if spec is None:
        searched = ", ".join(str(p) for p in openapi.MAILCHIMP_SPEC_CANDIDATES)
        pytest.skip(f"Mailchimp OpenAPI spec not found (looked in: {searched}); it is read from "
                    "../shared/contracts/specs/mailchimp at test time and never committed")
    standin.add_member("c1@example.com", tags={"champions"})
    writer.write([change(1, tags=set(), add=set(), remove={"tw:champions"}), change(2)])
    writer.write([change(i, tags={"tw:value-high"}) for i in range(10, 610)])  # a new tag
    client.create_batch([{"method": "GET", "path": f"/lists/{LIST_ID}"}])

    bodies = [(m, p, b) for m, p, b in standin.log if b is not None]
    assert {p.rsplit("/", 1)[-1] for _, p, _ in bodies} >= {"tags", LIST_ID, "segments", "batches"}
    for method, path, body in bodies:
        spec.validate_request(method, path.removeprefix("/3.0"), body)
    assert "status" not in next(b for m, _, b in bodies if m == "PUT")


def _hash(email: str) -> str:
    from connectors.mailchimp import subscriber_hash

    return subscriber_hash(email)


def test_tag_deleted_in_mailchimp_since_last_look_is_recreated(writer, standin):
    writer.write(many(600))
    standin.segments.clear()  # the merchant deleted the tag in Mailchimp

    outcomes = writer.write(many(600, start=1000))

    assert set(statuses(outcomes).values()) == {"ok"}
    assert len(standin.tagged("champions")) == 600
    assert standin.counts["POST segments"] == 2  # created, then re-created once


def test_bare_403_overload_is_transient_not_permanent(writer, standin):
    standin.add_member("c1@example.com")
    standin.overloaded_requests = 1

    outcomes = writer.write([change(1)])

    assert statuses(outcomes) == {1: "transient"}
    assert "overloaded" in outcomes[0].error
    assert writer.write([change(1)])[0].status == "ok"


def test_wrong_key_is_permanent_with_mailchimps_title(base_url, standin):
    client = MailchimpClient("ffffffffffffffff-us6", base_url=base_url)

    outcomes = MailchimpWriter(client, LIST_ID).write([change(1)])

    assert statuses(outcomes) == {1: "permanent"}
    assert "API Key Invalid" in outcomes[0].error
