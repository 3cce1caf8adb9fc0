"""Strict request input: JSON bodies checked against the OpenAPI document, paging arguments.

Each problem is a precise 4xx in the one error shape: 415 wrong content type, 413 oversized,
400 invalid JSON, a body that breaks its schema (wrong type, unknown or missing field), or a
bad query argument. Nothing reaches a service function unchecked.
"""

from __future__ import annotations

import json
from typing import Any

from flask import request

from app.services.serialise import DEFAULT_PER_PAGE, MAX_PER_PAGE
from app.web.api.openapi import request_validator
from app.web.errors import ApiError

API_MAX_BODY_BYTES = 64 * 1024
MAX_PAGE = 100_000
MAX_QUERY_CHARS = 320


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _number(text: str) -> float | int:
    # JSON Schema counts 2.0 as an integer, so the code behind the schema must read it as 2.
    value = float(text)
    return int(value) if value.is_integer() else value


def _check_text(value: Any, where: str) -> None:
    """Refuse strings the database cannot store: NUL characters and lone surrogates."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, where)
            _check_text(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_text(item, f"{where}[{index}]")
    elif isinstance(value, str):
        if "\x00" in value:
            raise ApiError(400, "invalid_text", f"{where}: NUL characters are not allowed")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ApiError(400, "invalid_text", f"{where}: not valid Unicode text") from exc


def json_body(schema: str) -> dict[str, Any]:
    """The request's JSON object, valid against ``components.schemas[schema]`` of the API doc."""
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    if (request.content_length or 0) > API_MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large", f"a body is at most {API_MAX_BODY_BYTES} bytes")
    raw = request.stream.read(API_MAX_BODY_BYTES + 1)
    if len(raw) > API_MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large", f"a body is at most {API_MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant,
                          parse_float=_number)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from exc
    _check_text(data, "body")
    errors = sorted(request_validator(schema).iter_errors(data),
                    key=lambda e: (len(e.absolute_path), e.message))
    if errors:
        error = errors[0]
        where = ".".join(str(p) for p in error.absolute_path) or "body"
        raise ApiError(400, "invalid_body", f"{where}: {error.message}")
    return data


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    text = request.args.get(name)
    if text is None:
        return default
    if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        raise ApiError(400, "invalid_argument", f"{name} must be a whole number from {low} to "
                                                f"{high}")
    return int(text)


def page_args() -> tuple[int, int]:
    """``?page=`` (from 1) and ``?per_page=`` checked against their bounds."""
    return (_int_arg("page", 1, 1, MAX_PAGE),
            _int_arg("per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE))


def query_text(name: str) -> str:
    """A free-text query argument (empty when absent), bounded and free of NUL characters."""
    text = request.args.get(name, "")
    if len(text) > MAX_QUERY_CHARS:
        raise ApiError(400, "invalid_argument", f"{name} is at most {MAX_QUERY_CHARS} characters")
    _check_text(text, name)
    return text
