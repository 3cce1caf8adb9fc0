"""Validate request bodies against a vendor's OpenAPI 3.0 document with jsonschema.

OpenAPI 3.0 schemas are not quite JSON Schema: ``nullable: true`` stands for "or null", and a
``$ref`` ignores its sibling keywords. :func:`to_json_schema` rewrites both so that a
Draft 2020-12 validator reads them as the spec means them; ``$ref`` pointers into
``#/components`` keep resolving because the converted components travel with each schema.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

REPO_ROOT = Path(__file__).resolve().parents[2]
KLAVIYO_SPEC_PATH = REPO_ROOT / "tests" / "connectors" / "klaviyo" / "fixtures" / "stable.json"
# The Mailchimp spec carries no licence of its own, so it is read from the shared folder next
# to the repository and never committed (see ../shared/contracts/README.md, "Mailchimp").
MAILCHIMP_SPEC_PATH = (
    REPO_ROOT.parent / "shared" / "contracts" / "specs" / "mailchimp"
    / "mailchimp-marketing-openapi-3.0.55.json"
)
MAILCHIMP_SPEC_CANDIDATES = (
    MAILCHIMP_SPEC_PATH,
    # A git worktree sits one level deeper (/work/wt/<branch>); look beside the main checkout too.
    REPO_ROOT.parent.parent / "shared" / "contracts" / "specs" / "mailchimp"
    / "mailchimp-marketing-openapi-3.0.55.json",
)


class SpecViolation(AssertionError):
    """A request body that the vendor's OpenAPI document does not allow."""


def to_json_schema(node: Any) -> Any:
    """Rewrite an OpenAPI 3.0 schema tree into JSON Schema 2020-12 (nullable, $ref siblings)."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        # OpenAPI 3.0: everything beside a $ref is ignored, except that specs often put
        # nullable there; honour that one so a documented null is accepted.
        ref = {"$ref": node["$ref"]}
        return {"anyOf": [ref, {"type": "null"}]} if node.get("nullable") else ref
    converted = {key: to_json_schema(value) for key, value in node.items()
                 if key not in ("nullable", "discriminator", "example", "x-value")}
    if node.get("nullable"):
        if isinstance(converted.get("type"), str):
            converted["type"] = [converted["type"], "null"]
            if "enum" in converted:
                converted["enum"] = [*converted["enum"], None]
        else:
            converted = {"anyOf": [converted, {"type": "null"}]}
    return converted


class OpenApiSpec:
    """One vendor OpenAPI document: find an operation by method and concrete path."""

    def __init__(self, document: dict[str, Any]):
        self.document = document
        self.components = to_json_schema(document.get("components", {}))
        self._routes = [
            (self._path_pattern(template), template) for template in document["paths"]
        ]
        # Literal templates first, so /lists/{id}/segments never matches /lists/{list_id}.
        self._routes.sort(key=lambda route: route[1].count("{"))

    @staticmethod
    def _path_pattern(template: str) -> re.Pattern[str]:
        parts = re.split(r"(\{[^}]+\})", template)
        regex = "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)
        return re.compile(f"^{regex}$")

    def match_path(self, path: str) -> str:
        """Return the spec's path template for a concrete request path."""
        path = path.split("?", 1)[0]
        for pattern, template in self._routes:
            if pattern.match(path):
                return template
        raise SpecViolation(f"no path in the spec matches {path}")

    def request_schema(self, method: str, path: str) -> dict[str, Any] | None:
        """Return the JSON Schema of the request body for ``method path`` (None if bodiless)."""
        template = self.match_path(path)
        operation = self.document["paths"][template].get(method.lower())
        if operation is None:
            raise SpecViolation(f"{method.upper()} is not an operation of {template}")
        body = operation.get("requestBody")
        if body is None:
            return None
        if "$ref" in body:
            body = self._resolve(body["$ref"])
        content = body.get("content", {})
        media = next(iter(content.values()), {})
        schema = to_json_schema(media.get("schema", {}))
        return {**schema, "components": self.components}

    def _resolve(self, pointer: str) -> Any:
        node: Any = self.document
        for part in pointer.lstrip("#/").split("/"):
            node = node[part]
        return node

    def validate_request(self, method: str, path: str, body: Any) -> None:
        """Raise :class:`SpecViolation` listing every way ``body`` breaks the spec."""
        schema = self.request_schema(method, path)
        if schema is None:
            if body not in (None, b"", ""):
                raise SpecViolation(f"{method} {path} takes no body")
            return
        validator = Draft202012Validator(schema)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            lines = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}"
                     for e in errors[:10]]
            raise SpecViolation(f"{method} {path} body violates the spec:\n" + "\n".join(lines))


@lru_cache(maxsize=4)
def load_spec(path: str) -> OpenApiSpec:
    """Load and cache the OpenAPI document at ``path``."""
    return OpenApiSpec(json.loads(Path(path).read_text(encoding="utf-8")))


def klaviyo_spec() -> OpenApiSpec:
    """Return Klaviyo's stable OpenAPI document (revision 2026-07-15, MIT, vendored)."""
    return load_spec(str(KLAVIYO_SPEC_PATH))


def mailchimp_spec_path() -> Path | None:
    """Return where the shared Mailchimp spec lives, or None when it is not available."""
    return next((path for path in MAILCHIMP_SPEC_CANDIDATES if path.is_file()), None)


def mailchimp_spec() -> OpenApiSpec | None:
    """Return Mailchimp's OpenAPI document from ../shared, or None when it is absent."""
    path = mailchimp_spec_path()
    return load_spec(str(path)) if path else None
