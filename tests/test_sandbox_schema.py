"""Schemathesis fuzzes every API operation of the sandbox's OpenAPI document with a valid token, in each profile:
no generated request may get a 500, and every answer must match the schema it is documented with.

Bounded and repeatable: a fixed number of examples per operation, derandomized (the same requests every run).
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.sandbox_fixtures import Sandbox

EXAMPLES = 15  # per operation and profile
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_every_api_route_is_documented_with_schemas(any_sandbox: Sandbox) -> None:
    document = requests.get(f"{any_sandbox.root}/_sandbox/openapi.json", timeout=10).json()
    assert not [path for path in document["paths"] if path.startswith("/_sandbox")]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            ok = [code for code in responses if code.startswith("2")]
            assert ok and "content" in responses[ok[0]], (method, path)
            assert {"400", "401", "404"} <= set(responses) or path == "/oauth/token", (method, path)
            if method in ("post", "patch") and "{" not in path.split("/")[-2]:
                assert "requestBody" in operation or path.endswith("/credits/") or "eth-managed" in path, path


def test_fuzzing_finds_no_server_error_and_no_schema_mismatch(any_sandbox: Sandbox) -> None:
    schema = schemathesis.openapi.from_url(f"{any_sandbox.root}/_sandbox/openapi.json")
    tenant = any_sandbox.new_client()
    headers = {"Authorization": f"Bearer {any_sandbox.token(tenant['client_id'], tenant['client_secret'])}"}
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            case.call_and_validate(base_url=any_sandbox.root, headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # collect, so one run reports every operation that fails
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("path", ["/_sandbox/openapi.json", "/_sandbox/docs"])
def test_documentation_is_served(any_sandbox: Sandbox, path: str) -> None:
    assert requests.get(any_sandbox.root + path, timeout=10).status_code == 200
