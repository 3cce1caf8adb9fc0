"""Write Tagwise segments to one Mailchimp audience as member tags.

Mailchimp tags are static segments, so a tag can be edited for 500 members in one call
(``POST /lists/{list}/segments/{id}``). For many changes the writer first makes sure the
gaining members exist (batch subscribe, 500 per call, existing members untouched), then edits
each tag's segment in chunks of 500. For a few changes it sends one member-tags call per
customer instead (404 → create the member, then retry once). It picks whichever path needs
fewer requests.

Tag names are the segment keys (prefix stripped). Mailchimp mangles ``&`` and commas and
names over 50 characters are unsafe, so such keys map deterministically to
``<cleaned key, ≤41 chars>-<first 8 hex of sha1(key)>`` (see :func:`mailchimp_tag_name`).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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
from connectors.mailchimp import consts
from connectors.mailchimp.client import CONNECTIONS_BUCKET, MailchimpClient, problem_title

HASH_SUFFIX_CHARS = 8
# Any write of more than a few changes costs the same two or three calls (batch subscribe,
# one segment edit per tag touched, ≤500 members each): from 50 changes that is ≤0.06 a change.
BULK_FROM = 50


def mailchimp_tag_name(key: str) -> str:
    """Return a Mailchimp-safe tag name for a segment key; safe keys stay as they are."""
    too_long = len(key) > consts.TAG_NAME_MAX_CHARS
    unsafe = any(ch in key for ch in consts.TAG_NAME_UNSAFE_CHARACTERS)
    if key and not too_long and not unsafe and key == key.strip():
        return key
    cleaned = re.sub(r"[&,\s]+", "-", key).strip("-") or "segment"
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()[:HASH_SUFFIX_CHARS]
    keep = consts.TAG_NAME_MAX_CHARS - HASH_SUFFIX_CHARS - 1
    # The hash keeps two different unsafe keys from colliding once cleaned and truncated.
    return f"{cleaned[:keep].rstrip('-')}-{digest}"


@dataclass
class _TagEdit:
    add: list[TagChange] = field(default_factory=list)
    remove: list[TagChange] = field(default_factory=list)


class MailchimpWriter:
    """A :class:`connectors.base.TagWriter` for one Mailchimp audience (list)."""

    def __init__(
        self,
        client: MailchimpClient,
        list_id: str,
        *,
        prefix: str = "tw:",
        status_if_new: str = consts.STATUS_IF_NEW,
    ):
        self.client = client
        self.list_id = list_id
        self.prefix = prefix
        self.status_if_new = status_if_new
        self._segment_ids: dict[str, str] | None = None

    def tag_names(self, tags: Iterable[str]) -> list[str]:
        """Return the Mailchimp tag names for our prefixed tags, ignoring everyone else's."""
        keys = (tag[len(self.prefix) :] for tag in tags if tag.startswith(self.prefix))
        return sorted(mailchimp_tag_name(key) for key in keys)

    def write(self, changes: Sequence[TagChange]) -> list[ChangeOutcome]:
        """Apply the changes; return one outcome per change, in order, never raising per change."""
        outcomes: dict[int, ChangeOutcome] = {}
        pending: list[TagChange] = []
        for change in changes:
            if not (change.email and change.email.strip()):
                outcomes[change.customer_id] = ChangeOutcome(
                    change.customer_id, PERMANENT, "no_email"
                )
            elif self.tag_names(change.add) or self.tag_names(change.remove):
                pending.append(change)
        edits = self._tag_edits(pending)
        if len(pending) <= self._segment_path_cost(pending, edits):
            for change in pending:
                self._write_member_tags(change, outcomes)
        else:
            self._write_through_segments(pending, outcomes)
        return [
            outcomes.get(change.customer_id) or ChangeOutcome(change.customer_id, OK)
            for change in changes
        ]

    # ------------------------------------------------------------------ planning

    def _tag_edits(self, changes: list[TagChange]) -> dict[str, _TagEdit]:
        edits: dict[str, _TagEdit] = {}
        for change in changes:
            for name in self.tag_names(change.add):
                edits.setdefault(name, _TagEdit()).add.append(change)
            for name in self.tag_names(change.remove):
                edits.setdefault(name, _TagEdit()).remove.append(change)
        return edits

    def _segment_path_cost(self, changes: list[TagChange], edits: dict[str, _TagEdit]) -> int:
        """Requests the segment path needs: subscribe chunks, segment lookup, tag edits."""
        size = consts.SEGMENT_MEMBERS_MAX
        gaining = sum(1 for change in changes if self.tag_names(change.add))
        cost = math.ceil(gaining / consts.BATCH_SUBSCRIBE_MAX_MEMBERS)
        cost += 1 if self._segment_ids is None else 0
        for edit in edits.values():
            cost += max(math.ceil(len(edit.add) / size), math.ceil(len(edit.remove) / size))
        return cost

    # ------------------------------------------------------------------ one member at a time

    def _write_member_tags(self, change: TagChange, outcomes: dict[int, ChangeOutcome]):
        active, inactive = self.tag_names(change.add), self.tag_names(change.remove)
        email = change.email or ""
        try:
            try:
                self.client.update_member_tags(self.list_id, email, active, inactive)
            except PermanentError as exc:
                if exc.status != 404:
                    raise
                if not active:
                    return  # not a member, so it carries none of the tags to remove
                # Mailchimp: tags need an existing member; create it, then retry once.
                self.client.upsert_member(self.list_id, email, self.status_if_new)
                self.client.update_member_tags(self.list_id, email, active, inactive)
        except ConnectorError as exc:
            outcomes[change.customer_id] = _failed(change, exc)

    # ------------------------------------------------------------------ in bulk

    def _write_through_segments(self, changes: list[TagChange], outcomes: dict[int, ChangeOutcome]):
        gaining = [change for change in changes if self.tag_names(change.add)]
        self._ensure_members(gaining, outcomes)
        live = [change for change in changes if change.customer_id not in outcomes]
        for name, edit in sorted(self._tag_edits(live).items()):
            self._edit_tag(name, edit, outcomes)

    def _ensure_members(self, changes: list[TagChange], outcomes: dict[int, ChangeOutcome]):
        """Create missing members (existing ones untouched); skip contacts Mailchimp refuses."""
        size = consts.BATCH_SUBSCRIBE_MAX_MEMBERS
        for start in range(0, len(changes), size):
            chunk = changes[start : start + size]
            try:
                answer = self.client.batch_subscribe(
                    self.list_id, [c.email or "" for c in chunk], self.status_if_new
                )
            except ConnectorError as exc:
                settle(chunk, outcomes, _status(exc), _describe(exc))
                continue
            by_email = {(c.email or "").strip().lower(): c for c in chunk}
            # 200 even when members fail: the failures are only in errors[].
            for error in answer.get("errors") or []:
                if error.get("error_code") == consts.ERROR_CONTACT_EXISTS:
                    continue
                change = by_email.get(str(error.get("email_address", "")).strip().lower())
                if change is not None:
                    reason = error.get("error_code") or "member_rejected"
                    # No PII in outcomes: they end up in the operator's logs and dashboard.
                    text = re.sub(re.escape((change.email or "").strip()), "<email>",
                                  str(error.get("error", "")), flags=re.IGNORECASE)
                    detail = f"{reason}: {text}"[:500]
                    settle([change], outcomes, PERMANENT, detail)

    def _edit_tag(self, name: str, edit: _TagEdit, outcomes: dict[int, ChangeOutcome]):
        for attempt in range(2):
            try:
                segment_id = self._segment_id(name, create=bool(edit.add))
                if segment_id is None:
                    return  # the tag does not exist, so nobody carries it
                self._edit_segment(segment_id, edit, outcomes)
                return
            except PermanentError as exc:
                if exc.status == 404 and attempt == 0:
                    self._segment_ids = None  # deleted in Mailchimp since we looked: look again
                    continue
                settle(edit.add + edit.remove, outcomes, PERMANENT, _describe(exc))
                return
            except ConnectorError as exc:
                settle(edit.add + edit.remove, outcomes, _status(exc), _describe(exc))
                return

    def _edit_segment(self, segment_id: str, edit: _TagEdit, outcomes: dict[int, ChangeOutcome]):
        size = consts.SEGMENT_MEMBERS_MAX
        adds = [c for c in edit.add if c.customer_id not in outcomes]
        removes = [c for c in edit.remove if c.customer_id not in outcomes]
        rounds = max(math.ceil(len(adds) / size), math.ceil(len(removes) / size))
        for index in range(rounds):
            add_chunk = adds[index * size : (index + 1) * size]
            remove_chunk = removes[index * size : (index + 1) * size]
            try:
                answer = self.client.update_segment_members(
                    self.list_id,
                    segment_id,
                    [c.email or "" for c in add_chunk],
                    [c.email or "" for c in remove_chunk],
                )
            except PermanentError as exc:
                if exc.status == 404 and index == 0:
                    raise  # let _edit_tag refresh the segment id and retry once
                settle(add_chunk + remove_chunk, outcomes, PERMANENT, _describe(exc))
                continue
            except ConnectorError as exc:
                settle(add_chunk + remove_chunk, outcomes, _status(exc), _describe(exc))
                continue
            # Only a failed add matters: a removal that "failed" left the tag absent anyway.
            by_email = {(c.email or "").strip().lower(): c for c in add_chunk}
            for error in answer.get("errors") or []:
                for email in error.get("email_addresses") or []:
                    change = by_email.get(str(email).strip().lower())
                    if change is not None:
                        detail = f"segment_error: {error.get('error', '')}"[:500]
                        settle([change], outcomes, PERMANENT, detail)

    def _segment_id(self, name: str, *, create: bool) -> str | None:
        if self._segment_ids is None:
            self._segment_ids = self.client.list_static_segments(self.list_id)
        if name not in self._segment_ids and create:
            self._segment_ids[name] = self.client.create_static_segment(self.list_id, name)
        return self._segment_ids.get(name)


