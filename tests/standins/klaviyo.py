"""A stand-in Klaviyo API (WSGI) with in-memory profiles, lists and bulk import jobs.

It enforces what the real API documents and our writer relies on: the private-key
``Authorization`` header and the ``revision`` header, JSON:API media types, request bodies
valid against the OpenAPI spec, the bulk limits (10,000 profiles, 5 MB), list relationship
limits (1,000), the documented rate limits and the JSON:API error shape. Time is injected
(``advance``) so rate-limit windows and outages pass without sleeping.

Rate limits are Klaviyo's: per endpoint, fixed windows aligned on the clock, a burst per
second and a steady rate per minute (the operation's ``x-klaviyo-ratelimit`` in
specs/klaviyo/stable.json). Every answer that is not a 429 carries the state of the steady
window in ``RateLimit-Limit`` / ``RateLimit-Remaining`` / ``RateLimit-Reset`` (seconds);
a 429 carries ``Retry-After`` (seconds until the exhausted window ends).
"""

from __future__ import annotations

import json
import math
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

JSON_API = "application/vnd.api+json"
MAX_JOB_PROFILES = 10_000
MAX_JOB_BYTES = 5 * 1024 * 1024
MAX_RELATIONSHIP_IDS = 1_000
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# "METHOD endpoint" -> (burst per second, steady per minute), from the spec's
# x-klaviyo-ratelimit of each operation (revision 2026-07-15).
DOCUMENTED_LIMITS: dict[str, tuple[int, int]] = {
    "POST profile_import": (75, 750),
    "GET get_profiles": (75, 750),
    "POST create_job": (10, 150),
    "GET get_job": (10, 150),
    "GET job_errors": (10, 150),
    "GET lists": (75, 750),
    "POST lists": (10, 150),
    "POST list_profiles": (10, 150),
    "DELETE list_profiles": (10, 150),
}

Validator = Callable[[str, str, Any], None]


