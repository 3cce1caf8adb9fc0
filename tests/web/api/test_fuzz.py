"""Schemathesis fuzzes every /api/v1 operation in-process against a store with real data.

Valid and invalid requests generated from the OpenAPI document must never answer 500, must
answer only documented statuses and content types, and each answer must fit its schema;
invalid input must be refused with a 4xx.
"""

from __future__ import annotations

import copy

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from app.web.api.openapi import document
from tests.conftest import API_TOKEN
from tests.seeding import CUSTOMER_ID, add_store, rescore, seed_orders

EXAMPLES_PER_MODE = 100  # about 30 s for both modes on a shared 2-core machine
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def steered(store_id: int, destination_id: int) -> dict:
    """The document with path values drawn from the seeded store (and a missing one of most
    kinds) and rules that compile (negative mode breaks them), so requests reach the code
    behind the 404s and 422s. Other stores' 404s and the rule language have their own tests."""
    doc = copy.deepcopy(document())
    values = {"store_id": [store_id],
              "destination_id": [destination_id, destination_id + 1000],
              "key": ["regulars", "champions", "category-hats", "missing"],
              "platform_customer_id": [str(CUSTOMER_ID), "7001", "0"],
              "export_id": [1, 1000], "run_id": [1, 1000]}
    for name in ("SegmentCreate", "SegmentUpdate", "PreviewRequest"):
        doc["components"]["schemas"][name]["properties"]["rule"] = {"enum": [
            "orders_count >= 2", "has_email and net_spent > 50",
            "rfm_group in ['champions', 'loyal']"]}
    for operations in doc["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    parameter["schema"] = {**parameter["schema"],
                                           "enum": values[parameter["name"]]}
    return doc


def test_the_api_survives_fuzzing_against_its_own_spec(app, client, shop):
    store_id = add_store(app, shop)
    seed_orders(client, app)
    rescore(app, store_id)
    client.post(f"/api/v1/stores/{store_id}/segments", json={
        "key": "regulars", "rule": "orders_count >= 2"},
        headers={"Authorization": f"Bearer {API_TOKEN}"})
    destination_id = client.get(f"/api/v1/stores/{store_id}/destinations", headers={
        "Authorization": f"Bearer {API_TOKEN}"}).json["destinations"][0]["id"]
    schema = schemathesis.openapi.from_dict(steered(store_id, destination_id))
    schema.app = app
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    statuses: dict[str, set[int]] = {}

    def exercise(case, checks) -> None:
        response = case.call_and_validate(headers=headers, checks=checks)
        statuses.setdefault(f"{case.method} {case.path}", set()).add(response.status_code)

    @settings(max_examples=EXAMPLES_PER_MODE, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=schema.as_strategy(GenerationMode.POSITIVE))
    def valid_requests(case) -> None:
        exercise(case, CHECKS)

    @settings(max_examples=EXAMPLES_PER_MODE, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=schema.as_strategy(GenerationMode.NEGATIVE))
    def invalid_requests(case) -> None:
        exercise(case, [*CHECKS, negative_data_rejection])

    valid_requests()
    invalid_requests()
    reached = {op for op, codes in statuses.items() if codes & {200, 201}}
    assert len(reached) >= 14, sorted(statuses.items())  # real answers from nearly all
