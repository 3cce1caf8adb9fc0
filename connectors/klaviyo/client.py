"""Klaviyo REST client (JSON:API, revision pinned in consts): profiles, bulk import jobs, lists.

Only the calls the tag writer needs. Every request goes through :meth:`ApiClient.request`,
so 429/5xx are retried honouring ``Retry-After`` and other 4xx raise ``PermanentError``.
Never the subscribe endpoints: they record consent and lift suppressions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import requests

from connectors.base import (
    DEFAULT_TIMEOUT_SECONDS,
    ApiClient,
    Attempt,
    RateBucket,
    RateGovernor,
    RetryPolicy,
)
from connectors.klaviyo import consts


def profile_resource(email: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    """Build a JSON:API profile resource that upserts by email and sets ``properties``."""
    return {"type": "profile", "attributes": {"email": email, "properties": dict(properties)}}


def encode_json(body: Any) -> bytes:
    """Serialise a body compactly; the same bytes are measured against the 5 MB job limit."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


_RATE_BUCKETS = [(method, re.compile(pattern), RateBucket(name, burst_per_second=burst))
                 for method, pattern, name, burst, _steady in consts.RATE_LIMITS]
_DEFAULT_BUCKET = RateBucket(consts.DEFAULT_RATE_LIMIT[0],
                             burst_per_second=consts.DEFAULT_RATE_LIMIT[1])


def rate_bucket_for(method: str, path: str) -> RateBucket:
    """The Klaviyo rate limit (endpoint and burst) a request counts against."""
    for bucket_method, pattern, bucket in _RATE_BUCKETS:
        if bucket_method == method and pattern.fullmatch(path):
            return bucket
    return _DEFAULT_BUCKET


