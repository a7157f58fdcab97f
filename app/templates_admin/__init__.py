"""Template pages and the templates API: a core part, since every channel uses templates.

The service lives in :mod:`app.messaging.templates`; this package is its boundary (thin
routes, forms, pages). The URLs are the original CRM's (``/api/sales/marketing/templates``
and ``/sales/marketing/templates``).
"""

from __future__ import annotations

from flask import Flask

from app.templates_admin.api import bp as api_bp
from app.templates_admin.views import assets as assets_bp
from app.templates_admin.views import bp as views_bp


def init_app(app: Flask) -> None:
    app.register_blueprint(api_bp)
    app.register_blueprint(views_bp)
    app.register_blueprint(assets_bp)
