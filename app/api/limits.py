"""Request bodies bounded per endpoint, and JSON too deeply nested to parse refused.

``MAX_CONTENT_LENGTH`` (10 MiB) is what an upload may need; most endpoints need far less
(a smart list's criteria fit in 64 KiB), and whatever a body holds is parsed and
validated, so an endpoint says what it takes with :func:`body_limit`. The limit is set
before anything reads the body: a larger ``Content-Length`` is refused at once, and a
chunked body stops being read past it (werkzeug's per-request ``max_content_length``);
both answer 413 with the error envelope.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import RequestEntityTooLarge

_LIMIT = "decant_body_limit"
View = TypeVar("View", bound=Callable[..., Any])

#: What the endpoints that take templates need: a 200,000-character template, JSON-escaped.
TEMPLATE_BODY = 2 * 1024 * 1024
#: Small JSON bodies: criteria, a text message, settings.
SMALL_BODY = 64 * 1024


def body_limit(max_bytes: int) -> Callable[[View], View]:
    """Mark a view as taking bodies of at most ``max_bytes`` (checked before any parsing)."""

    def mark(view: View) -> View:
        setattr(view, _LIMIT, max_bytes)
        return view

    return mark


def _apply_body_limit() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    limit = getattr(view, _LIMIT, None)
    if limit is None:
        return
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge(f"This endpoint takes request bodies of at most {limit} bytes")


class _NestingSafeJSON(DefaultJSONProvider):
    """JSON nested deeper than the parser's recursion limit is invalid JSON (a 400), not
    a RecursionError (a 500)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply") from exc


def init_app(app: Flask) -> None:
    """Register before the hooks that read bodies (the JSON check of ``app.api``)."""
    if type(app.json) is DefaultJSONProvider:
        provider = _NestingSafeJSON(app)
        provider.__dict__.update(vars(app.json))  # settings made on the app's provider
        app.json = provider
    app.before_request_funcs.setdefault(None, []).insert(0, _apply_body_limit)
