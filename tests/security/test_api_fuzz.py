"""schemathesis against our own OpenAPI document: every operation, generated input.

Two passes, both bounded and run on SQLite and on PostgreSQL (CI runs the suite on both):

- generated: for each operation, ``FUZZ_EXAMPLES`` generated requests (valid and invalid)
  with a manager's token must never answer 5xx, must answer JSON, and every documented
  answer (including the error envelope) must match its schema;
- malformed: for each operation, one valid request is bent the ways an attacker or a
  broken client would (a NUL character in every query value, path value and JSON string,
  a multipart body without a boundary, JSON nested past the recursion limit, bodies in
  the wrong content type). None may be a 5xx; all but the wrong content types are 4xx
  in the envelope. Generation alone rarely produces these (a NUL is one character among
  a million), yet PostgreSQL refuses NUL in text with a 500.

Operations are walked in one test per pass so the app, its data and the token are built
once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, urlencode

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from app.extensions import db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
CHECKS = (not_a_server_error, content_type_conformance, response_schema_conformance)
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
NUL = "\x00"
FORM = "application/x-www-form-urlencoded"


def _settings(examples: int) -> Callable[[Any], Any]:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
    )


def _operations(app) -> Iterator[Any]:
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    for result in schema.get_all_operations():
        yield result.ok()


def test_every_operation_survives_generated_input(app, manager, token_headers, make_customer):
    make_customer()
    headers = token_headers(manager)
    failures: list[str] = []
    operations = 0
    for operation in _operations(app):
        operations += 1

        @given(case=operation.as_strategy())
        @_settings(EXAMPLES)
        def run(case) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report all
            failures.append(f"{operation.label}: {str(exc)[:600]}")
    assert operations >= 10
    assert not failures, "\n\n".join(failures)


# --- malformed requests ----------------------------------------------------------------


def _valid_case(operation) -> Any:
    """One schema-valid request for the operation (deterministic)."""
    drawn: list[Any] = []

    @given(case=operation.as_strategy(GenerationMode.POSITIVE))
    @_settings(1)
    def draw(case) -> None:
        drawn.append(case)

    draw()
    return drawn[0]


def _with_nul(value: Any, *, in_keys: bool = False) -> Any:
    """Every string value (or every object key) in a JSON value, with a NUL in it."""
    if isinstance(value, str):
        return value if in_keys else value + NUL
    if isinstance(value, list):
        return [_with_nul(v, in_keys=in_keys) for v in value]
    if isinstance(value, dict):
        return {
            (k + NUL if in_keys else k): _with_nul(v, in_keys=in_keys) for k, v in value.items()
        }
    return value


def _has_string(value: Any) -> bool:
    if isinstance(value, str):
        return True
    if isinstance(value, list):
        return any(_has_string(v) for v in value)
    if isinstance(value, dict):
        return bool(value)
    return False


def _url(operation, path_parameters: dict[str, Any], query: dict[str, Any]) -> str:
    path = operation.path
    for name, value in path_parameters.items():
        path = path.replace("{" + name + "}", quote(str(value), safe=""))
    return path + ("?" + urlencode(query, doseq=True) if query else "")


# Refused centrally: always a 4xx in the envelope, whatever the operation.
MUST_BE_4XX = (
    "NUL",
    "multipart without a boundary",
    "multipart with an empty boundary",
    "JSON nested too deeply",
)
WRONG_CONTENT_TYPES = (
    "text/plain",
    "application/xml",
    "application/x-www-form-urlencoded",
    "application/octet-stream",
    "multipart/form-data; boundary=zz",
)
NUL_FIELD = b'--zz\r\nContent-Disposition: form-data; name="name"\r\n\r\na\x00b\r\n--zz--\r\n'


def _malformed(operation, case) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(label, url, test-client keyword arguments) for each bent request."""
    path_parameters = dict(case.path_parameters or {})
    query = {k: v for k, v in (case.query or {}).items() if v is not None}
    url = _url(operation, path_parameters, query)
    for name in [p.name for p in operation.query] or ["q"]:
        yield f"NUL in query arg {name}", _url(operation, path_parameters, {name: "a" + NUL}), {}
    if path_parameters:
        bent_path = {k: f"{v}{NUL}" for k, v in path_parameters.items()}
        yield "NUL in the path", _url(operation, bent_path, query), {}
    if operation.method.upper() not in BODY_METHODS:
        return
    body = case.body if isinstance(case.body, (dict, list)) else None
    json_body = json.dumps(body if body is not None else {"name": "x"}).encode()
    if body is not None and _has_string(body):
        for in_keys, where in ((False, "strings"), (True, "keys")):
            bent = json.dumps(_with_nul(body, in_keys=in_keys)).encode()
            if bent != json.dumps(body).encode():
                yield (
                    f"NUL in JSON {where}",
                    url,
                    {"data": bent, "content_type": "application/json"},
                )
    yield "NUL in a form field", url, {"data": NUL_FIELD, "content_type": WRONG_CONTENT_TYPES[-1]}
    yield "NUL in a urlencoded field", url, {"data": b"name=a%00b", "content_type": FORM}
    for label, content_type in (
        ("multipart without a boundary", "multipart/form-data"),
        ("multipart with an empty boundary", "multipart/form-data; boundary="),
    ):
        yield label, url, {"data": b"--x\r\n\r\nv\r\n--x--\r\n", "content_type": content_type}
    for content_type in WRONG_CONTENT_TYPES:
        yield f"JSON sent as {content_type}", url, {"data": json_body, "content_type": content_type}
    yield "JSON with a raw NUL", url, {"data": b'{"a\x00": 1}', "content_type": "application/json"}
    deep = b"[" * 5000 + b"]" * 5000  # valid JSON, past Python's recursion limit
    yield "JSON nested too deeply", url, {"data": deep, "content_type": "application/json"}


def test_malformed_requests_are_4xx_never_5xx(app, client, manager, token_headers, make_customer):
    make_customer()
    headers = token_headers(manager)
    failures: list[str] = []
    requests = 0
    for operation in _operations(app):
        case = _valid_case(operation)
        for label, url, kwargs in _malformed(operation, case):
            requests += 1
            response = client.open(url, method=operation.method.upper(), headers=headers, **kwargs)
            db.session.rollback()  # the test's app context outlives requests: no cascade
            error = (response.get_json(silent=True) or {}).get("error")
            strict = label.startswith(MUST_BE_4XX)
            if response.status_code >= 500 or (
                strict and not (400 <= response.status_code < 500 and error)
            ):
                failures.append(
                    f"{operation.label} ({label}): {response.status_code} "
                    f"{response.get_data(as_text=True)[:120]!r}"
                )
    assert requests >= 50
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures)
