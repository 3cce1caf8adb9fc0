"""A stand-in Mailchimp Marketing API (WSGI) with in-memory audiences, members and tags.

It enforces what the real API documents and our writer relies on: HTTP Basic with the key as
password, bodies valid against the OpenAPI spec (when a validator is given), 500-member
limits, at most 10 simultaneous connections, rate limits (429 + ``Retry-After``),
problem+json errors, 404 for tags on unknown members, the "Member In Compliance State" and
"Forgotten Email Not Subscribed" refusals, and batch subscribe answering 200 with
``errors[]``. Tags are static segments, as in Mailchimp. Time is injected (``advance``).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

API_PREFIX = "/3.0"
MAX_MEMBERS_PER_CALL = 500
MAX_CONNECTIONS = 10
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

Validator = Callable[[str, str, Any], None]


def member_hash(email: str) -> str:
    """Mailchimp's subscriber hash, computed independently of the client under test."""
    return hashlib.md5(email.strip().lower().encode()).hexdigest()


class MailchimpStandin:
    """The WSGI app plus the state tests assert on (members, tags, request counts)."""

    def __init__(
        self,
        api_key: str = "0123456789abcdef-us6",
        *,
        list_id: str = "a1b2c3d4e5",
        validator: Validator | None = None,
        rate_limit: tuple[int, float] | None = None,
        compliance_emails: frozenset[str] = frozenset(),
        forgotten_emails: frozenset[str] = frozenset(),
        latency_seconds: float = 0.0,
    ):
        self.api_key = api_key
        self.list_id = list_id
        self.validator = validator
        self.rate_limit = rate_limit
        self.compliance_emails = compliance_emails
        self.forgotten_emails = forgotten_emails
        self.latency_seconds = latency_seconds  # a real API's answer time (benchmarks only)
        self.throttled = 0  # 429 answers sent
        self.now = 0.0
        self.outage_until = 0.0
        self.overloaded_requests = 0  # the next N requests get a bare 403 (overload)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.counts: Counter[str] = Counter()
        self.log: list[tuple[str, str, Any]] = []
        self.members: dict[str, dict[str, Any]] = {}  # hash -> {email, status}
        self.segments: dict[str, dict[str, Any]] = {}  # id -> {name, members: set of hashes}
        self.tag_writes: Counter[tuple[str, str]] = Counter()  # (email, tag) -> times applied
        self.batches: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1001)
        self._windows: dict[str, tuple[float, int]] = {}
        self.url_map = Map([
            Rule(f"{API_PREFIX}/lists/<list_id>", endpoint="batch_subscribe", methods=["POST"]),
            Rule(f"{API_PREFIX}/lists/<list_id>/members/<member>", endpoint="member",
                 methods=["PUT"]),
            Rule(f"{API_PREFIX}/lists/<list_id>/members/<member>/tags", endpoint="member_tags",
                 methods=["POST"]),
            Rule(f"{API_PREFIX}/lists/<list_id>/segments", endpoint="segments",
                 methods=["GET", "POST"]),
            Rule(f"{API_PREFIX}/lists/<list_id>/segments/<segment_id>", endpoint="segment",
                 methods=["POST"]),
            Rule(f"{API_PREFIX}/batches", endpoint="create_batch", methods=["POST"]),
            Rule(f"{API_PREFIX}/batches/<batch_id>", endpoint="get_batch", methods=["GET"]),
        ])

    # ------------------------------------------------------------------ test controls

    def advance(self, seconds: float) -> None:
        """Move the stand-in's clock forward (what an injected sleep calls)."""
        with self.lock:
            self.now += seconds

    def start_outage(self, seconds: float) -> None:
        """Answer every request with 503 for the next ``seconds`` of stand-in time."""
        with self.lock:
            self.outage_until = self.now + seconds

    def add_member(self, email: str, status: str = "subscribed", tags: set[str] = frozenset()):
        """Seed an existing member (optionally already carrying tags)."""
        self.members[member_hash(email)] = {"email": email.strip().lower(), "status": status}
        for tag in tags:
            self._segment_named(tag, create=True)["members"].add(member_hash(email))

    def tags_of(self, email: str) -> set[str]:
        """Return the tag names a member carries."""
        h = member_hash(email)
        return {s["name"] for s in self.segments.values() if h in s["members"]}

    def tagged(self, name: str) -> set[str]:
        """Return the emails carrying tag ``name``."""
        segment = self._segment_named(name, create=False)
        return {self.members[h]["email"] for h in segment["members"]} if segment else set()

    def total_requests(self) -> int:
        """Return how many requests arrived, throttled and failed ones included."""
        return sum(self.counts.values())

    # ------------------------------------------------------------------ WSGI

    def __call__(self, environ, start_response):
        request = Request(environ)
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            too_many = self.in_flight > MAX_CONNECTIONS
        try:
            if self.latency_seconds:
                time.sleep(self.latency_seconds)  # the connection stays open meanwhile
            if too_many:
                with self.lock:
                    self.throttled += 1
                response = problem(429, "Too Many Requests",
                                   "You have exceeded the limit of 10 simultaneous connections.")
            else:
                with self.lock:
                    response = self._dispatch(request)
            return response(environ, start_response)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _dispatch(self, request: Request) -> Response:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except NotFound:
            return problem(404, "Resource Not Found",
                           "The requested resource could not be found.")
        except HTTPException as exc:
            return problem(exc.code or 405, "Method Not Allowed", str(exc))
        self.counts[f"{request.method} {endpoint}"] += 1
        body = None
        if request.method in ("POST", "PUT", "PATCH"):
            try:
                body = json.loads(request.get_data() or b"null")
            except ValueError:
                return problem(400, "JSON Parse Error", "We encountered an unspecified JSON "
                               "parsing error.")
        self.log.append((request.method, request.path, body))
        if self.now < self.outage_until:
            return problem(503, "Service Unavailable", "Mailchimp is down for maintenance.")
        if self.overloaded_requests > 0:
            # Seen at extreme volume: 403 with no JSON body at all.
            self.overloaded_requests -= 1
            return Response(status=403)
        if not self._authorised(request):
            return problem(401, "API Key Invalid", "Your API key may be invalid, or you've "
                           "attempted to access the wrong datacenter.")
        throttled = self._throttle()
        if throttled is not None:
            return throttled
        if body is not None and self.validator is not None:
            try:
                self.validator(request.method, request.path[len(API_PREFIX):], body)
            except AssertionError as exc:
                return problem(400, "Invalid Resource", str(exc)[:1000])
        if args.get("list_id", self.list_id) != self.list_id:
            return problem(404, "Resource Not Found", "The requested resource could not be found.")
        args.pop("list_id", None)
        return getattr(self, f"_{endpoint}")(request, body, **args)

    def _authorised(self, request: Request) -> bool:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            _, _, password = base64.b64decode(encoded).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return password == self.api_key

    def _throttle(self) -> Response | None:
        if self.rate_limit is None:
            return None
        burst, window = self.rate_limit
        started, used = self._windows.get("all", (self.now, 0))
        if self.now >= started + window:
            started, used = self.now, 0
        if used >= burst:
            self.throttled += 1
            response = problem(429, "Too Many Requests", "You have exceeded the limit of "
                               "requests in this window.")
            response.headers["Retry-After"] = str(max(1, math.ceil(started + window - self.now)))
            return response
        self._windows["all"] = (started, used + 1)
        return None

    # ------------------------------------------------------------------ members

    def _refusal(self, email: str) -> tuple[str, str] | None:
        email = email.strip().lower()
        if email in self.forgotten_emails:
            return ("Forgotten Email Not Subscribed", f"{email} was permanently deleted and "
                    "cannot be re-imported. The contact must re-subscribe to get back on the list.")
        if email in self.compliance_emails:
            return ("Member In Compliance State", f"{email} is already a list member in "
                    "compliance state due to unsubscribe, bounce, or compliance review.")
        if not EMAIL_PATTERN.match(email):
            return ("Invalid Resource", f"{email} looks fake or invalid, please enter a real "
                    "email address.")
        return None

    def _batch_subscribe(self, request: Request, body: Any) -> Response:
        members = body["members"]
        if len(members) > MAX_MEMBERS_PER_CALL:
            return problem(400, "Invalid Resource", "You may only add 500 members at a time.")
        new, updated, errors = [], [], []
        for item in members:
            email = item["email_address"].strip().lower()
            h = member_hash(email)
            refusal = self._refusal(email)
            if refusal is not None:
                errors.append({"email_address": email, "error": refusal[1],
                               "error_code": "ERROR_GENERIC", "field": "", "field_message": ""})
            elif h in self.members:
                if body.get("update_existing"):
                    self.members[h]["status"] = item["status"]
                    updated.append({"email_address": email, "id": h})
                else:
                    errors.append({"email_address": email, "error": f"{email} is already a list "
                                   "member, do you want to update? please provide "
                                   "update_existing:true in the request body",
                                   "error_code": "ERROR_CONTACT_EXISTS"})
            else:
                self.members[h] = {"email": email, "status": item["status"]}
                new.append({"email_address": email, "id": h})
        return json_response({"new_members": new, "updated_members": updated, "errors": errors,
                              "total_created": len(new), "total_updated": len(updated),
                              "error_count": len(errors)})

    def _member(self, request: Request, body: Any, member: str) -> Response:
        email = body["email_address"].strip().lower()
        if member_hash(email) != member:
            return problem(400, "Invalid Resource", "The subscriber hash does not match.")
        refusal = self._refusal(email)
        if refusal is not None:
            return problem(400, *refusal)
        if member in self.members:
            if "status" in body:  # only an explicit status changes an existing member
                self.members[member]["status"] = body["status"]
        else:
            self.members[member] = {"email": email, "status": body["status_if_new"]}
        return json_response({"id": member, "email_address": email,
                              "status": self.members[member]["status"]})

    def _member_tags(self, request: Request, body: Any, member: str) -> Response:
        if member not in self.members:
            return problem(404, "Resource Not Found", "The requested resource could not be found.")
        for tag in body["tags"]:
            segment = self._segment_named(tag["name"], create=tag["status"] == "active")
            if segment is None:
                continue
            if tag["status"] == "active":
                segment["members"].add(member)
                self.tag_writes[(self.members[member]["email"], tag["name"])] += 1
            else:
                segment["members"].discard(member)
        return Response(status=204)

    # ------------------------------------------------------------------ tags = static segments

    def _segment_named(self, name: str, *, create: bool) -> dict[str, Any] | None:
        for segment in self.segments.values():
            if segment["name"] == name:
                return segment
        if not create:
            return None
        if any(ch in name for ch in "&,") or len(name) > 100:
            raise ValueError(f"unsafe tag name {name!r}")
        segment_id = str(next(self._ids))
        self.segments[segment_id] = {"id": segment_id, "name": name, "members": set()}
        return self.segments[segment_id]

    def _segments(self, request: Request, body: Any) -> Response:
        if request.method == "POST":
            name = body["name"]
            if self._segment_named(name, create=False) is not None:
                return problem(400, "Invalid Resource", "Sorry, that tag already exists.")
            if any(ch in name for ch in "&,"):
                return problem(400, "Invalid Resource", "Tag names cannot contain & or commas.")
            segment = self._segment_named(name, create=True)
            segment["members"].update(member_hash(e) for e in body.get("static_segment") or []
                                      if member_hash(e) in self.members)
            return json_response({"id": int(segment["id"]), "name": name, "type": "static",
                                  "member_count": len(segment["members"])})
        count = int(request.args.get("count", 10))
        offset = int(request.args.get("offset", 0))
        if count > 1000:
            return problem(400, "Invalid Resource", "count may be at most 1000.")
        everything = [{"id": int(s["id"]), "name": s["name"], "type": "static",
                       "member_count": len(s["members"])} for s in self.segments.values()]
        return json_response({"segments": everything[offset : offset + count],
                              "total_items": len(everything)})

    def _segment(self, request: Request, body: Any, segment_id: str) -> Response:
        segment = self.segments.get(segment_id)
        if segment is None:
            return problem(404, "Resource Not Found", "The requested resource could not be found.")
        to_add = body.get("members_to_add") or []
        to_remove = body.get("members_to_remove") or []
        if len(to_add) > MAX_MEMBERS_PER_CALL or len(to_remove) > MAX_MEMBERS_PER_CALL:
            return problem(400, "Invalid Resource", "You may only add or remove 500 members at "
                           "a time.")
        added, removed, missing = [], [], []
        for email in to_add:
            h = member_hash(email)
            if h not in self.members:
                missing.append(email)
                continue
            segment["members"].add(h)
            self.tag_writes[(self.members[h]["email"], segment["name"])] += 1
            added.append({"email_address": email, "id": h})
        for email in to_remove:
            h = member_hash(email)
            if h in segment["members"]:
                segment["members"].discard(h)
                removed.append({"email_address": email, "id": h})
        errors = ([{"email_addresses": missing, "error": "Email addresses are not list members"}]
                  if missing else [])
        return json_response({"members_added": added, "members_removed": removed,
                              "errors": errors, "total_added": len(added),
                              "total_removed": len(removed), "error_count": len(missing)})

    # ------------------------------------------------------------------ batches

    def _create_batch(self, request: Request, body: Any) -> Response:
        batch_id = uuid.uuid4().hex[:10]
        self.batches[batch_id] = {"operations": body["operations"], "polls": 0}
        return json_response({"id": batch_id, "status": "pending",
                              "total_operations": len(body["operations"]),
                              "finished_operations": 0, "errored_operations": 0})

    def _get_batch(self, request: Request, body: Any, batch_id: str) -> Response:
        batch = self.batches.get(batch_id)
        if batch is None:
            return problem(404, "Resource Not Found", "The requested resource could not be found.")
        batch["polls"] += 1
        total = len(batch["operations"])
        # Operations are recorded, not executed: our writer does not rely on batches.
        return json_response({"id": batch_id, "status": "finished", "total_operations": total,
                              "finished_operations": total, "errored_operations": 0,
                              "response_body_url": ""})


def json_response(document: Any, status: int = 200) -> Response:
    """Answer with JSON."""
    return Response(json.dumps(document), status=status, mimetype="application/json")


def problem(status: int, title: str, detail: str) -> Response:
    """Answer with Mailchimp's problem+json error shape."""
    body = {"type": "https://mailchimp.com/developer/marketing/docs/errors/", "title": title,
            "status": status, "detail": detail, "instance": str(uuid.uuid4())}
    return Response(json.dumps(body), status=status, mimetype="application/problem+json")
