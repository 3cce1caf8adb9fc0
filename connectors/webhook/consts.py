"""The wire contract of outgoing webhooks (documented in this folder's README.md)."""

SIGNATURE_HEADER = "Tagwise-Signature"  # "v1=" + hex HMAC-SHA256(secret, f"{timestamp}." + body)
TIMESTAMP_HEADER = "Tagwise-Timestamp"  # Unix seconds when this attempt was signed
IDEMPOTENCY_HEADER = "Idempotency-Key"  # one per change batch, the same on every retry
EVENT_HEADER = "Tagwise-Event"
SIGNATURE_VERSION = "v1"
EVENT_SEGMENTS_CHANGED = "segments.changed"
USER_AGENT = "Tagwise-Webhooks/1"
CONTENT_TYPE = "application/json"
# Customers per POST: a batch stays far below the request size limits of Zapier/Make (~5-10 MB).
CHANGES_PER_DELIVERY = 100
# Receivers should refuse signatures older than this (the snippet in README.md does).
SIGNATURE_TOLERANCE_SECONDS = 300
