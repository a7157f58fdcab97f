"""The marketing dashboard (managers and admins; a rep sees their territory)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.dashboard import api, revenue_routes, views

    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(revenue_routes.api_bp)
    app.register_blueprint(revenue_routes.bp)