def _quote_filter_value(value: str) -> str:
    # Klaviyo filter strings take double-quoted string literals; escape the quote itself.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class KlaviyoClient(ApiClient):
    """Talk to one Klaviyo account with a private API key."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = consts.DEFAULT_BASE_URL,
        session: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        policy: RetryPolicy | None = None,
        on_attempt: Callable[[Attempt], None] | None = None,
        revision: str = consts.REVISION,
        governor: RateGovernor | None = None,
    ):
        super().__init__(
            base_url, session=session, timeout=timeout, policy=policy, on_attempt=on_attempt,
            governor=governor,
        )
        self._headers = {
            consts.AUTHORIZATION_HEADER: f"{consts.AUTHORIZATION_SCHEME} {api_key}",
            consts.REVISION_HEADER: revision,
            "Accept": consts.JSON_API_MEDIA_TYPE,
            "Content-Type": consts.JSON_API_MEDIA_TYPE,
        }

    # ------------------------------------------------------------------ plumbing

    def rate_bucket(self, method: str, url: str) -> RateBucket:
        """Klaviyo limits each endpoint separately, per account."""
        return rate_bucket_for(method, urlsplit(url).path)

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        data = encode_json(body) if body is not None else None
        response = self.request(method, path, data=data, params=params, headers=self._headers)
        if response.status_code == 204 or not response.content:
            return {}
        return response.json()

    def _pages(self, path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Yield every resource of a cursor-paged collection, following ``links.next``."""
        document = self._call("GET", path, params=params)
        while True:
            yield from document.get("data", [])
            next_url = (document.get("links") or {}).get("next")
            if not next_url:
                return
            # links.next is absolute and carries every parameter, cursor included.
            document = self._call("GET", next_url)

    # ------------------------------------------------------------------ profiles

    def profile_import(
        self,
        email: str,
        properties: Mapping[str, Any],
        *,
        patch_properties: Mapping[str, Any] | None = None,
    ) -> str:
        """Create or update one profile by email; return its Klaviyo id.

        ``properties`` set values (null clears a field); ``patch_properties`` takes Klaviyo's
        ``append`` / ``unappend`` / ``unset`` operations for list-valued properties.
        """
        resource = profile_resource(email, properties)
        if patch_properties:
            resource["meta"] = {"patch_properties": dict(patch_properties)}
        document = self._call("POST", "/api/profile-import", body={"data": resource})
        return document["data"]["id"]

    def lookup_profile_ids(self, emails: Iterable[str]) -> dict[str, str]:
        """Return ``{lower-cased email: profile id}`` for the emails Klaviyo knows."""
        unique = sorted({email.strip().lower() for email in emails})
        found: dict[str, str] = {}
        size = consts.PROFILE_LOOKUP_PAGE_SIZE
        for start in range(0, len(unique), size):
            chunk = unique[start : start + size]
            params = {
                "filter": f"any(email,[{','.join(_quote_filter_value(e) for e in chunk)}])",
                "fields[profile]": "email",
                "page[size]": size,
            }
            for resource in self._pages("/api/profiles", params):
                email = (resource.get("attributes") or {}).get("email")
                if email:
                    found[email.strip().lower()] = resource["id"]
        return found

    # ------------------------------------------------------------------ bulk import

    @staticmethod
    def bulk_import_body(
        profiles: Sequence[Mapping[str, Any]], list_id: str | None = None
    ) -> dict[str, Any]:
        """Build the body of a bulk import job from profile resources."""
        data: dict[str, Any] = {
            "type": "profile-bulk-import-job",
            "attributes": {"profiles": {"data": list(profiles)}},
        }
        if list_id:
            data["relationships"] = {"lists": {"data": [{"type": "list", "id": list_id}]}}
        return {"data": data}

    def create_bulk_import_job(
        self, profiles: Sequence[Mapping[str, Any]], list_id: str | None = None
    ) -> str:
        """Start a bulk import of ≤10,000 profile resources (≤5 MB); return the job id."""
        if len(profiles) > consts.BULK_IMPORT_MAX_PROFILES:
            raise ValueError(f"at most {consts.BULK_IMPORT_MAX_PROFILES} profiles per job")
        body = self.bulk_import_body(profiles, list_id)
        document = self._call("POST", "/api/profile-bulk-import-jobs", body=body)
        return document["data"]["id"]

    def get_bulk_import_job(self, job_id: str) -> dict[str, Any]:
        """Return a bulk import job's attributes (status, counts)."""
        document = self._call("GET", f"/api/profile-bulk-import-jobs/{job_id}")
        return document["data"]["attributes"]

    def get_bulk_import_job_errors(self, job_id: str) -> list[dict[str, Any]]:
        """Return the attributes of every per-profile error of a job, across all pages."""
        params = {"page[size]": consts.IMPORT_ERRORS_PAGE_SIZE}
        path = f"/api/profile-bulk-import-jobs/{job_id}/import-errors"
        return [resource.get("attributes", {}) for resource in self._pages(path, params)]

    # ------------------------------------------------------------------ lists

    def find_list(self, name: str) -> str | None:
        """Return the id of the list called ``name``, or None."""
        params = {"filter": f"equals(name,{_quote_filter_value(name)})"}
        for resource in self._pages("/api/lists", params):
            if (resource.get("attributes") or {}).get("name") == name:
                return resource["id"]
        return None

    def create_list(self, name: str) -> str:
        """Create a static list called ``name``; return its id."""
        body = {"data": {"type": "list", "attributes": {"name": name}}}
        return self._call("POST", "/api/lists", body=body)["data"]["id"]

    def add_profiles_to_list(self, list_id: str, profile_ids: Sequence[str]) -> None:
        """Add ≤1,000 profiles (by Klaviyo id) to a static list."""
        self._list_relationship("POST", list_id, profile_ids)

    def remove_profiles_from_list(self, list_id: str, profile_ids: Sequence[str]) -> None:
        """Remove ≤1,000 profiles (by Klaviyo id) from a static list."""
        self._list_relationship("DELETE", list_id, profile_ids)

    def _list_relationship(self, method: str, list_id: str, profile_ids: Sequence[str]) -> None:
        if len(profile_ids) > consts.LIST_RELATIONSHIP_MAX_IDS:
            raise ValueError(f"at most {consts.LIST_RELATIONSHIP_MAX_IDS} profiles per call")
        body = {"data": [{"type": "profile", "id": pid} for pid in profile_ids]}
        self._call(method, f"/api/lists/{list_id}/relationships/profiles", body=body)