class KlaviyoStandin:
    """The WSGI app plus the state tests assert on (profiles, lists, jobs, request counts)."""

    def __init__(
        self,
        api_key: str = "pk_test_standin",
        *,
        validator: Validator | None = None,
        rate_limit: tuple[int, float] | None = None,
        invalid_emails: frozenset[str] = frozenset(),
        clock: Callable[[], float] | None = None,
    ):
        self.api_key = api_key
        self.clock = clock  # None: time stands still unless advanced (tests); else wall time
        self.validator = validator
        # None: the documented limits; (n, window seconds): one window of n per endpoint.
        self.rate_limit = rate_limit
        self.throttled = 0  # 429 answers sent
        self.invalid_emails = invalid_emails
        self.polls_before_complete = 1  # a job completes on this poll (0 = never)
        self._offset = 0.0
        self.outage_until = 0.0
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.log: list[tuple[str, str, Any]] = []
        self.profiles: dict[str, dict[str, Any]] = {}
        self.profile_ids_by_email: dict[str, str] = {}
        self.profile_writes: Counter[str] = Counter()
        self.lists: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self._windows: Counter[tuple[str, float, int]] = Counter()
        self.url_map = Map([
            Rule("/api/profile-import", endpoint="profile_import", methods=["POST"]),
            Rule("/api/profiles", endpoint="get_profiles", methods=["GET"]),
            Rule("/api/profile-bulk-import-jobs", endpoint="create_job", methods=["POST"]),
            Rule("/api/profile-bulk-import-jobs/<job_id>", endpoint="get_job", methods=["GET"]),
            Rule("/api/profile-bulk-import-jobs/<job_id>/import-errors", endpoint="job_errors",
                 methods=["GET"]),
            Rule("/api/lists", endpoint="lists", methods=["GET", "POST"]),
            Rule("/api/lists/<list_id>/relationships/profiles", endpoint="list_profiles",
                 methods=["POST", "DELETE"]),
        ])

    # ------------------------------------------------------------------ test controls

    @property
    def now(self) -> float:
        """The stand-in's time in seconds: its clock (if any) plus what tests advanced."""
        return (self.clock() if self.clock else 0.0) + self._offset

    def advance(self, seconds: float) -> None:
        """Move the stand-in's clock forward (what an injected sleep calls)."""
        with self.lock:
            self._offset += seconds

    def start_outage(self, seconds: float) -> None:
        """Answer every request with 503 for the next ``seconds`` of stand-in time."""
        with self.lock:
            self.outage_until = self.now + seconds

    def profile(self, email: str) -> dict[str, Any] | None:
        """Return the stored profile for ``email`` (properties included), if any."""
        profile_id = self.profile_ids_by_email.get(email.strip().lower())
        return self.profiles.get(profile_id) if profile_id else None

    def list_members(self, name: str) -> set[str]:
        """Return the emails on the list called ``name``."""
        for record in self.lists.values():
            if record["name"] == name:
                return {self.profiles[pid]["email"] for pid in record["members"]}
        return set()

    def total_requests(self) -> int:
        """Return how many requests arrived, throttled and failed ones included."""
        return sum(self.counts.values())

    # ------------------------------------------------------------------ WSGI

    def __call__(self, environ, start_response):
        request = Request(environ)
        with self.lock:
            response = self._dispatch(request)
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except NotFound:
            return error(404, "not_found", "Not found", f"No route {request.path}")
        except HTTPException as exc:
            return error(exc.code or 405, "method_not_allowed", "Method not allowed", str(exc))
        self.counts[f"{request.method} {endpoint}"] += 1
        body = None
        if request.method in ("POST", "DELETE", "PATCH", "PUT"):
            raw = request.get_data()
            if endpoint == "create_job" and len(raw) > MAX_JOB_BYTES:
                return error(413, "request_too_large", "Payload too large",
                             "Bulk import jobs are limited to 5 MB.")
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                return error(400, "parse_error", "Invalid JSON", "Body is not JSON.")
        self.log.append((request.method, request.path, body))
        if self.now < self.outage_until:
            return error(503, "service_unavailable", "Service unavailable", "Try again later.")
        problem = self._check_headers(request)
        if problem is not None:
            return problem
        throttled, budget = self._throttle(f"{request.method} {endpoint}")
        if throttled is not None:
            return throttled
        response = self._answer(request, endpoint, body, args)
        response.headers.update(budget)
        return response

    def _answer(self, request: Request, endpoint: str, body: Any, args: dict) -> Response:
        if body is not None and self.validator is not None:
            try:
                self.validator(request.method, request.path, body)
            except AssertionError as exc:
                return error(400, "invalid", "Invalid input.", str(exc)[:1000])
        return getattr(self, f"_{endpoint}")(request, body, **args)

    def _check_headers(self, request: Request) -> Response | None:
        auth = request.headers.get("Authorization", "")
        scheme, _, key = auth.partition(" ")
        if scheme != "Klaviyo-API-Key" or not key.startswith("pk_"):
            return error(401, "not_authenticated", "Authentication credentials were not provided.",
                         "Missing or invalid private key.")
        if key != self.api_key:
            return error(403, "permission_denied", "Permission denied", "Incorrect private key.")
        if not request.headers.get("revision"):
            return error(400, "missing_revision", "Missing revision header.",
                         "The revision header is required.")
        if request.method != "GET" and request.mimetype != JSON_API:
            return error(415, "unsupported_media_type", "Unsupported media type",
                         f"Content-Type must be {JSON_API}.")
        return None

    def _throttle(self, operation: str) -> tuple[Response | None, dict[str, str]]:
        """Count the request in its endpoint's windows; a 429 when one is spent, else the
        steady window's budget headers."""
        now = self.now
        if self.rate_limit is not None:
            windows = [(self.rate_limit[0], self.rate_limit[1])]
        else:
            burst, steady = DOCUMENTED_LIMITS.get(operation, (1, 15))
            windows = [(burst, 1.0), (steady, 60.0)]
        slots = [(operation, window, math.floor(now / window)) for _, window in windows]
        for (limit, window), slot in zip(windows, slots, strict=True):
            if self._windows[slot] >= limit:
                self.throttled += 1
                retry_after = max(1, math.ceil((slot[2] + 1) * window - now))
                response = error(429, "throttled", "Request was throttled.",
                                 f"Request was throttled. Expected available in {retry_after} "
                                 "seconds.")
                response.headers["Retry-After"] = str(retry_after)
                return response, {}
        for slot in slots:
            self._windows[slot] += 1
        limit, window = windows[-1]
        slot = slots[-1]
        return None, {"RateLimit-Limit": str(limit),
                      "RateLimit-Remaining": str(limit - self._windows[slot]),
                      "RateLimit-Reset": str(max(1, math.ceil((slot[2] + 1) * window
                                                              - now)))}

    # ------------------------------------------------------------------ profiles

    def _upsert(self, attributes: dict[str, Any], *, clear_nulls: bool) -> tuple[str, bool]:
        email = attributes["email"].strip().lower()
        profile_id = self.profile_ids_by_email.get(email)
        created = profile_id is None
        if created:
            profile_id = "01" + uuid.uuid4().hex[:24].upper()
            self.profile_ids_by_email[email] = profile_id
            self.profiles[profile_id] = {"email": email, "properties": {}}
        properties = self.profiles[profile_id]["properties"]
        for key, value in (attributes.get("properties") or {}).items():
            if value is None and clear_nulls:
                properties.pop(key, None)
            elif value is not None:
                properties[key] = value
        self.profile_writes[email] += 1
        return profile_id, created

    def _profile_import(self, request: Request, body: Any) -> Response:
        data = body["data"]
        attributes = data.get("attributes") or {}
        email = attributes.get("email")
        if not email or not EMAIL_PATTERN.match(email) or email.lower() in self.invalid_emails:
            return error(400, "invalid", "Invalid input.", "Invalid email address",
                         pointer="/data/attributes/email")
        profile_id, created = self._upsert(attributes, clear_nulls=True)
        properties = self.profiles[profile_id]["properties"]
        patch = ((data.get("meta") or {}).get("patch_properties")) or {}
        for key, value in (patch.get("append") or {}).items():
            values = value if isinstance(value, list) else [value]
            properties[key] = [*properties.get(key, []), *values]
        for key, value in (patch.get("unappend") or {}).items():
            values = value if isinstance(value, list) else [value]
            properties[key] = [v for v in properties.get(key, []) if v not in values]
        unset = patch.get("unset") or []
        for key in [unset] if isinstance(unset, str) else unset:
            properties.pop(key, None)
        document = {"data": {"type": "profile", "id": profile_id,
                             "attributes": {"email": self.profiles[profile_id]["email"],
                                            "properties": properties}}}
        return json_response(document, 201 if created else 200)

    def _get_profiles(self, request: Request, body: Any) -> Response:
        match = re.fullmatch(r"any\(email,\[(.*)\]\)", request.args.get("filter", ""))
        if not match:
            return error(400, "invalid", "Invalid filter.", "Unsupported filter",
                         parameter="filter")
        emails = [e.strip().lower() for e in json.loads(f"[{match.group(1)}]")]
        if len(emails) > 100:
            return error(400, "invalid", "Invalid filter.", "Too many values", parameter="filter")
        found = [
            {"type": "profile", "id": self.profile_ids_by_email[email],
             "attributes": {"email": email}}
            for email in emails if email in self.profile_ids_by_email
        ]
        return self._page(request, found)

    # ------------------------------------------------------------------ bulk jobs

    def _create_job(self, request: Request, body: Any) -> Response:
        data = body["data"]
        profiles = data["attributes"]["profiles"]["data"]
        if len(profiles) > MAX_JOB_PROFILES:
            return error(400, "invalid", "Invalid input.",
                         "A bulk import job accepts at most 10000 profiles.",
                         pointer="/data/attributes/profiles/data")
        job_id = uuid.uuid4().hex
        lists = ((data.get("relationships") or {}).get("lists") or {}).get("data") or []
        self.jobs[job_id] = {"status": "queued", "profiles": profiles, "errors": [],
                             "list_ids": [item["id"] for item in lists], "polls": 0}
        return json_response({"data": self._job_resource(job_id)}, 202)

    def _job_resource(self, job_id: str) -> dict[str, Any]:
        job = self.jobs[job_id]
        done = job["status"] == "complete"
        total = len(job["profiles"])
        failed = len(job["errors"])
        return {"type": "profile-bulk-import-job", "id": job_id,
                "attributes": {"status": job["status"], "total_count": total,
                               "completed_count": total - failed if done else 0,
                               "failed_count": failed}}

    def _get_job(self, request: Request, body: Any, job_id: str) -> Response:
        job = self.jobs.get(job_id)
        if job is None:
            return error(404, "not_found", "Not found", "No such job.")
        job["polls"] += 1
        if job["status"] == "queued":
            job["status"] = "processing"
        if job["status"] == "processing" and job["polls"] == self.polls_before_complete:
            self._process(job)
        return json_response({"data": self._job_resource(job_id)})

    def _process(self, job: dict[str, Any]) -> None:
        """Run a job the first time it is polled: upsert valid profiles, record the rest."""
        for index, resource in enumerate(job["profiles"]):
            attributes = resource.get("attributes") or {}
            email = attributes.get("email") or ""
            if not EMAIL_PATTERN.match(email) or email.lower() in self.invalid_emails:
                job["errors"].append({
                    "type": "import-error", "id": uuid.uuid4().hex,
                    "attributes": {"code": "invalid", "title": "Invalid input.",
                                   "detail": "Invalid email address",
                                   "source": {"pointer": f"/data/attributes/profiles/data/{index}"},
                                   "original_payload": {"email": email}},
                })
                continue
            # Bulk import cannot clear a field with null: nulls are ignored.
            profile_id, _ = self._upsert(attributes, clear_nulls=False)
            for list_id in job["list_ids"]:
                if list_id in self.lists:
                    self.lists[list_id]["members"].add(profile_id)
        job["status"] = "complete"

    def _job_errors(self, request: Request, body: Any, job_id: str) -> Response:
        job = self.jobs.get(job_id)
        if job is None:
            return error(404, "not_found", "Not found", "No such job.")
        return self._page(request, job["errors"])

    # ------------------------------------------------------------------ lists

    def _lists(self, request: Request, body: Any) -> Response:
        if request.method == "POST":
            name = body["data"]["attributes"]["name"]
            list_id = uuid.uuid4().hex[:6]
            self.lists[list_id] = {"name": name, "members": set()}
            return json_response({"data": {"type": "list", "id": list_id,
                                           "attributes": {"name": name}}}, 201)
        wanted = None
        match = re.fullmatch(r"equals\(name,(\".*\")\)", request.args.get("filter", ""))
        if match:
            wanted = json.loads(match.group(1))
        found = [{"type": "list", "id": list_id, "attributes": {"name": record["name"]}}
                 for list_id, record in self.lists.items()
                 if wanted is None or record["name"] == wanted]
        return self._page(request, found, max_size=10)

    def _list_profiles(self, request: Request, body: Any, list_id: str) -> Response:
        record = self.lists.get(list_id)
        if record is None:
            return error(404, "not_found", "Not found", "No such list.")
        ids = [item["id"] for item in body["data"]]
        if len(ids) > MAX_RELATIONSHIP_IDS:
            return error(400, "invalid", "Invalid input.", "At most 1000 profiles per call.",
                         pointer="/data")
        unknown = [pid for pid in ids if pid not in self.profiles]
        if unknown:
            return error(404, "not_found", "Not found", f"Unknown profile {unknown[0]}")
        if request.method == "POST":
            record["members"].update(ids)
        else:
            record["members"].difference_update(ids)
        return Response(status=204)

    # ------------------------------------------------------------------ paging

    def _page(self, request: Request, items: list[Any], max_size: int = 100) -> Response:
        size = int(request.args.get("page[size]", 20 if max_size == 100 else 10))
        if not 1 <= size <= max_size:
            return error(400, "invalid", "Invalid page size.", "page[size] out of range",
                         parameter="page[size]")
        offset = int(request.args.get("page[cursor]", "0") or 0)
        links: dict[str, Any] = {"self": request.url, "next": None}
        if offset + size < len(items):
            params = {**request.args.to_dict(), "page[cursor]": str(offset + size)}
            links["next"] = f"{request.base_url}?{urlencode(params)}"
        return json_response({"data": items[offset : offset + size], "links": links})


def json_response(document: Any, status: int = 200) -> Response:
    """Answer with a JSON:API document (the dispatcher adds the rate-limit headers)."""
    return Response(json.dumps(document), status=status, mimetype=JSON_API)


def error(status: int, code: str, title: str, detail: str, *, pointer: str | None = None,
          parameter: str | None = None) -> Response:
    """Answer with Klaviyo's error shape: ``{"errors": [{id, status, code, title, ...}]}``."""
    source: dict[str, Any] = {}
    if pointer:
        source["pointer"] = pointer
    if parameter:
        source["parameter"] = parameter
    body = {"errors": [{"id": str(uuid.uuid4()), "status": status, "code": code, "title": title,
                        "detail": detail, "source": source, "meta": {}}]}
    return Response(json.dumps(body), status=status, mimetype=JSON_API)
