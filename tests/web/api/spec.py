"""Check real API answers against the response schemas of the served OpenAPI document."""

from __future__ import annotations

from jsonschema import Draft202012Validator

from app.web.api.openapi import document


def assert_conforms(response, method: str, path: str) -> None:
    """The response's status is documented for the operation and its JSON body fits the schema."""
    operation = document()["paths"][path][method.lower()]
    declared = operation["responses"].get(str(response.status_code))
    assert declared is not None, f"{method} {path} answered undocumented {response.status_code}"
    schema = declared["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**schema, "components": document()["components"]})
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(response.json)]
    assert not errors, f"{method} {path} {response.status_code}: {errors}"
