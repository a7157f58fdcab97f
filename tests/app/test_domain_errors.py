"""Services raise the core's domain errors (``app.errors``); only the HTTP boundary (the
modules that define routes, and the request guards around them) uses the API's own
``ApiError`` and its helpers, and maps domain errors to the envelope or a flash."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from app.errors import Conflict, Invalid, NotFound, ProviderFailed, invalid, unknown

ROOT = Path(__file__).resolve().parents[2]
API_ONLY = {"ApiError", "validation_error", "not_found"}
#: Boundary modules without routes of their own: the guards every request goes through.
GUARDS = {"app/auth/access.py", "app/request_guards.py"}
ROUTE = re.compile(r"Blueprint\(|@\w+\.(?:route|get|post|put|patch|delete)\(")


def _modules() -> list[Path]:
    found: list[Path] = []
    for top in ("app", "blueprints", "providers", "plugins"):
        found += (ROOT / top).rglob("*.py")
    return [p for p in found if "app/api/" not in p.relative_to(ROOT).as_posix()]


def _imports_api_errors(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "app.api.errors":
            names |= {alias.name for alias in node.names} & API_ONLY
    return names


def test_only_the_http_boundary_raises_api_errors():
    offenders = []
    for path in _modules():
        source = path.read_text()
        used = _imports_api_errors(ast.parse(source))
        relative = path.relative_to(ROOT).as_posix()
        routes = ROUTE.search(source) is not None or relative in GUARDS
        if used and not routes:
            offenders.append(f"{relative}: {', '.join(sorted(used))}")
    assert not offenders, "services importing the API's errors:\n" + "\n".join(offenders)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (invalid({"name": "required"}), 422, "validation_error"),
        (unknown("customer", field="customerId"), 422, "validation_error"),
        (unknown("customer"), 404, "not_found"),
        (Conflict("already sent", code="not_flagged"), 409, "not_flagged"),
        (ProviderFailed("Mailchimp did not answer"), 502, "provider_error"),
    ],
)
def test_domain_errors_carry_what_the_boundary_answers(error, status, code):
    assert (error.status, error.code) == (status, code)
    assert isinstance(error, Invalid | NotFound | Conflict | ProviderFailed)


def test_a_service_refusal_is_the_api_envelope_at_the_boundary(client, token_headers, manager):
    """A service's domain error reaches the client as the envelope (an unknown template
    type is refused by the templates service)."""
    r = client.post(
        "/api/sales/marketing/templates",
        json={"type": "fax", "name": "x", "body": "y"},
        headers=token_headers(manager),
    )
    assert r.status_code == 422
    assert r.get_json()["error"]["code"] == "validation_error"
    assert "type" in r.get_json()["error"]["fields"]
