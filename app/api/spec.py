"""Request validation and the OpenAPI document, from the same pydantic models.

spectree validates each decorated route's query and JSON body against pydantic v2 models
and generates the OpenAPI 3.1 document from those same models. Its default 422 body is
replaced by our envelope (raised from the ``before`` hook), and the document is served at
``/api/openapi.json`` by the core rather than by spectree's own routes.
"""

from __future__ import annotations

import copy
from typing import Any

from flask import Flask
from pydantic import AliasGenerator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from spectree import Response, SecurityScheme, SpecTree
from spectree.model_adapter.pydantic_adapter import PydanticModelAdapter
from spectree.models import InType, SecureType, SecuritySchemeData

from app.api.errors import ApiError, fields_from_pydantic


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


def _raise_envelope(req, resp, req_validation_error, instance, model_adapter) -> None:
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
    model_adapter=_ModelAdapter(),
)


def responses(**codes: Any) -> Response:
    """``responses(HTTP_200=Model, HTTP_404=None)``; every route also documents errors."""
    codes.setdefault("HTTP_401", ErrorEnvelope)
    codes.setdefault("HTTP_403", ErrorEnvelope)
    return Response(**codes)


def openapi_document(app: Flask) -> dict[str, Any]:
    cached = app.extensions.get("decant_openapi")
    if cached is None:
        api.app = app
        api.__dict__.pop("_spec", None)
        # spectree moves each model's nested schemas ($defs) out of its registry while
        # generating, so a second app's document (tests) lost them: generate from a copy.
        models = api.models
        api.models = copy.deepcopy(models)
        try:
            cached = api._generate_spec()  # noqa: SLF001 - spectree keeps one app per instance
        finally:
            api.models = models
        app.extensions["decant_openapi"] = cached
    return cached
