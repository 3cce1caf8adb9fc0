"""WooCommerceMetaWriter against the stand-in: batching, merchant meta, per-item errors."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.base import ChangeOutcome, TagChange
from connectors.woocommerce.client import WooCommerceClient
from connectors.woocommerce.consts import DEFAULT_META_KEY
from connectors.woocommerce.writer import WooCommerceMetaWriter, is_own_echo

PREFIX = "tw:"


def change(
    customer_id: int,
    platform_id: str | None,
    tags: set[str],
    properties: dict[str, Any] | None = None,
) -> TagChange:
    tags = frozenset(tags)
    return TagChange(
        customer_id=customer_id,
        platform_customer_id=platform_id,
        email=f"customer{customer_id}@example.com",
        tags=tags,
        add=tags,
        remove=frozenset(),
        properties=properties or {},
    )


@pytest.fixture
def writer(client) -> WooCommerceMetaWriter:
    return WooCommerceMetaWriter(client, prefix=PREFIX)


def test_250_changes_take_three_batch_calls(writer, site) -> None:
    changes = [change(n, str(n), {"tw:champions"}) for n in range(1, 251)]

    outcomes = writer.write(changes)

    assert outcomes == [ChangeOutcome(n, "ok") for n in range(1, 251)]
    batches = [r.body["update"] for r in site.requests if r.path.endswith("/customers/batch")]
    assert [len(b) for b in batches] == [100, 100, 50]
    assert all(site.meta(n)[DEFAULT_META_KEY] == ["champions"] for n in range(1, 251))


def test_only_our_keys_are_sent_and_merchant_meta_survives(writer, site) -> None:
    site.customers[7]["meta_data"].append({"id": 1, "key": "_wc_points_balance", "value": "120"})
    properties = {"r_score": 5, "f_score": 4, "m_score": 3, "rfm_group": "loyal", "p_alive": 0.9}

    writer.write([change(7, "7", {"tw:loyal", "tw:discount-seeker"}, properties)])

    (sent,) = site.requests[-1].body["update"]
    assert sent == {
        "id": 7,
        "meta_data": [
            {"key": "_tagwise_segments", "value": ["discount-seeker", "loyal"]},
            {"key": "_tagwise_r", "value": 5},
            {"key": "_tagwise_f", "value": 4},
            {"key": "_tagwise_m", "value": 3},
            {"key": "_tagwise_rfm_group", "value": "loyal"},
        ],
    }
    meta = site.meta(7)
    assert meta["merchant_loyalty_tier"] == "gold"
    assert meta["_wc_points_balance"] == "120"
    assert meta["_tagwise_segments"] == ["discount-seeker", "loyal"]


def test_rewrite_replaces_our_value_and_null_deletes_a_score(writer, site) -> None:
    writer.write([change(3, "3", {"tw:new"}, {"r_score": 2, "rfm_group": "new"})])
    writer.write([change(3, "3", {"tw:active"}, {"r_score": None, "rfm_group": "active"})])

    meta = site.meta(3)
    assert meta["_tagwise_segments"] == ["active"]
    assert meta["_tagwise_rfm_group"] == "active"
    assert "_tagwise_r" not in meta
    assert [m["key"] for m in site.customers[3]["meta_data"]].count("_tagwise_segments") == 1
    assert meta["merchant_loyalty_tier"] == "gold"


def test_losing_every_segment_writes_an_empty_list(writer, site) -> None:
    writer.write([change(4, "4", {"tw:at-risk"})])
    writer.write([change(4, "4", set())])
    assert site.meta(4)["_tagwise_segments"] == []


def test_custom_meta_key(client, site) -> None:
    WooCommerceMetaWriter(client, prefix=PREFIX, meta_key="_agency_segments").write(
        [change(5, "5", {"tw:vip"})]
    )
    assert site.meta(5)["_agency_segments"] == ["vip"]


def test_guests_and_bad_ids_are_permanent_without_a_request(writer, site) -> None:
    outcomes = writer.write([change(1, None, {"tw:new"}), change(2, "gid://x", {"tw:new"})])
    assert outcomes == [
        ChangeOutcome(1, "permanent", "no_platform_customer"),
        ChangeOutcome(2, "permanent", "bad_platform_customer_id"),
    ]
    assert site.count("POST", "/customers/batch") == 0


def test_per_item_errors_are_surfaced_per_change(writer, site) -> None:
    site.item_errors[2] = (
        "woocommerce_rest_cannot_edit",
        "Sorry, you are not allowed to edit this resource.",
        403,
    )
    site.item_errors[3] = ("internal_server_error", "Database error.", 500)
    outcomes = writer.write(
        [
            change(1, "1", {"tw:new"}),
            change(2, "2", {"tw:new"}),
            change(3, "3", {"tw:new"}),
            change(99, "9999", {"tw:new"}),  # deleted in the store meanwhile
            change(4, "4", {"tw:new"}),
        ]
    )
    assert [(o.customer_id, o.status) for o in outcomes] == [
        (1, "ok"),
        (2, "permanent"),
        (3, "transient"),
        (99, "permanent"),
        (4, "ok"),
    ]
    assert outcomes[1].error == (
        "woocommerce_rest_cannot_edit: Sorry, you are not allowed to edit this resource. (HTTP 403)"
    )
    assert outcomes[3].error == "woocommerce_rest_invalid_id: Invalid resource ID. (HTTP 400)"
    assert site.meta(1)["_tagwise_segments"] == ["new"]


def test_429_on_a_batch_is_retried_then_applied(writer, site, sleeps) -> None:
    site.fail_next(429, times=2, retry_after="2", path="/customers/batch")
    outcomes = writer.write([change(n, str(n), {"tw:loyal"}) for n in range(1, 11)])
    assert {o.status for o in outcomes} == {"ok"}
    assert sleeps == [2.0, 2.0]
    assert site.count("POST", "/customers/batch") == 3


def test_exhausted_retries_mark_only_that_batch_transient(writer, site) -> None:
    # The first batch gets through; the second meets a store that keeps answering 503.
    changes = [change(n, str(n), {"tw:loyal"}) for n in range(1, 151)]
    site.fail_next(503, times=99, retry_after=None, path="/customers/batch", skip=1)
    outcomes = writer.write(changes)

    assert [o.status for o in outcomes[:100]] == ["ok"] * 100
    assert [o.status for o in outcomes[100:]] == ["transient"] * 50
    assert "HTTP 503" in outcomes[120].error


def test_bad_credentials_make_every_change_permanent(site, site_url) -> None:
    client = WooCommerceClient(site_url, site.consumer_key, "cs_revoked")
    outcomes = WooCommerceMetaWriter(client, prefix=PREFIX).write([change(1, "1", {"tw:new"})])
    assert outcomes[0].status == "permanent"
    assert "401" in outcomes[0].error


# --------------------------------------------------------------------------- echo


def test_our_write_echoing_back_is_recognised(writer, client, site) -> None:
    writer.write([change(8, "8", {"tw:champions", "tw:big-basket"})])
    echoed = next(c for c in client.iter_customers() if c["id"] == 8)  # the customer.updated body

    assert is_own_echo(echoed, DEFAULT_META_KEY, {"champions", "big-basket"})
    assert not is_own_echo(echoed, DEFAULT_META_KEY, {"champions"})


def test_customer_without_our_meta_is_not_an_echo(customer_payload) -> None:
    assert not is_own_echo(customer_payload, DEFAULT_META_KEY, set())
    assert not is_own_echo({"id": 1, "meta_data": "oops"}, DEFAULT_META_KEY, set())


def test_php_array_with_gaps_reads_as_its_values() -> None:
    payload = {
        "id": 1,
        "meta_data": [{"key": DEFAULT_META_KEY, "value": {"0": "loyal", "2": "new"}}],
    }
    assert is_own_echo(payload, DEFAULT_META_KEY, {"loyal", "new"})
