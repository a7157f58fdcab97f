"""Request validation and the OpenAPI document, from the same pydantic models.

spectree validates each decorated route's query and JSON body against pydantic v2 models
and generates the OpenAPI 3.1 document from those same models. Its default 422 body is
replaced by our envelope (raised from the ``before`` hook), and the document is served at
``/api/openapi.json`` by the core rather than by spectree's own routes.
"""

from __future__ import annotations

import copy
import inspect
import re
from typing import Any, TypeAlias

import flask
from flask import Flask
from pydantic import AliasGenerator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from spectree import Response, SecurityScheme, SpecTree
from spectree.model_adapter.pydantic_adapter import PydanticModelAdapter
from spectree.models import InType, SecureType, SecuritySchemeData

from app.api.errors import ApiError, fields_from_pydantic

#: What a view under ``@api.validate`` returns. spectree evaluates the view's annotations
#: at run time, which flask.typing.ResponseReturnValue (forward references) cannot survive.
ApiResponse: TypeAlias = (
    flask.Response | dict[str, Any] | list[Any] | tuple[Any, int] | tuple[Any, int, dict[str, str]]
)


class CamelModel(BaseModel):
    """Request bodies: camelCase on the wire, snake_case in Python, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=AliasGenerator(validation_alias=to_camel, serialization_alias=to_camel),
        populate_by_name=True,
        extra="forbid",
        str_strip_whitespace=True,
    )


class OutModel(BaseModel):
    """Response shapes (documentation and response validation)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow", from_attributes=True
    )


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: dict[str, str] = Field(default_factory=dict)


class ErrorEnvelope(BaseModel):
    error: ErrorDetail


class PageMeta(OutModel):
    total: int
    page: int
    per_page: int


def _raise_envelope(
    req: Any, resp: Any, req_validation_error: Any, instance: Any, model_adapter: Any
) -> None:
    if req_validation_error is not None:
        prefix: tuple[Any, ...] = ()
        raise ApiError(
            422,
            "validation_error",
            "Invalid input",
            fields_from_pydantic(req_validation_error, prefix),
        )


_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


class _ModelAdapter(PydanticModelAdapter):
    """spectree's pydantic adapter with a cheaper search for models inside a response.

    After validating a response, spectree walks the whole payload looking for pydantic
    models or dataclasses to serialise, recursing with ``is_dataclass`` on every value;
    that walk cost more than the validation itself for a 20-item page. Same answer,
    without recursion and skipping plain JSON scalars.
    """

    def is_partial_model_instance(self, value: Any) -> bool:
        stack = [value]
        while stack:
            item = stack.pop()
            if not item or type(item) in _JSON_SCALARS:
                continue
            if isinstance(item, dict):
                stack.extend(item)
                stack.extend(item.values())
            elif isinstance(item, (list, tuple)):
                stack.extend(item)
            elif super().is_partial_model_instance(item):
                return True
        return False


api = SpecTree(
    "flask",
    title="Decant API",
    version="1.0.0",
    description="Email and SMS marketing for the CRM. Authenticate with "
    "`Authorization: Bearer <token>` (see `flask users token`).",
    mode="strict",
    before=_raise_envelope,
    validation_error_status=422,
    validation_error_model=ErrorEnvelope,
    security_schemes=[
        SecurityScheme(
            name="bearerAuth", data=SecuritySchemeData(type=SecureType.HTTP, scheme="bearer")
        ),
        SecurityScheme(
            name="sessionCookie",
            data=SecuritySchemeData(
                type=SecureType.API_KEY, field_in=InType.COOKIE, name="session"
            ),
        ),
    ],
    security={"bearerAuth": []},
    # spectree's own PydanticModelAdapter does not match its ModelAdapter protocol.
    model_adapter=_ModelAdapter(),  # type: ignore[arg-type]
)


def responses(**codes: Any) -> Response:
    """``responses(HTTP_200=Model, HTTP_404=None)``; every route also documents errors."""
    codes.setdefault("HTTP_401", ErrorEnvelope)
    codes.setdefault("HTTP_403", ErrorEnvelope)
    return Response(**codes)


#: The document itself and its viewer: not operations of the API.
SELF_DOCUMENTING = frozenset({"api.openapi_json", "api.docs", "api.docs_asset"})
_RULE_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def openapi_document(app: Flask) -> dict[str, Any]:
    cached = app.extensions.get("decant_openapi")
    if cached is None:
        api.app = app
        api.__dict__.pop("_spec", None)
        # spectree moves nested models out of its registry while it generates ("del
        # schema['$defs']"): a second app's document (tests build many) had dangling
        # $refs. It works on a copy; the registry stays whole.
        models = api.models
        api.models = copy.deepcopy(models)
        try:
            cached = api._generate_spec()  # noqa: SLF001 - spectree keeps one app per instance
        finally:
            api.models = models
        add_plain_operations(app, cached)
        app.extensions["decant_openapi"] = cached
    return cached


def openapi_path(rule: str) -> str:
    """A Flask rule as an OpenAPI path: ``/lists/<list_id>`` -> ``/lists/{list_id}``."""
    return _RULE_ARGUMENT.sub(r"{\1}", rule)


def add_plain_operations(app: Flask, document: dict[str, Any]) -> None:
    """Document the API routes spectree does not validate (a CSV export, the providers'
    signed webhooks, whose bodies are theirs): from their docstrings, with their path
    parameters and their security (none for public ones), so that the document lists
    every operation the app answers under ``/api/``."""
    paths = document.setdefault("paths", {})
    schemas = document.get("components", {}).get("schemas", {})
    envelope = next((name for name in schemas if name.split(".")[0] == "ErrorEnvelope"), None)
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint in SELF_DOCUMENTING:
            continue
        operations = paths.setdefault(openapi_path(rule.rule), {})
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if method.lower() not in operations:
                operations[method.lower()] = _plain_operation(app, rule, method, envelope)


def _plain_operation(app: Flask, rule: Any, method: str, envelope: str | None) -> dict[str, Any]:
    from app.auth.access import is_public

    view = app.view_functions[rule.endpoint]
    public = is_public(app, rule.endpoint)
    doc = inspect.getdoc(view) or ""
    summary, _, description = doc.partition("\n")
    if public:
        summary = summary or f"Provider callback ({rule.endpoint.rpartition('.')[2]})"
        description = (
            description + "\n\nPublic: no login; the request is verified by the provider's "
            "signature or secret, and refused (403) otherwise."
        ).strip()
    operation: dict[str, Any] = {
        "summary": summary or rule.endpoint,
        "operationId": f"{method.lower()}_{rule.endpoint.replace('.', '_')}",
        "tags": [rule.endpoint.partition(".")[0].removesuffix("_api")],
        "responses": {"200": {"description": "Success (see the description)"}},
    }
    if description:
        operation["description"] = description
    if rule.arguments:
        operation["parameters"] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in sorted(rule.arguments)
        ]
    if public:
        operation["security"] = []
    else:
        for status, text in (("401", "Not logged in"), ("403", "Forbidden"), ("404", "Not found")):
            answer: dict[str, Any] = {"description": text}
            if envelope:
                schema = {"$ref": f"#/components/schemas/{envelope}"}
                answer["content"] = {"application/json": {"schema": schema}}
            operation["responses"][status] = answer
    return operation
