"""Write Tagwise segments to Klaviyo as profile properties (and optionally static lists).

Klaviyo profiles have no tags, so each profile carries ``tagwise_segments`` (the full list of
segment keys it is in now) plus ``tagwise_rfm_group``, ``tagwise_r``/``_f``/``_m`` and the
predictions. The full list is written every time rather than ``append``/``unappend`` patches:
replaying a change is then harmless and a profile that drifted is healed by the next write.

Few changes go through ``POST /api/profile-import`` one by one; more go through bulk import
jobs (≤10,000 profiles and ≤5 MB each), which are polled until complete, with per-profile
errors reported as permanent outcomes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.base import (
    CONSENTING_EMAILS,
    INCLUDE_ALL_OPTION,
    OK,
    PERMANENT,
    TRANSIENT,
    ChangeOutcome,
    ConnectorError,
    DestinationKind,
    DestinationOption,
    InvalidSetting,
    PermanentError,
    TagChange,
    TransientError,
    WriterContext,
    settle,
)
from connectors.klaviyo import consts
from connectors.klaviyo.client import (
    KlaviyoClient,
    encode_json,
    profile_resource,
    rate_bucket_for,
)

# Below this many changes one profile-import per profile costs fewer requests than a job
# plus its polls, and lands immediately.
SINGLE_IMPORT_THRESHOLD = 50
POLL_INTERVAL_SECONDS = 2.0
POLL_TIMEOUT_SECONDS = 600.0
# Room for the job envelope around the profiles array when measuring the 5 MB limit.
BULK_ENVELOPE_BYTES = 512

# Profile scalar -> Klaviyo property name.
PROPERTY_NAMES: dict[str, str] = {
    "rfm_group": "tagwise_rfm_group",
    "r_score": "tagwise_r",
    "f_score": "tagwise_f",
    "m_score": "tagwise_m",
    "predicted_clv_12m": "tagwise_predicted_clv_12m",
    "churn_risk": "tagwise_churn_risk",
    "expected_next_order_at": "tagwise_expected_next_order_at",
    "p_alive": "tagwise_p_alive",
    "value_tier": "tagwise_value_tier",
    "lifecycle_stage": "tagwise_lifecycle_stage",
}


def segment_keys(tags: Iterable[str], prefix: str) -> list[str]:
    """Return the sorted segment keys of our prefixed tags (other tags are not ours)."""
    return sorted(tag[len(prefix) :] for tag in tags if tag.startswith(prefix))


def profile_properties(change: TagChange, prefix: str) -> dict[str, Any]:
    """Build the Klaviyo properties for one change; profile scalars only when present."""
    properties: dict[str, Any] = {consts.PROPERTY_SEGMENTS: segment_keys(change.tags, prefix)}
    for field_name, property_name in PROPERTY_NAMES.items():
        value = change.properties.get(field_name)
        if value is not None:
            scalar = isinstance(value, str | int | float)
            properties[property_name] = value if scalar else str(value)
    return properties


@dataclass
class _Job:
    job_id: str
    changes: list[TagChange]


class KlaviyoWriter:
    """A :class:`connectors.base.TagWriter` for one Klaviyo account."""

    def __init__(
        self,
        client: KlaviyoClient,
        *,
        prefix: str = "tw:",
        list_per_segment: bool = False,
        single_import_threshold: int = SINGLE_IMPORT_THRESHOLD,
        max_job_profiles: int = consts.BULK_IMPORT_MAX_PROFILES,
        max_job_bytes: int = consts.BULK_IMPORT_MAX_BYTES,
        poll_interval_seconds: float = POLL_INTERVAL_SECONDS,
        poll_timeout_seconds: float = POLL_TIMEOUT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.client = client
        self.prefix = prefix
        self.list_per_segment = list_per_segment
        self.single_import_threshold = single_import_threshold
        self.max_job_profiles = min(max_job_profiles, consts.BULK_IMPORT_MAX_PROFILES)
        self.max_job_bytes = min(max_job_bytes, consts.BULK_IMPORT_MAX_BYTES)
        self.poll_interval_seconds = poll_interval_seconds
        self.poll_timeout_seconds = poll_timeout_seconds
        self.sleep = sleep
        self.clock = clock
        self._list_ids: dict[str, str] = {}

    def write(self, changes: Sequence[TagChange]) -> list[ChangeOutcome]:
        """Apply the changes; return one outcome per change, in order, never raising per change."""
        outcomes: dict[int, ChangeOutcome] = {}
        sendable = []
        for change in changes:
            if change.email and change.email.strip():
                sendable.append(change)
            else:
                outcomes[change.customer_id] = ChangeOutcome(
                    change.customer_id, PERMANENT, "no_email"
                )
        if len(sendable) < self.single_import_threshold:
            self._import_one_by_one(sendable, outcomes)
        else:
            self._import_in_jobs(sendable, outcomes)
        if self.list_per_segment:
            delivered = [c for c in sendable if outcomes.get(c.customer_id) is None]
            self._sync_lists(delivered, outcomes)
        return [
            outcomes.get(change.customer_id) or ChangeOutcome(change.customer_id, OK)
            for change in changes
        ]

    # ------------------------------------------------------------------ profiles

    def _import_one_by_one(self, changes: list[TagChange], outcomes: dict[int, ChangeOutcome]):
        for change in changes:
            properties = profile_properties(change, self.prefix)
            # A prediction that went away is cleared with unset (absent would leave it stale).
            cleared = [
                PROPERTY_NAMES[name]
                for name, value in change.properties.items()
                if value is None and name in PROPERTY_NAMES
            ]
            patch = {"unset": cleared} if cleared else None
            try:
                self.client.profile_import(change.email or "", properties, patch_properties=patch)
            except ConnectorError as exc:
                outcomes[change.customer_id] = _failed(change, exc)

    def _import_in_jobs(self, changes: list[TagChange], outcomes: dict[int, ChangeOutcome]):
        jobs: list[_Job] = []
        for chunk, resources in self._job_chunks(changes, outcomes):
            try:
                job_id = self.client.create_bulk_import_job(resources)
            except ConnectorError as exc:
                for change in chunk:
                    outcomes[change.customer_id] = _failed(change, exc)
                continue
            jobs.append(_Job(job_id, chunk))
        self._await_jobs(jobs, outcomes)

    def _job_chunks(
        self, changes: list[TagChange], outcomes: dict[int, ChangeOutcome]
    ) -> Iterable[tuple[list[TagChange], list[dict[str, Any]]]]:
        """Split into jobs bounded by profile count AND serialised size (Klaviyo: 10k, 5 MB)."""
        budget = self.max_job_bytes - BULK_ENVELOPE_BYTES
        chunk: list[TagChange] = []
        resources: list[dict[str, Any]] = []
        size = 0
        for change in changes:
            resource = profile_resource(change.email or "", profile_properties(change, self.prefix))
            resource_size = len(encode_json(resource)) + 1  # +1 for the separating comma
            if resource_size > budget:
                outcomes[change.customer_id] = ChangeOutcome(
                    change.customer_id, PERMANENT, "profile_too_large"
                )
                continue
            if chunk and (len(chunk) >= self.max_job_profiles or size + resource_size > budget):
                yield chunk, resources
                chunk, resources, size = [], [], 0
            chunk.append(change)
            resources.append(resource)
            size += resource_size
        if chunk:
            yield chunk, resources

    def _await_jobs(self, jobs: list[_Job], outcomes: dict[int, ChangeOutcome]):
        """Poll every job until it finishes or the timeout passes; record per-profile errors."""
        deadline = self.clock() + self.poll_timeout_seconds
        pending = list(jobs)
        while pending:
            self.sleep(self.poll_interval_seconds)
            still_pending = []
            for job in pending:
                try:
                    attributes = self.client.get_bulk_import_job(job.job_id)
                    status = attributes.get("status")
                    if status == consts.JOB_STATUS_CANCELLED:
                        settle(job.changes, outcomes, TRANSIENT, "bulk_job_cancelled")
                    elif status == consts.JOB_STATUS_COMPLETE:
                        if attributes.get("failed_count"):
                            self._record_job_errors(job, outcomes)
                    else:
                        still_pending.append(job)
                except TransientError:
                    still_pending.append(job)  # the job keeps running; ask again next round
                except PermanentError as exc:
                    settle(job.changes, outcomes, PERMANENT, _describe(exc))
            pending = still_pending
            if pending and self.clock() >= deadline:
                # Unknown whether they landed; re-sending the full state later is harmless.
                for job in pending:
                    settle(job.changes, outcomes, TRANSIENT, "bulk_job_timeout")
                return

    def _record_job_errors(self, job: _Job, outcomes: dict[int, ChangeOutcome]):
        try:
            errors = self.client.get_bulk_import_job_errors(job.job_id)
        except ConnectorError as exc:
            # The job ran but we cannot tell who failed: let everyone be retried.
            settle(job.changes, outcomes, TRANSIENT, _describe(exc))
            return
        by_email = {(c.email or "").strip().lower(): c for c in job.changes}
        for error in errors:
            change = _change_for_error(error, job.changes, by_email)
            if change is not None:
                detail = str(error.get("detail") or error.get("title") or "import_error")
                # No PII in outcomes: they end up in the operator's logs and dashboard.
                detail = re.sub(re.escape((change.email or "").strip()), "<email>", detail,
                                flags=re.IGNORECASE)
                outcomes[change.customer_id] = ChangeOutcome(
                    change.customer_id, PERMANENT, f"{error.get('code', 'invalid')}: {detail}"
                )

    # ------------------------------------------------------------------ lists

    def _sync_lists(self, changes: list[TagChange], outcomes: dict[int, ChangeOutcome]):
        """Add/remove profiles to one static list per segment key (``list_per_segment``)."""
        adds: dict[str, list[TagChange]] = {}
        removes: dict[str, list[TagChange]] = {}
        for change in changes:
            for key in segment_keys(change.add, self.prefix):
                adds.setdefault(key, []).append(change)
            for key in segment_keys(change.remove, self.prefix):
                removes.setdefault(key, []).append(change)
        if not adds and not removes:
            return
        involved = {
            c.customer_id: c for group in (*adds.values(), *removes.values()) for c in group
        }
        try:
            ids = self.client.lookup_profile_ids(c.email or "" for c in involved.values())
        except ConnectorError as exc:
            settle(list(involved.values()), outcomes, _status(exc), _describe(exc))
            return
        for key in sorted(set(adds) | set(removes)):
            self._sync_one_list(key, adds.get(key, []), removes.get(key, []), ids, outcomes)

    def _sync_one_list(
        self,
        key: str,
        to_add: list[TagChange],
        to_remove: list[TagChange],
        ids: Mapping[str, str],
        outcomes: dict[int, ChangeOutcome],
    ):
        try:
            list_id = self._list_id(key, create=bool(to_add))
        except ConnectorError as exc:
            settle(to_add + to_remove, outcomes, _status(exc), _describe(exc))
            return
        if list_id is None:
            return  # never created, so nobody is on it
        for group, method in ((to_add, self.client.add_profiles_to_list),
                              (to_remove, self.client.remove_profiles_from_list)):
            resolved = []
            for change in group:
                profile_id = ids.get((change.email or "").strip().lower())
                if profile_id is not None:
                    resolved.append((change, profile_id))
                elif group is to_add:
                    # Just imported but not yet searchable: try again on the next sync.
                    settle([change], outcomes, TRANSIENT, "profile_not_found")
            size = consts.LIST_RELATIONSHIP_MAX_IDS
            for start in range(0, len(resolved), size):
                batch = resolved[start : start + size]
                try:
                    method(list_id, [profile_id for _, profile_id in batch])
                except ConnectorError as exc:
                    settle([c for c, _ in batch], outcomes, _status(exc), _describe(exc))

    def _list_id(self, key: str, *, create: bool) -> str | None:
        if key not in self._list_ids:
            list_id = self.client.find_list(key)
            if list_id is None and create:
                list_id = self.client.create_list(key)
            if list_id is None:
                return None
            self._list_ids[key] = list_id
        return self._list_ids[key]


# ---------------------------------------------------------------------- helpers


def _change_for_error(
    error: Mapping[str, Any], changes: list[TagChange], by_email: Mapping[str, TagChange]
) -> TagChange | None:
    """Find the change an import error is about: by the echoed email, else by its pointer."""
    payload = error.get("original_payload") or {}
    email = payload.get("email") or (payload.get("attributes") or {}).get("email")
    if isinstance(email, str) and email.strip().lower() in by_email:
        return by_email[email.strip().lower()]
    pointer = ((error.get("source") or {}).get("pointer") or "").rstrip("/")
    tail = pointer.rsplit("/", 1)[-1]
    if tail.isdigit() and int(tail) < len(changes):
        return changes[int(tail)]
    return None


def _status(exc: ConnectorError) -> str:
    return TRANSIENT if isinstance(exc, TransientError) else PERMANENT


def _describe(exc: ConnectorError) -> str:
    """Say why a call failed from Klaviyo's error code and title, never its detail (PII)."""
    response = getattr(exc, "response", None)
    try:
        first = response.json()["errors"][0] if response is not None else None
    except (ValueError, KeyError, IndexError, TypeError):
        first = None
    if isinstance(first, dict) and first.get("code"):
        return f"{exc.reason}: HTTP {exc.status} {first['code']}: {first.get('title', '')}"[:500]
    return f"{exc.reason}: {exc}"[:500]


