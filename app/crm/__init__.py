"""The CRM core: customers, orders, SKUs, territories, activities and consent."""

from __future__ import annotations

from flask import Flask

from app.crm.api import bp as api_bp
from app.crm.contact_api import bp as contact_api_bp
from app.crm.contact_views import bp as contact_views_bp
from app.crm.demo import demo_cli
from app.crm.views import bp as views_bp


def init_app(app: Flask) -> None:
    app.register_blueprint(api_bp)
    app.register_blueprint(views_bp)
    app.register_blueprint(contact_api_bp)
    app.register_blueprint(contact_views_bp)
    app.cli.add_command(demo_cli)
