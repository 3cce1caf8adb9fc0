import base64
import hashlib
import hmac

from connectors.shopify.webhooks import sign, verify
from tests.conftest import fixture_bytes


def test_signature_is_base64_hmac_sha256_of_the_exact_bytes():
    body = fixture_bytes("shopify", "orders_create__sample.json")
    expected = base64.b64encode(hmac.new(b"secret", body, hashlib.sha256).digest()).decode()
    assert sign("secret", body) == expected
    assert verify(["secret"], body, expected)


def test_reserialised_or_tampered_bodies_do_not_verify():
    body = fixture_bytes("shopify", "orders_create__sample.json")
    signature = sign("secret", body)
    assert not verify(["secret"], body.replace(b"  ", b" "), signature)
    assert not verify(["secret"], body + b" ", signature)
    assert not verify(["other"], body, signature)
    assert not verify(["secret"], body, None)
    assert not verify(["secret"], body, "")


def test_previous_secret_still_verifies_during_rotation():
    body = fixture_bytes("shopify", "customers_create__sample.json")
    assert verify(["new-secret", "old-secret"], body, sign("old-secret", body))
    assert not verify(["new-secret", ""], body, sign("old-secret", body))
