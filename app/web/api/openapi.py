"""The API's OpenAPI 3.1 document (``app/openapi.json``): served as is, and the source of the
request-body schemas the endpoints validate against, so the document and the checks agree."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from flask import current_app, jsonify
from jsonschema import Draft202012Validator

from app.web.api import bp
from connectors.registry import DESTINATIONS

DOCUMENT = Path(__file__).resolve().parents[2] / "openapi.json"


@cache
def document() -> dict[str, Any]:
    """The parsed OpenAPI document, destination kinds filled in from the registry."""
    parsed = json.loads(DOCUMENT.read_text())
    kind = parsed["components"]["schemas"]["Destination"]["properties"]["kind"]
    kind["enum"] = list(DESTINATIONS)
    return parsed


@cache
def request_validator(schema: str) -> Draft202012Validator:
    """A validator for ``components.schemas[schema]`` (its ``$ref``s resolve in the document)."""
    root = {"$ref": f"#/components/schemas/{schema}", "components": document()["components"]}
    return Draft202012Validator(root)


@cache
def query_parameters(method: str, rule: str) -> frozenset[str]:
    """The query arguments documented for a route (``rule`` as Flask writes it)."""
    path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.removeprefix(bp.url_prefix))
    operation = document()["paths"].get(path, {}).get(method.lower(), {})
    return frozenset(p["name"] for p in operation.get("parameters", []) if p["in"] == "query")


@bp.get("/openapi.json")
def openapi_document():
    """The document, with the server URL of this deployment (no token needed)."""
    served = dict(document())
    served["servers"] = [{"url": current_app.config["APP_URL"].rstrip("/") + bp.url_prefix}]
    return jsonify(served)
