"""The marketing dashboard (managers and admins; a rep sees their territory)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.dashboard import api, views

    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
