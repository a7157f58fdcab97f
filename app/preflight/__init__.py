"""Preview and pre-flight of an email: desktop and phone renderings for a chosen customer,
and the checks of :mod:`app.preflight.checks`, on a page and through the API."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.preflight import api, views

    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
