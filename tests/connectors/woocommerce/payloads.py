"""Load the captured WooCommerce payloads (``fixtures/`` beside this file) as they are."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ORDER_CREATED = "order_created__docs_example.json"
CUSTOMER_CREATED = "customer_created__docs_example.json"
HEADERS_EXAMPLE = "headers__real_log_issue28329.txt"
PING_REQUEST = "ping__derived_from_source.txt"


def fixture_bytes(name: str) -> bytes:
    """Return a fixture file's exact bytes."""
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> dict[str, Any]:
    """Return a JSON fixture, parsed."""
    return json.loads(fixture_bytes(name))


def header_lines(name: str) -> dict[str, str]:
    """Return the ``Name: value`` lines of a headers fixture (comments skipped)."""
    headers = {}
    for line in fixture_bytes(name).decode().splitlines():
        if line and not line.startswith("#") and ": " in line:
            key, value = line.split(": ", 1)
            headers[key] = value
    return headers


def request_body(name: str) -> bytes:
    """Return the body of a raw request fixture: what follows the first blank line."""
    text = fixture_bytes(name)
    _, _, body = text.partition(b"\n\n")
    return body.strip(b"\n")
