"""The mailchimp channel: connection, audience sync (both ways), campaigns, analytics.

Webhooks arrive through the webhooks channel (``webhook_received``); CRM opt-outs through
``customer_opted_out``. Settings (env wins, by the MAILCHIMP_ prefix) default in
:data:`blueprints.mailchimp.client.DEFAULTS`.
"""

from __future__ import annotations

from flask import Flask

from app.channels import Channel, NavEntry, PeriodicJob
from app.signals import customer_opted_out, webhook_received
from blueprints.mailchimp import models  # noqa: F401 - registers the tables
from blueprints.mailchimp.api import bp as api_bp
from blueprints.mailchimp.client import DEFAULTS
from blueprints.mailchimp.events import on_opted_out, on_webhook
from blueprints.mailchimp.views import assets as assets_bp
from blueprints.mailchimp.views import bp as views_bp


def setup(app: Flask) -> None:
    for name, default in DEFAULTS.items():
        app.config.setdefault(name, default)


channel = Channel(
    name="mailchimp",
    blueprints=(api_bp, views_bp, assets_bp),
    nav=(NavEntry("Settings", "mailchimp.settings", roles=("admin", "manager"), order=90),),
    periodic_jobs=(
        PeriodicJob(
            name="mailchimp-due-syncs",
            func="blueprints.mailchimp.jobs:run_due_syncs",
            every_seconds=300,
            interval_setting="MAILCHIMP_SYNC_TICK_SECONDS",
            queue="sync",
        ),
        PeriodicJob(
            name="mailchimp-reports",
            func="blueprints.mailchimp.jobs:refresh_reports",
            every_seconds=3600,
            interval_setting="MAILCHIMP_REPORT_TICK_SECONDS",
            queue="sync",
        ),
    ),
    subscriptions=((webhook_received, on_webhook), (customer_opted_out, on_opted_out)),
    setup=setup,
    description="Mailchimp: connection, audience sync, campaigns, analytics",
)