def _failed(change: TagChange, exc: ConnectorError) -> ChangeOutcome:
    return ChangeOutcome(change.customer_id, _status(exc), _describe(exc))



# ---------------------------------------------------------------------- destination kind


def build_writer(context: WriterContext) -> KlaviyoWriter:
    """A writer for the Klaviyo account whose private key the context carries."""
    base_url = context.config.get("api_base_url")
    options = {"base_url": base_url} if base_url else {}
    client = KlaviyoClient(context.credentials or "", on_attempt=context.on_attempt,
                           policy=context.policy, governor=context.governor, **options)
    return KlaviyoWriter(client, prefix=context.prefix,
                         list_per_segment=bool(context.config.get("list_per_segment")))


def check_settings(config: Mapping[str, Any], credentials: str | None, *,
                   allow_private_urls: bool) -> None:
    """Refuse a key that is not a private API key."""
    if not (credentials or "").startswith("pk_"):
        raise InvalidSetting("api_key", "a Klaviyo private key starts with pk_")


DESTINATION = DestinationKind(
    kind="klaviyo",
    summary="Send segments to Klaviyo as profile properties (and optionally lists).",
    audience=CONSENTING_EMAILS, build_writer=build_writer, check=check_settings,
    credential=DestinationOption("api_key", "Private API key, pk_...", required=True),
    options=(DestinationOption("list_per_segment", "Also keep a static list per segment",
                               flag=True),
             DestinationOption("api_base_url", "Replaces https://a.klaviyo.com"),
             INCLUDE_ALL_OPTION),
    bulk_from=SINGLE_IMPORT_THRESHOLD, rate_bucket=rate_bucket_for("POST", "/api/profile-import"))
