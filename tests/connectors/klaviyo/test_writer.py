"""KlaviyoWriter against the stand-in: properties, bulk jobs, lists, limits, failures."""

from __future__ import annotations

import random

import requests

from connectors.base import RetryPolicy
from connectors.klaviyo import KlaviyoClient
from connectors.klaviyo.client import encode_json
from tests.connectors.changes import change, many
from tests.connectors.klaviyo.conftest import API_KEY, make_writer
from tests.connectors.openapi import klaviyo_spec
from tests.standins.klaviyo import KlaviyoStandin
from tests.standins.server import serving


def assert_bodies_match_spec(standin: KlaviyoStandin) -> None:
    spec = klaviyo_spec()
    bodies = [(method, path, body) for method, path, body in standin.log if body is not None]
    assert bodies, "no request bodies were sent"
    for method, path, body in bodies:
        spec.validate_request(method, path, body)


def test_few_changes_import_each_profile_with_segments_and_scores(client, standin):
    changes = [
        change(1, tags={"tw:champions", "tw:value-high"}, r_score=5, f_score=5, m_score=4,
               rfm_group="champions", predicted_clv_12m=880.0, churn_risk="low",
               expected_next_order_at="2026-12-24T00:00:00+00:00"),
        change(2, tags={"tw:at-risk"}, r_score=1, f_score=3, m_score=3, rfm_group="at-risk"),
        change(3, email=None),
    ]

    outcomes = make_writer(client, standin).write(changes)

    assert [(o.customer_id, o.status, o.error) for o in outcomes] == [
        (1, "ok", None), (2, "ok", None), (3, "permanent", "no_email")]
    assert standin.counts["POST profile_import"] == 2
    props = standin.profile("c1@example.com")["properties"]
    assert props["tagwise_segments"] == ["champions", "value-high"]
    assert (props["tagwise_r"], props["tagwise_f"], props["tagwise_m"]) == (5, 5, 4)
    assert props["tagwise_rfm_group"] == "champions"
    assert props["tagwise_predicted_clv_12m"] == 880.0
    assert props["tagwise_expected_next_order_at"] == "2026-12-24T00:00:00+00:00"
    assert "tagwise_predicted_clv_12m" not in standin.profile("c2@example.com")["properties"]
    assert_bodies_match_spec(standin)


def test_merchant_tags_without_our_prefix_never_reach_klaviyo(client, standin):
    make_writer(client, standin).write([change(1, tags={"tw:loyal", "vip", "wholesale"})])

    assert standin.profile("c1@example.com")["properties"]["tagwise_segments"] == ["loyal"]


def test_removed_segment_disappears_and_vanished_prediction_is_cleared(client, standin):
    writer = make_writer(client, standin)
    writer.write([change(1, tags={"tw:champions", "tw:next-order-due"}, churn_risk="low")])

    outcomes = writer.write([change(1, tags={"tw:champions"}, add=set(),
                                    remove={"tw:next-order-due"}, churn_risk=None)])

    assert outcomes[0].status == "ok"
    props = standin.profile("c1@example.com")["properties"]
    assert props["tagwise_segments"] == ["champions"]
    assert "tagwise_churn_risk" not in props


def test_ten_thousand_changes_cost_one_job_and_its_poll(client, standin):
    changes = many(10_000)

    outcomes = make_writer(client, standin).write(changes)

    assert {o.status for o in outcomes} == {"ok"}
    # Minimum: one job plus one status poll. Within 10 % of 2 leaves no room for more.
    assert standin.total_requests() <= 2
    assert standin.counts["POST create_job"] == 1
    assert len(standin.profiles) == 10_000
    props = standin.profile("c9999@example.com")["properties"]
    assert props["tagwise_segments"] == ["champions"]
    assert props["tagwise_rfm_group"] == "champions"
    assert_bodies_match_spec(standin)


def test_jobs_are_split_by_serialised_size(client, standin):
    changes = many(600)

    outcomes = make_writer(client, standin, max_job_bytes=40_000).write(changes)

    assert {o.status for o in outcomes} == {"ok"}
    jobs = [body for method, path, body in standin.log if path.endswith("bulk-import-jobs")]
    assert len(jobs) > 1
    for body in jobs:
        assert len(encode_json(body)) <= 40_000
    assert len(standin.profiles) == 600


def test_jobs_are_split_by_profile_count(client, standin):
    outcomes = make_writer(client, standin, max_job_profiles=250).write(many(600))

    assert {o.status for o in outcomes} == {"ok"}
    assert standin.counts["POST create_job"] == 3


def test_invalid_email_in_a_bulk_job_is_a_permanent_outcome_for_that_customer_only(
    client, standin
):
    changes = many(60)
    changes[10] = change(11, email="not-an-email")

    outcomes = make_writer(client, standin).write(changes)

    failed = [o for o in outcomes if o.status != "ok"]
    assert [(o.customer_id, o.status) for o in failed] == [(11, "permanent")]
    assert "Invalid email" in failed[0].error
    assert len(standin.profiles) == 59


def test_list_per_segment_adds_and_removes_static_list_members(client, standin):
    writer = make_writer(client, standin, list_per_segment=True)
    writer.write([change(1, tags={"tw:champions"}), change(2, tags={"tw:champions"}),
                  change(3, tags={"tw:at-risk"})])
    assert standin.list_members("champions") == {"c1@example.com", "c2@example.com"}
    assert standin.list_members("at-risk") == {"c3@example.com"}

    outcomes = writer.write([change(2, tags={"tw:at-risk"}, add={"tw:at-risk"},
                                    remove={"tw:champions"})])

    assert outcomes[0].status == "ok"
    assert standin.list_members("champions") == {"c1@example.com"}
    assert standin.list_members("at-risk") == {"c2@example.com", "c3@example.com"}
    assert standin.counts["POST lists"] == 2  # each list created once, then found
    assert_bodies_match_spec(standin)


