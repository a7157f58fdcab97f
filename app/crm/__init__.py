"""The CRM core: customers, orders, SKUs, territories, activities and consent."""

from __future__ import annotations

import os

from flask import Flask

from app.crm.admin_views import bp as admin_views_bp
from app.crm.api import bp as api_bp
from app.crm.cli import crm_cli
from app.crm.consent_api import bp as consent_api_bp
from app.crm.contact_api import bp as contact_api_bp
from app.crm.contact_views import bp as contact_views_bp
from app.crm.demo import demo_cli
from app.crm.import_api import bp as import_api_bp
from app.crm.import_log_api import bp as import_log_api_bp
from app.crm.import_views import bp as import_views_bp
from app.crm.imports.batches import BATCH_ROWS
from app.crm.imports.body import DEFAULT_MAX_ROWS
from app.crm.imports.job import DEFAULT_STALE_SECONDS
from app.crm.views import bp as views_bp

#: settings this package reads, with defaults (the environment wins)
SETTINGS = {
    "IMPORT_MAX_ROWS": DEFAULT_MAX_ROWS,
    "INVITE_MAX_AGE_SECONDS": 7 * 24 * 3600,
    # the import page's background job: rows per batch, and how long a running import may
    # stay silent before it counts as stalled (its worker died) and can be resumed
    "IMPORT_JOB_BATCH_ROWS": BATCH_ROWS,
    "IMPORT_STALE_SECONDS": DEFAULT_STALE_SECONDS,
}


def init_app(app: Flask) -> None:
    for name, default in SETTINGS.items():
        if os.environ.get(name):
            app.config.setdefault(name, int(os.environ[name]))
        app.config.setdefault(name, default)
    app.register_blueprint(api_bp)
    app.register_blueprint(import_api_bp)
    app.register_blueprint(import_log_api_bp)
    app.register_blueprint(import_views_bp)
    app.register_blueprint(views_bp)
    app.register_blueprint(contact_api_bp)
    app.register_blueprint(consent_api_bp)
    app.register_blueprint(contact_views_bp)
    app.register_blueprint(admin_views_bp)
    app.cli.add_command(demo_cli)
    app.cli.add_command(crm_cli)
