"""Shopify OAuth (authorization code grant), the pure parts: URLs, query HMAC, scopes, grants.

https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant
The token exchange itself is HTTP and lives in :mod:`connectors.shopify.client`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from connectors.base import PermanentError
from connectors.shopify.consts import SHOP_DOMAIN_PATTERN

AUTHORIZE_PATH = "/admin/oauth/authorize"
ACCESS_TOKEN_PATH = "/admin/oauth/access_token"
_SHOP = re.compile(SHOP_DOMAIN_PATTERN)

QueryParams = Mapping[str, str | Sequence[str]]


def is_valid_shop(shop: str | None) -> bool:
    """True for a bare ``name.myshopify.com`` host (no scheme, port, path or upper case)."""
    return bool(shop) and _SHOP.fullmatch(shop) is not None and len(shop) <= 255


def authorize_url(base_url: str, client_id: str, scopes: Iterable[str], redirect_uri: str,
                  state: str) -> str:
    """Where to send the merchant to approve the app (offline access: no grant_options)."""
    query = urlencode({"client_id": client_id, "scope": ",".join(scopes),
                       "redirect_uri": redirect_uri, "state": state})
    return f"{base_url.rstrip('/')}{AUTHORIZE_PATH}?{query}"


def _message(params: QueryParams) -> str:
    """Sorted ``key=value`` pairs without ``hmac``, escaped the way Shopify signs them.

    As in Shopify's own libraries: ``ids[]=1&ids[]=2`` becomes ``ids=["1", "2"]``; ``%`` and
    ``=`` in keys and ``%`` in values are percent-escaped, then ``&`` everywhere, so a value
    cannot smuggle in another pair.
    """
    pairs = []
    for key, value in params.items():
        if key == "hmac":
            continue
        if key.endswith("[]"):
            key = key[:-2]
            value = json.dumps([str(v) for v in value] if not isinstance(value, str) else [value])
        elif not isinstance(value, str):
            raise ValueError(f"parameter {key} appears more than once")
        key = key.replace("%", "%25").replace("=", "%3D")
        value = value.replace("%", "%25")
        pairs.append(f"{key}={value}".replace("&", "%26"))
    return "&".join(sorted(pairs))


def query_hmac(secret: str, params: QueryParams) -> str:
    """The hex HMAC-SHA256 Shopify puts in the ``hmac`` parameter of a signed query."""
    return hmac.new(secret.encode(), _message(params).encode(), hashlib.sha256).hexdigest()


def verify_query(params: QueryParams, secrets: Iterable[str]) -> bool:
    """True when ``params["hmac"]`` signs the rest of the query under any of ``secrets``.

    Used for the OAuth callback and for embedded-app launch URLs. ``params`` maps each name to
    its value (names ending in ``[]`` to their list of values); a repeated plain name is
    refused. Every candidate secret is compared, in constant time.
    """
    signature = params.get("hmac")
    if not isinstance(signature, str) or not signature:
        return False
    try:
        message = _message(params)
        given = signature.strip().lower().encode("ascii")
    except (ValueError, UnicodeEncodeError):  # a repeated name, or not a hex signature
        return False
    matched = False
    for secret in secrets:
        if secret:
            digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
            matched |= hmac.compare_digest(digest.encode(), given)
    return matched


def missing_scopes(required: Iterable[str], granted: Iterable[str]) -> list[str]:
    """Required scopes the grant lacks; ``write_X`` implies ``read_X`` as Shopify documents."""
    have = {s.strip() for s in granted if s.strip()}
    have |= {"read_" + s.removeprefix("write_") for s in have if s.startswith("write_")}
    return sorted({s.strip() for s in required if s.strip()} - have)


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What the token endpoint answered; expiring offline tokens carry a refresh token."""

    access_token: str
    scopes: tuple[str, ...]
    expires_in: int | None = None
    refresh_token: str | None = None
    refresh_token_expires_in: int | None = None


def parse_grant(body: Any) -> TokenGrant:
    """Read an access-token answer; PermanentError when it is not one."""
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str) \
            or not body["access_token"]:
        raise PermanentError("token endpoint answered without an access_token",
                             reason="bad_grant")
    scope = body.get("scope") if isinstance(body.get("scope"), str) else ""

    def seconds(name: str) -> int | None:
        value = body.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise PermanentError(f"token endpoint answered a bad {name}", reason="bad_grant")
        return value

    refresh = body.get("refresh_token")
    return TokenGrant(
        access_token=body["access_token"],
        scopes=tuple(s.strip() for s in scope.split(",") if s.strip()),
        expires_in=seconds("expires_in"),
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        refresh_token_expires_in=seconds("refresh_token_expires_in"),
    )
