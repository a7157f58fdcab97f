"""The error envelope: every API error answers ``{"error": {code, message, fields}}``."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from app.errors import DomainError
from app.messaging.sandbox import RenderLimit

log = logging.getLogger(__name__)


class ApiError(DomainError):
    """The older way to refuse (status and code given by the raiser); new services raise
    the domain errors of :mod:`app.errors`, which share this base's handling."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, fields, code=code, status=status)


def validation_error(fields: dict[str, str], message: str = "Invalid input") -> ApiError:
    return ApiError(422, "validation_error", message, fields)


def not_found(what: str = "resource", field: str | None = None) -> ApiError:
    """Unknown ids in the URL are 404; unknown ids in a body are 422 naming the field."""
    if field:
        return validation_error({field: f"unknown {what}"}, f"Unknown {what}")
    return ApiError(404, "not_found", f"{what.capitalize()} not found")


def error_body(code: str, message: str, fields: dict[str, str] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("criteria", "all", 1, "days")`` -> ``criteria.all[1].days``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path or "body"


def fields_from_pydantic(exc: ValidationError, prefix: tuple[Any, ...] = ()) -> dict[str, str]:
    fields: dict[str, str] = {}
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if p not in ("__root__",))
        # Discriminated unions add the tag as a location step; it names no field.
        loc = tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-")))
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        fields.setdefault(field_path(prefix + loc), message)
    return fields


def wants_json() -> bool:
    """API paths, and any client that asks for JSON first (e.g. a script posting /login)."""
    if request.path.startswith("/api/") or request.path == "/api":
        return True
    return request.accept_mimetypes.best == "application/json"


_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
}


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def handle_domain_error(exc: DomainError) -> ResponseReturnValue:
        if wants_json():
            return jsonify(error_body(exc.code, exc.message, exc.fields)), exc.status
        return render_template("error.html", status=exc.status, message=exc.text()), exc.status

    @app.errorhandler(RenderLimit)
    def handle_render_limit(exc: RenderLimit) -> ResponseReturnValue:
        """A template that would build too much, rendered where no caller named its field."""
        if not wants_json():
            return render_template("error.html", status=422, message=str(exc)), 422
        fields = {exc.field or "template": str(exc)}
        return jsonify(error_body("validation_error", "Template too costly", fields)), 422

    @app.errorhandler(CSRFError)
    def handle_csrf(exc: CSRFError) -> ResponseReturnValue:
        if wants_json():
            body = error_body("csrf_failed", exc.description or "CSRF token missing or invalid")
            return jsonify(body), 400
        return render_template("error.html", status=400, message=exc.description), 400

    @app.errorhandler(HTTPException)
    def handle_http(exc: HTTPException) -> ResponseReturnValue:
        status = exc.code or 500
        if wants_json():
            code = _CODES.get(status, "error")
            response = jsonify(error_body(code, exc.description or exc.name))
            response.status_code = status
            if status == 405 and exc.get_response().headers.get("Allow"):
                response.headers["Allow"] = exc.get_response().headers["Allow"]
            if status == 429:
                response.headers["Retry-After"] = exc.get_response().headers.get(
                    "Retry-After", "60"
                )
            return response
        if status < 400 or exc.response is not None:
            return exc
        return render_template("error.html", status=status, message=exc.description), status

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception) -> ResponseReturnValue:
        if isinstance(exc, HTTPException):
            return handle_http(exc)
        log.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json():
            return jsonify(error_body("internal_error", "Internal server error")), 500
        return render_template("error.html", status=500, message="Something went wrong."), 500
