"""Malformed requests are refused before any view runs, with a 4xx naming the problem.

Central so that no endpoint has to remember them:

- a NUL character in a path value, query arg, form field or JSON string (or key):
  PostgreSQL refuses NUL in text, so letting one through ends in a 500 at the first
  query; no field of ours has a use for it (uploaded files are checked by their readers);
- a ``multipart/form-data`` body without a boundary cannot be parsed at all, nor JSON
  nested deeper than Python's recursion limit;
- an API operation that validates a JSON body gets JSON or a 415, never another content
  type that would reach the view as "no body".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, abort, current_app, request
from werkzeug.exceptions import BadRequest

from app.api.errors import ApiError, field_path, validation_error, wants_json
from app.api.spec import api

NUL = "\x00"
NUL_MESSAGE = "contains a NUL character"
FORM_TYPES = {"multipart/form-data", "application/x-www-form-urlencoded"}
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_View = TypeVar("_View", bound=Callable[..., Any])


def init_app(app: Flask) -> None:
    # Registered before every other hook, so authentication and CSRF never parse a
    # malformed body either.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_malformed_request)


def refuse_malformed_request() -> None:
    _refuse_nul_in_path()
    _refuse_nul_in_query()
    if request.method in BODY_METHODS:
        _refuse_broken_multipart()
        _refuse_non_json_for_json_operations()
        _refuse_nul_in_form()
        _refuse_nul_in_json()


def _refuse(status: int, fields: dict[str, str], message: str) -> None:
    if wants_json():
        if status == 422:
            raise validation_error(fields, message)
        raise ApiError(status, "bad_request" if status == 400 else "not_found", message, fields)
    abort(status, description=f"{message}: {', '.join(fields)}")


def _refuse_nul_in_path() -> None:
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and NUL in value:
            # An id with a NUL names nothing: the same answer as any unknown id.
            _refuse(404, {name: NUL_MESSAGE}, "Not found")


def _refuse_nul_in_query() -> None:
    bad = _nul_fields(request.args, "query")
    if bad:
        _refuse(422, bad, "Query arguments may not contain NUL characters")


def _nul_fields(multidict: Any, unnamed: str) -> dict[str, str]:
    """{name: message} for each field whose name or value holds a NUL (shown as \\x00)."""
    return {
        key.replace(NUL, "\\x00") or unnamed: NUL_MESSAGE
        for key, value in multidict.items(multi=True)
        if NUL in key or NUL in value
    }


def _refuse_broken_multipart() -> None:
    if request.mimetype == "multipart/form-data" and not request.mimetype_params.get("boundary"):
        _refuse(400, {"Content-Type": "multipart/form-data needs a boundary"}, "Malformed body")


#: Bodies an operation that takes JSON may receive (NDJSON: the bulk import reads rows).
JSON_BODY_TYPES = ("application/json", "application/x-ndjson")


def _refuse_non_json_for_json_operations() -> None:
    """An operation that validates a JSON body answers 415 to a body of any other type
    (spectree would hand the view no body at all)."""
    if not request.path.startswith("/api/") or request.mimetype in JSON_BODY_TYPES:
        return
    if request.content_length and _takes_json_body():
        raise ApiError(
            415, "unsupported_media_type", "Send JSON with Content-Type: application/json"
        )


def _takes_json_body() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    registry = api._function_metadata  # noqa: SLF001 - spectree's record of each validated view
    while view is not None:
        metadata = registry.get(view)
        if metadata is not None:
            return getattr(metadata, "json", None) is not None
        view = getattr(view, "__wrapped__", None)
    return False


def _refuse_nul_in_form() -> None:
    if request.mimetype not in FORM_TYPES:
        return
    if request.mimetype == "application/x-www-form-urlencoded":
        # Keep the raw body for views that verify a signature over it (webhooks).
        request.get_data(cache=True, parse_form_data=False)
    bad = _nul_fields(request.form, "form")
    if bad:
        _refuse(422, bad, "Form fields may not contain NUL characters")


def parses_own_json(view: _View) -> _View:
    """Mark a view that reads its raw body itself and answers JSON it cannot parse, too
    deeply nested included, with a 4xx (the bulk import): the guard then parses the body
    only when it may hold a NUL, instead of parsing 10,000 rows the view parses again."""
    view._parses_own_json = True  # type: ignore[attr-defined]
    return view


def _view_parses_own_json() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    while view is not None:
        if getattr(view, "_parses_own_json", False):
            return True
        view = getattr(view, "__wrapped__", None)
    return False


def _refuse_nul_in_json() -> None:
    if not request.is_json:
        return
    if _view_parses_own_json() and not _may_hold_nul(request.get_data(cache=True)):
        return
    try:
        body = request.get_json()
    except BadRequest as exc:  # malformed JSON is answered later, by the routes that read it
        if not _too_deep(exc.__cause__):
            return
        raise ApiError(
            400, "malformed_json", "JSON is nested too deeply", {"body": "nested too deeply"}
        ) from exc
    except RecursionError as exc:  # json raises it (not ValueError) past ~1000 levels
        raise ApiError(
            400, "malformed_json", "JSON is nested too deeply", {"body": "nested too deeply"}
        ) from exc
    if not _may_hold_nul(request.get_data(cache=True)):
        return
    path = _first_nul(body)
    if path is not None:
        _refuse(422, {field_path(path): NUL_MESSAGE}, "JSON strings may not contain NUL characters")


def _too_deep(cause: BaseException | None) -> bool:
    """Whether a JSON decoding failure was nesting past the parser's depth (the app's
    JSON provider turns that RecursionError into a ValueError saying so)."""
    return isinstance(cause, RecursionError) or "nested too deeply" in str(cause or "")


def _may_hold_nul(data: bytes) -> bool:
    """Whether parsed JSON can hold a NUL: strict JSON (what Flask parses) refuses a raw
    control character in a string, so in UTF-8 only the escape ``\\u0000`` makes one. A
    bulk import's 10,000 rows are not walked value by value for nothing."""
    if json.detect_encoding(data) not in ("utf-8", "utf-8-sig"):
        return True  # UTF-16 or UTF-32: walk it
    return b"\\u0000" in data


def _first_nul(body: Any) -> tuple[Any, ...] | None:
    """The path to the first string or key holding a NUL (iterative: any depth)."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(body, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if NUL in value:
                return path
        elif isinstance(value, list):
            stack.extend((item, (*path, i)) for i, item in reversed(list(enumerate(value))))
        elif isinstance(value, dict):
            for key in value:
                if NUL in key:
                    return (*path, key.replace(NUL, "\\x00"))
            stack.extend((item, (*path, key)) for key, item in reversed(list(value.items())))
    return None
