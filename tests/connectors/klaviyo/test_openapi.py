"""The spec helper itself: it must reject what the vendor spec rejects, and only that."""

from __future__ import annotations

import pytest

from tests.connectors.openapi import SpecViolation, klaviyo_spec, to_json_schema


def test_templated_paths_match_the_most_specific_operation():
    spec = klaviyo_spec()

    assert spec.match_path("/api/lists/Xy12/relationships/profiles") == (
        "/api/lists/{id}/relationships/profiles")
    assert spec.match_path("/api/profile-bulk-import-jobs/abc?x=1") == (
        "/api/profile-bulk-import-jobs/{job_id}")


def test_wrong_resource_type_and_missing_data_are_violations():
    spec = klaviyo_spec()

    with pytest.raises(SpecViolation, match="data/type"):
        spec.validate_request("POST", "/api/profile-import",
                              {"data": {"type": "profiles", "attributes": {"email": "a@b.co"}}})
    with pytest.raises(SpecViolation, match="'data' is a required property"):
        spec.validate_request("POST", "/api/lists", {"name": "x"})


def test_nullable_fields_accept_null_through_refs_too():
    spec = klaviyo_spec()
    body = {"data": {"type": "profile", "attributes": {"email": None, "location": None},
                     "meta": {"patch_properties": None}}}

    spec.validate_request("POST", "/api/profile-import", body)


def test_nullable_conversion_keeps_enums_and_refs_meaningful():
    schema = to_json_schema({"type": "string", "enum": ["a"], "nullable": True})
    ref = to_json_schema({"$ref": "#/components/schemas/X", "nullable": True, "description": "d"})

    assert schema == {"type": ["string", "null"], "enum": ["a", None]}
    assert ref == {"anyOf": [{"$ref": "#/components/schemas/X"}, {"type": "null"}]}


def test_unknown_operation_is_a_violation():
    with pytest.raises(SpecViolation):
        klaviyo_spec().validate_request("PUT", "/api/profile-import", {})
