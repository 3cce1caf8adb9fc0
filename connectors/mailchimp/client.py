"""Mailchimp Marketing API client: members, tags, static segments and batch operations.

Every request goes through :meth:`ApiClient.request` (retries on 429/5xx honouring
``Retry-After``, other 4xx raised as ``PermanentError``). The session's connection pool for the
Mailchimp host is capped at 10 and blocks rather than opening more, because Mailchimp allows 10
simultaneous connections per user.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from connectors.base import (
    ApiClient,
    Attempt,
    ConnectorError,
    PermanentError,
    RateBucket,
    RateGovernor,
    RetryPolicy,
    TransientError,
)
from connectors.mailchimp import consts

CONNECTIONS_BUCKET = RateBucket("connections", max_concurrent=consts.MAX_CONNECTIONS)


def subscriber_hash(email: str) -> str:
    """Return Mailchimp's member id: the MD5 of the lower-cased, stripped email."""
    return hashlib.md5(email.strip().lower().encode("utf-8")).hexdigest()


def data_centre(api_key: str) -> str:
    """Return the data centre suffix of an API key ("...-us6" -> "us6")."""
    _, dash, dc = api_key.rpartition("-")
    if not dash or not dc.isalnum():
        raise ValueError("a Mailchimp API key ends with its data centre, e.g. '-us6'")
    return dc


def problem_title(exc: ConnectorError) -> str | None:
    """Return the problem+json ``title`` of a failed call, when the answer carried one."""
    response = getattr(exc, "response", None)
    if response is None:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("title") if isinstance(body, dict) else None


class MailchimpClient(ApiClient):
    """Talk to one Mailchimp account with an API key."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        session: requests.Session | None = None,
        timeout: float = consts.REQUEST_TIMEOUT_SECONDS,
        policy: RetryPolicy | None = None,
        on_attempt: Callable[[Attempt], None] | None = None,
        governor: RateGovernor | None = None,
    ):
        base_url = base_url or consts.BASE_URL_TEMPLATE.format(dc=data_centre(api_key))
        super().__init__(
            base_url, session=session, timeout=timeout, policy=policy, on_attempt=on_attempt,
            governor=governor,
        )
        self._auth = (consts.BASIC_AUTH_USER, api_key)
        # Only this host's pool is bounded; the rest of an injected session is left alone.
        adapter = HTTPAdapter(
            pool_connections=1, pool_maxsize=consts.MAX_CONNECTIONS, pool_block=True
        )
        self.session.mount(f"{self.base_url}/", adapter)

    def rate_bucket(self, method: str, url: str) -> RateBucket:
        """Mailchimp's one limit: 10 connections open at once per user, whatever the call."""
        return CONNECTIONS_BUCKET

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        try:
            response = self.request(method, path, json=body, params=params, auth=self._auth)
        except PermanentError as exc:
            failed = getattr(exc, "response", None)
            if exc.status == 403 and failed is not None and not failed.content.strip():
                # A 403 without a problem+json body is Mailchimp shedding load, not a refusal.
                raise TransientError("HTTP 403 without a body (overloaded)", reason="overloaded",
                                     status=403) from exc
            raise
        if response.status_code == 204 or not response.content:
            return {}
        return response.json()

    # ------------------------------------------------------------------ members

    def upsert_member(self, list_id: str, email: str, status_if_new: str) -> dict[str, Any]:
        """Create the member if missing (``status_if_new``); never change an existing status."""
        body = {"email_address": email.strip(), "status_if_new": status_if_new}
        return self._call("PUT", f"/lists/{list_id}/members/{subscriber_hash(email)}", body=body)

    def batch_subscribe(
        self,
        list_id: str,
        emails: Sequence[str],
        status_for_new: str,
        *,
        update_existing: bool = False,
    ) -> dict[str, Any]:
        """Add ≤500 members in one call; return the answer (read its ``errors``, it is 200).

        With ``update_existing`` false, members already on the list are left exactly as they
        are (Mailchimp: "whether this batch operation will change existing members'
        subscription status"), so ``status_for_new`` only ever applies to new contacts.
        """
        if len(emails) > consts.BATCH_SUBSCRIBE_MAX_MEMBERS:
            raise ValueError(f"at most {consts.BATCH_SUBSCRIBE_MAX_MEMBERS} members per call")
        body = {
            "members": [{"email_address": e.strip(), "status": status_for_new} for e in emails],
            "update_existing": update_existing,
        }
        return self._call("POST", f"/lists/{list_id}", body=body)

    def update_member_tags(
        self, list_id: str, email: str, active: Iterable[str], inactive: Iterable[str]
    ) -> None:
        """Add (``active``) and remove (``inactive``) tags on one member, without automations."""
        tags = [{"name": n, "status": consts.TAG_ACTIVE} for n in active]
        tags += [{"name": n, "status": consts.TAG_INACTIVE} for n in inactive]
        # is_syncing keeps a bulk sync from firing tag-triggered automations.
        body = {"tags": tags, "is_syncing": True}
        self._call("POST", f"/lists/{list_id}/members/{subscriber_hash(email)}/tags", body=body)

    # ------------------------------------------------------------------ tags as static segments

    def list_static_segments(self, list_id: str) -> dict[str, str]:
        """Return ``{name: segment id}`` for every static segment (tag) of the list."""
        found: dict[str, str] = {}
        offset = 0
        while True:
            params = {"type": "static", "count": consts.SEGMENTS_PAGE_SIZE, "offset": offset,
                      "fields": "segments.id,segments.name,total_items"}
            page = self._call("GET", f"/lists/{list_id}/segments", params=params)
            segments = page.get("segments", [])
            for segment in segments:
                found[segment["name"]] = str(segment["id"])
            offset += len(segments)
            if not segments or offset >= page.get("total_items", 0):
                return found

    def create_static_segment(self, list_id: str, name: str) -> str:
        """Create an empty static segment (a tag) called ``name``; return its id."""
        body = {"name": name, "static_segment": []}
        return str(self._call("POST", f"/lists/{list_id}/segments", body=body)["id"])

    def update_segment_members(
        self,
        list_id: str,
        segment_id: str,
        members_to_add: Sequence[str] = (),
        members_to_remove: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Add and remove ≤500 emails each on a static segment; return the answer."""
        if max(len(members_to_add), len(members_to_remove)) > consts.SEGMENT_MEMBERS_MAX:
            raise ValueError(f"at most {consts.SEGMENT_MEMBERS_MAX} members each way per call")
        body: dict[str, Any] = {}
        if members_to_add:
            body["members_to_add"] = list(members_to_add)
        if members_to_remove:
            body["members_to_remove"] = list(members_to_remove)
        return self._call("POST", f"/lists/{list_id}/segments/{segment_id}", body=body)

    # ------------------------------------------------------------------ batch operations

    def create_batch(self, operations: Sequence[Mapping[str, Any]]) -> str:
        """Queue many operations ({method, path, body: JSON string}) to run async; return id."""
        body = {"operations": [dict(operation) for operation in operations]}
        return self._call("POST", "/batches", body=body)["id"]

    def get_batch(self, batch_id: str) -> dict[str, Any]:
        """Return a batch's status, counts and (when finished) ``response_body_url``."""
        return self._call("GET", f"/batches/{batch_id}")
