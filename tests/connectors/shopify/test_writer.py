from graphql import parse, validate

from connectors.base import RetryPolicy, TagChange
from connectors.shopify.client import ShopifyClient
from connectors.shopify.writer import ShopifyTagWriter, build_document
from demo.standins.shopify import SCHEMA, ShopifyStandIn
from tests.standins.server import serving


def change(customer_id: int, add=(), remove=(), tags=None) -> TagChange:
    return TagChange(customer_id=customer_id, platform_customer_id=str(customer_id),
                     email=None, tags=frozenset(tags if tags is not None else add),
                     add=frozenset(add), remove=frozenset(remove))


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def writer_for(shop: ShopifyStandIn, url: str, clock: Clock | None = None) -> ShopifyTagWriter:
    sleep = clock.sleep if clock else (lambda s: None)
    client = ShopifyClient(url, shop.access_token, "2026-07",
                           policy=RetryPolicy(max_attempts=4, sleep=sleep))
    return ShopifyTagWriter(client)


def test_document_is_valid_against_the_admin_schema_and_uses_gids():
    query, variables = build_document([change(1, add={"tw:new"}, remove={"tw:dormant"}),
                                       change(2, add={"tw:loyal"})])
    assert validate(SCHEMA, parse(query)) == []
    assert variables["id0"] == "gid://shopify/Customer/1"
    assert variables["a0"] == ["tw:new"] and variables["r0"] == ["tw:dormant"]
    assert "r1" not in variables  # nothing to remove: no empty mutation
    assert "customerUpdate" not in query  # never replace the whole tag list


def test_adds_and_removes_only_our_tags_leaving_the_merchants():
    shop = ShopifyStandIn(customers={"1": ["VIP", "tw:dormant"], "2": ["wholesale"]})
    with serving(shop) as url:
        outcomes = writer_for(shop, url).write([
            change(1, add={"tw:champions"}, remove={"tw:dormant"}),
            change(2, add={"tw:new"}),
        ])
    assert [o.status for o in outcomes] == ["ok", "ok"]
    assert shop.tags_of("1") == ["VIP", "tw:champions"]
    assert shop.tags_of("2") == ["tw:new", "wholesale"]
    assert shop.requests[0]["headers"]["X-Shopify-Access-Token"] == "shpat_test"


def test_a_burst_of_customers_is_batched_into_few_documents():
    shop = ShopifyStandIn(customers={str(i): [] for i in range(60)})
    with serving(shop) as url:
        outcomes = writer_for(shop, url).write([change(i, add={"tw:new"}) for i in range(60)])
    assert all(o.status == "ok" for o in outcomes)
    assert len(shop.mutation_requests()) == 3  # 25 customers per document
    assert all(shop.tags_of(str(i)) == ["tw:new"] for i in range(60))


def test_user_errors_fail_only_that_customer():
    shop = ShopifyStandIn(customers={"1": []})
    with serving(shop) as url:
        outcomes = writer_for(shop, url).write([change(1, add={"tw:new"}),
                                                change(999, add={"tw:new"})])
    assert [(o.customer_id, o.status) for o in outcomes] == [(1, "ok"), (999, "permanent")]
    assert "Customer does not exist" in outcomes[1].error


def test_throttled_answers_wait_for_the_bucket_and_then_succeed():
    clock = Clock()
    shop = ShopifyStandIn(customers={str(i): [] for i in range(30)}, clock=clock)
    shop.available = 5.0  # almost empty: the first document (250 points) is THROTTLED
    with serving(shop) as url:
        outcomes = writer_for(shop, url, clock).write([change(i, add={"tw:new"})
                                                       for i in range(30)])
    assert all(o.status == "ok" for o in outcomes)
    assert clock.now >= (250 - 5) / 100  # waited what the restore rate needed, not more
    assert clock.now < 10


def test_429_and_503_are_retried_then_reported_transient():
    shop = ShopifyStandIn(customers={"1": []})
    shop.fail_next = [(429, {"Retry-After": "2.0"}), (503, {})]
    clock = Clock()
    with serving(shop) as url:
        [outcome] = writer_for(shop, url, clock).write([change(1, add={"tw:new"})])
    assert outcome.status == "ok" and shop.tags_of("1") == ["tw:new"]
    assert clock.now >= 2.0  # Retry-After honoured
    shop.fail_next = [(503, {})] * 4
    with serving(shop) as url:
        [outcome] = writer_for(shop, url, clock).write([change(1, remove={"tw:new"})])
    assert outcome.status == "transient"
    assert shop.tags_of("1") == ["tw:new"]


def test_bad_token_is_permanent_and_not_retried():
    shop = ShopifyStandIn(customers={"1": []})
    with serving(shop) as url:
        client = ShopifyClient(url, "wrong", "2026-07", policy=RetryPolicy(sleep=lambda s: None))
        [outcome] = ShopifyTagWriter(client).write([change(1, add={"tw:new"})])
    assert outcome.status == "permanent" and "401" in outcome.error
    assert len(shop.requests) == 1
