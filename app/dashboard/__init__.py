"""The marketing dashboard (managers and admins; a rep sees their territory)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # revenue_routes adds the revenue breakdown's routes to the dashboard's two blueprints
    from app.dashboard import api, revenue_routes, views

    assert revenue_routes.bp is views.bp and revenue_routes.api_bp is api.bp
    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
