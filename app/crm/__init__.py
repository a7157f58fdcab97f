"""The CRM core: customers, orders, SKUs, territories, activities and consent."""

from __future__ import annotations

from flask import Flask

from app.crm.api import bp as api_bp
from app.crm.cli import crm_cli
from app.crm.demo import demo_cli
from app.crm.import_api import bp as import_api_bp
from app.crm.views import bp as views_bp


def init_app(app: Flask) -> None:
    app.register_blueprint(api_bp)
    app.register_blueprint(import_api_bp)
    app.register_blueprint(views_bp)
    app.cli.add_command(demo_cli)
    app.cli.add_command(crm_cli)
