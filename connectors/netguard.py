"""Outbound URL guard: merchant-set URLs must not reach loopback, private, link-local or metadata
addresses unless the operator allows it (the SSRF guard shared by every outbound client)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class UnsafeURL(ValueError):
    """A URL that points somewhere Tagwise must not call."""


def ensure_public_url(url: str, *, allow_private: bool = False) -> str:
    """Return ``url`` if it is http(s) and every address its host resolves to is public."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL(f"not an http(s) URL: {url!r}")
    if allow_private:
        return url
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL(f"host does not resolve: {parts.hostname}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise UnsafeURL(f"{parts.hostname} resolves to a non-public address ({address})")
    return url
