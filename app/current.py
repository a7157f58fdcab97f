"""The application object behind ``current_app``.

Signal senders, background threads and per-app caches need the object itself, not the
context-local proxy; Flask types ``current_app`` as ``Flask`` and so hides the proxy's
``_get_current_object``.
"""

from __future__ import annotations

from flask import Flask, current_app


def app_object() -> Flask:
    """The Flask application of the active app context."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return app
