"""Klaviyo API facts: base URL, pinned revision, header names and documented limits.

Source: developers.klaviyo.com (API overview, Bulk Profile Import, Lists) as summarised in
../shared/contracts/README.md, "Klaviyo".
"""

DEFAULT_BASE_URL = "https://a.klaviyo.com"
# Every request must carry a revision; pin the one our spec fixture was published for.
REVISION = "2026-07-15"

AUTHORIZATION_HEADER = "Authorization"
AUTHORIZATION_SCHEME = "Klaviyo-API-Key"
REVISION_HEADER = "revision"
JSON_API_MEDIA_TYPE = "application/vnd.api+json"

PRIVATE_KEY_PREFIX = "pk_"

# Bulk profile import: at most 10,000 profiles and 5 MB of JSON per job.
BULK_IMPORT_MAX_PROFILES = 10_000
BULK_IMPORT_MAX_BYTES = 5 * 1024 * 1024
# List relationship calls take at most 1,000 profile ids.
LIST_RELATIONSHIP_MAX_IDS = 1_000
# GET /api/profiles pages hold at most 100; a filter of 100 emails fits one page.
PROFILE_LOOKUP_PAGE_SIZE = 100
IMPORT_ERRORS_PAGE_SIZE = 100
# GET /api/lists pages hold at most 10.
LIST_PAGE_SIZE = 10

JOB_STATUS_COMPLETE = "complete"
JOB_STATUS_CANCELLED = "cancelled"
JOB_FINISHED_STATUSES = frozenset({JOB_STATUS_COMPLETE, JOB_STATUS_CANCELLED})

# Profile property names written by Tagwise (namespaced so they never collide with a
# merchant's own properties).
PROPERTY_SEGMENTS = "tagwise_segments"
PROPERTY_PREFIX = "tagwise_"

# Rate limits per endpoint, per account (fixed windows: burst per second, steady per minute),
# from the operations' ``x-klaviyo-ratelimit`` in specs/klaviyo/stable.json (revision
# 2026-07-15) and developers.klaviyo.com "Rate limits, status codes, and errors". Only the
# burst is needed here: the steady window's state comes back on every non-429 answer in
# RateLimit-Limit / RateLimit-Remaining / RateLimit-Reset, and a 429 carries Retry-After.
RATE_LIMIT_REMAINING_HEADER = "RateLimit-Remaining"
RATE_LIMIT_RESET_HEADER = "RateLimit-Reset"
RATE_LIMIT_LIMIT_HEADER = "RateLimit-Limit"
# (method, path pattern) -> (bucket name, burst per second, steady per minute)
RATE_LIMITS: tuple[tuple[str, str, str, int, int], ...] = (
    ("POST", r"/api/profile-import", "profile-import", 75, 750),
    ("GET", r"/api/profiles", "profiles-read", 75, 750),
    ("POST", r"/api/profile-bulk-import-jobs", "bulk-import-jobs", 10, 150),
    ("GET", r"/api/profile-bulk-import-jobs/[^/]+", "bulk-import-jobs-read", 10, 150),
    ("GET", r"/api/profile-bulk-import-jobs/[^/]+/import-errors", "bulk-import-errors", 10, 150),
    ("GET", r"/api/lists", "lists-read", 75, 750),
    ("POST", r"/api/lists", "lists-create", 10, 150),
    ("POST", r"/api/lists/[^/]+/relationships/profiles", "list-members-add", 10, 150),
    ("DELETE", r"/api/lists/[^/]+/relationships/profiles", "list-members-remove", 10, 150),
)
# Klaviyo's smallest published tier (XS) for anything not in the table.
DEFAULT_RATE_LIMIT = ("other", 1, 15)
