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
