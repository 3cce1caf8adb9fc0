"""Outbound URL guard: merchant-set URLs must not reach loopback, private, link-local or metadata
addresses unless the operator allows it (the SSRF guard shared by every outbound client)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import requests


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


# Names that reach a cloud's instance metadata service whatever they resolve to here.
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog", "metadata",
                            "instance-data", "instance-data.ec2.internal"})


def ensure_callable_url(url: str, *, allow_private: bool = False) -> str:
    """:func:`ensure_public_url`, plus: no credentials in the URL, no metadata host names.

    For URLs a merchant or store user sets (a webhook destination, an alert URL); base URLs
    an operator sets on the command line are trusted and not checked here.
    """
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL("a URL may not carry a user name or password")
    host = (parts.hostname or "").rstrip(".").lower()
    if host in METADATA_HOSTS and not allow_private:
        raise UnsafeURL(f"{host} is a cloud metadata address")
    return ensure_public_url(url, allow_private=allow_private)


class GuardedSession(requests.Session):
    """A ``requests`` session for merchant-set URLs: every request's URL is checked with
    :func:`ensure_callable_url` just before it is sent, and redirects are never followed.

    The check resolves the host again per request, which narrows (but cannot close) a DNS
    rebinding window; the operator can allow private targets for tests and demos.
    """

    def __init__(self, *, allow_private: bool = False):
        super().__init__()
        self.allow_private = allow_private
        self.max_redirects = 0

    def request(self, method, url, *args, **kwargs):
        """Check the URL, then send without following redirects."""
        ensure_callable_url(str(url), allow_private=self.allow_private)
        kwargs["allow_redirects"] = False
        return super().request(method, url, *args, **kwargs)
