"""The pure OAuth pieces: query HMAC (Shopify's own example), shop names, scopes, grants."""

from __future__ import annotations

import pytest

from connectors.base import PermanentError
from connectors.shopify.oauth import (
    authorize_url,
    is_valid_shop,
    missing_scopes,
    parse_grant,
    query_hmac,
    verify_query,
)

# The worked example of Shopify's OAuth docs (also in shopify_python_api's session tests).
DOC_QUERY = {"code": "0907a61c0c8d55e99db179b68161bc00", "shop": "some-shop.myshopify.com",
             "state": "0.6784241404160823", "timestamp": "1337178173",
             "hmac": "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf"}


def test_shopifys_documented_example_verifies_and_any_change_does_not():
    assert verify_query(DOC_QUERY, ["hush"])
    assert query_hmac("hush", DOC_QUERY) == DOC_QUERY["hmac"]
    assert not verify_query(dict(DOC_QUERY, shop="other-shop.myshopify.com"), ["hush"])
    assert not verify_query(dict(DOC_QUERY, extra="1"), ["hush"])
    assert not verify_query({k: v for k, v in DOC_QUERY.items() if k != "state"}, ["hush"])
    assert not verify_query(DOC_QUERY, ["wrong"])
    assert not verify_query({k: v for k, v in DOC_QUERY.items() if k != "hmac"}, ["hush"])


def test_the_previous_secret_still_verifies_during_a_rotation():
    assert verify_query(DOC_QUERY, ["new-secret", "hush"])
    assert not verify_query(DOC_QUERY, ["new-secret", ""])


def test_a_value_cannot_smuggle_in_another_parameter():
    honest = {"shop": "a.myshopify.com", "state": "x&timestamp=1"}
    forged = {"shop": "a.myshopify.com", "state": "x", "timestamp": "1"}
    assert query_hmac("s", honest) != query_hmac("s", forged)


def test_array_parameters_are_signed_as_shopify_formats_them():
    params = {"ids[]": ["1", "2"], "shop": "a.myshopify.com"}
    signed = dict(params, hmac=query_hmac("s", params))
    assert verify_query(signed, ["s"])
    assert query_hmac("s", params) == query_hmac("s", {"ids": '["1", "2"]',
                                                       "shop": "a.myshopify.com"})


def test_a_repeated_plain_parameter_is_refused_not_guessed():
    assert not verify_query({"shop": ["a.myshopify.com", "b.myshopify.com"],
                             "hmac": "00"}, ["s"])


@pytest.mark.parametrize("shop", ["tagwise-test.myshopify.com", "a.myshopify.com",
                                  "0shop-1.myshopify.com"])
def test_valid_shop_names(shop):
    assert is_valid_shop(shop)


@pytest.mark.parametrize("shop", ["", None, "Tagwise.myshopify.com", "-x.myshopify.com",
                                  "evil.com", "x.myshopify.com.evil.com",
                                  "https://x.myshopify.com", "x.myshopify.com/admin",
                                  "x.myshopify.com:443", "x.myshopify.com\n", "a_b.myshopify.com"])
def test_hostile_shop_names(shop):
    assert not is_valid_shop(shop)


def test_authorize_url_carries_client_scopes_redirect_and_state():
    url = authorize_url("https://a.myshopify.com/", "key", ["read_orders", "write_customers"],
                        "https://app.example/auth/shopify/callback", "nonce")
    assert url == ("https://a.myshopify.com/admin/oauth/authorize?client_id=key"
                   "&scope=read_orders%2Cwrite_customers"
                   "&redirect_uri=https%3A%2F%2Fapp.example%2Fauth%2Fshopify%2Fcallback"
                   "&state=nonce")


def test_write_scope_implies_read_scope():
    required = ["read_orders", "read_customers", "write_customers"]
    assert missing_scopes(required, ["read_orders", "write_customers"]) == []
    assert missing_scopes(required, ["read_orders", "read_customers"]) == ["write_customers"]
    assert missing_scopes(required, []) == sorted(required)


def test_grants_expiring_and_not():
    grant = parse_grant({"access_token": "t", "scope": "read_orders,write_customers",
                         "expires_in": 3600, "refresh_token": "r",
                         "refresh_token_expires_in": 7776000})
    assert grant.scopes == ("read_orders", "write_customers") and grant.expires_in == 3600
    assert parse_grant({"access_token": "t", "scope": ""}).refresh_token is None
    for bad in ({}, {"access_token": ""}, [], {"access_token": "t", "expires_in": "soon"}):
        with pytest.raises(PermanentError):
            parse_grant(bad)