# ---------------------------------------------------------------------- helpers


def _status(exc: ConnectorError) -> str:
    return TRANSIENT if isinstance(exc, TransientError) else PERMANENT


def _describe(exc: ConnectorError) -> str:
    """Say why a call failed without echoing the vendor's detail (it often holds the email)."""
    title = problem_title(exc)
    if title is None:
        return f"{exc.reason}: {exc}"[:500]
    reason = consts.PERMANENT_CONTACT_TITLES.get(title, exc.reason)
    return f"{reason}: HTTP {exc.status} {title}"[:500]


def _failed(change: TagChange, exc: ConnectorError) -> ChangeOutcome:
    return ChangeOutcome(change.customer_id, _status(exc), _describe(exc))



# ---------------------------------------------------------------------- destination kind


def build_writer(context: WriterContext) -> MailchimpWriter:
    """A writer for the Mailchimp audience of the context's settings."""
    client = MailchimpClient(context.credentials or "", base_url=context.config.get("api_base_url"),
                             on_attempt=context.on_attempt, policy=context.policy,
                             governor=context.governor)
    return MailchimpWriter(client, context.config["list_id"], prefix=context.prefix)


def check_settings(config: Mapping[str, Any], credentials: str | None, *,
                   allow_private_urls: bool) -> None:
    """Refuse a key without its data-centre suffix."""
    if "-" not in (credentials or ""):
        raise InvalidSetting("api_key", "a Mailchimp key ends in -DC, e.g. -us6")


DESTINATION = DestinationKind(
    kind="mailchimp", summary="Send segments to a Mailchimp audience as tags.",
    audience=CONSENTING_EMAILS, build_writer=build_writer, check=check_settings,
    credential=DestinationOption("api_key", "KEY-us6 (the suffix names the data centre)",
                                 required=True),
    options=(DestinationOption("list_id", "The audience id", required=True),
             DestinationOption("api_base_url", "Replaces https://DC.api.mailchimp.com/3.0"),
             INCLUDE_ALL_OPTION),
    bulk_from=BULK_FROM, rate_bucket=CONNECTIONS_BUCKET)
