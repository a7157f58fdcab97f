"""schemathesis against our own OpenAPI document: every operation, generated input.

For each operation, a bounded number of generated requests (valid and invalid) with a
manager's token must never answer 5xx, must answer JSON, and every documented answer
(including the error envelope) must match its schema. Operations are walked in one test
so the app, its data and the token are built once.
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
CHECKS = (not_a_server_error, content_type_conformance, response_schema_conformance)


def test_every_operation_survives_generated_input(app, manager, token_headers, make_customer):
    make_customer()
    headers = token_headers(manager)
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report all
            failures.append(f"{operation.label}: {str(exc)[:600]}")
    assert operations >= 10
    assert not failures, "\n\n".join(failures)