def test_list_per_segment_with_bulk_import_uses_chunks_of_1000(client, standin):
    writer = make_writer(client, standin, list_per_segment=True)

    outcomes = writer.write(many(2_500))

    assert {o.status for o in outcomes} == {"ok"}
    assert len(standin.list_members("champions")) == 2_500
    assert standin.counts["POST list_profiles"] == 3
    assert_bodies_match_spec(standin)


def test_429_is_retried_after_the_advertised_delay(base_url, standin, sleeps):
    standin.rate_limit = (2, 10.0)
    client = KlaviyoClient(API_KEY, base_url=base_url,
                           policy=RetryPolicy(sleep=lambda s: (sleeps.append(s),
                                                               standin.advance(s)),
                                              rng=random.Random(1)))

    outcomes = make_writer(client, standin).write([change(i) for i in range(1, 6)])

    assert {o.status for o in outcomes} == {"ok"}
    assert len(standin.profiles) == 5
    assert sleeps and all(s == 10.0 for s in sleeps)  # Retry-After, not a guessed backoff
    assert standin.counts["POST profile_import"] > 5  # the throttled attempts did happen


def test_ten_minute_outage_delivers_every_change_exactly_once_on_retry(client, standin):
    writer = make_writer(client, standin)
    small, bulk = [change(i) for i in range(1, 11)], many(200, start=100)
    standin.start_outage(600)

    first = writer.write(small) + writer.write(bulk)

    assert {o.status for o in first} == {"transient"}
    assert not standin.profiles
    standin.advance(600)
    retry_ids = {o.customer_id for o in first if o.status == "transient"}
    again = [c for c in small + bulk if c.customer_id in retry_ids]
    second = writer.write([c for c in again if c.customer_id < 100])
    second += writer.write([c for c in again if c.customer_id >= 100])

    assert {o.status for o in second} == {"ok"}
    assert len(standin.profiles) == 210
    assert set(standin.profile_writes.values()) == {1}


def test_two_stores_never_see_each_others_customers(standin, base_url):
    other = KlaviyoStandin("pk_test_store_two", validator=klaviyo_spec().validate_request)
    with serving(other) as other_url:
        one = make_writer(KlaviyoClient(API_KEY, base_url=base_url), standin)
        two = make_writer(KlaviyoClient("pk_test_store_two", base_url=other_url), other)
        one.write(many(60, start=1))
        two.write(many(60, start=500))

    def emails(s: KlaviyoStandin) -> set[str]:
        return {p["attributes"]["email"] for _, path, body in s.log if body
                for p in body["data"]["attributes"]["profiles"]["data"]}

    assert emails(standin) == {f"c{i}@example.com" for i in range(1, 61)}
    assert emails(other) == {f"c{i}@example.com" for i in range(500, 560)}


def test_wrong_key_is_a_permanent_outcome(base_url, standin):
    client = KlaviyoClient("pk_someone_else", base_url=base_url)

    outcomes = make_writer(client, standin).write([change(1)])

    assert outcomes[0].status == "permanent"
    assert "HTTP 403 permission_denied" in outcomes[0].error


def test_standin_enforces_bulk_limits_and_revision(base_url):
    headers = {"Authorization": f"Klaviyo-API-Key {API_KEY}", "revision": "2026-07-15",
               "Content-Type": "application/vnd.api+json"}
    url = f"{base_url}/api/profile-bulk-import-jobs"
    resource = {"type": "profile", "attributes": {"email": "a@example.com"}}
    too_many = KlaviyoClient.bulk_import_body([resource] * 10_001)
    padded = {"type": "profile", "attributes": {"email": "a@example.com",
                                                "properties": {"pad": "x" * 5_300_000}}}

    assert requests.post(url, json=too_many, headers=headers, timeout=10).status_code == 400
    big = requests.post(url, json=KlaviyoClient.bulk_import_body([padded]), headers=headers,
                        timeout=10)
    assert big.status_code == 413
    assert set(big.json()["errors"][0]) == {"id", "status", "code", "title", "detail",
                                            "source", "meta"}
    no_revision = {k: v for k, v in headers.items() if k != "revision"}
    assert requests.post(url, json=too_many, headers=no_revision, timeout=10).status_code == 400


def test_more_import_errors_than_one_page_are_all_reported(client, standin):
    changes = many(200)
    broken = [i for i in range(200) if i % 4]  # 150 failures: two pages of errors
    for i in broken:
        changes[i] = change(i + 1, email=f"broken-{i}")

    outcomes = make_writer(client, standin).write(changes)

    failed = {o.customer_id for o in outcomes if o.status == "permanent"}
    assert failed == {i + 1 for i in broken}
    assert standin.counts["GET job_errors"] == 2  # 100 per page, followed via links.next
    assert len(standin.profiles) == 50


def test_job_is_polled_until_complete(client, standin):
    standin.polls_before_complete = 3

    outcomes = make_writer(client, standin).write(many(80))

    assert {o.status for o in outcomes} == {"ok"}
    assert standin.counts["GET get_job"] == 3


def test_job_that_never_completes_is_transient_after_the_poll_timeout(client, standin):
    standin.polls_before_complete = 0

    outcomes = make_writer(client, standin, poll_timeout_seconds=30).write(many(80))

    assert {(o.status, o.error) for o in outcomes} == {("transient", "bulk_job_timeout")}
