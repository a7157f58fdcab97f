"""Inbound provider endpoints: verify the signature, record and apply once, signal the
channels; a sweep retries events whose applying failed, admins see those that gave up.

Each provider's routes live in their own module on the shared blueprint; the channels
that care subscribe to ``app.signals.webhook_received`` and never import this package.
"""

from __future__ import annotations

import os

from flask import Flask

from app.channels import Channel, NavEntry, PeriodicJob
from blueprints.webhooks import models  # noqa: F401 - registers the table
from blueprints.webhooks.admin import bp as admin_bp
from blueprints.webhooks.blueprint import bp

# Provider route modules (each registers its routes on ``bp`` when imported).
# --- provider modules: one import line each ---
from blueprints.webhooks import mailchimp  # noqa: F401, E402  # isort: skip
from blueprints.webhooks import email  # noqa: F401, E402

from blueprints.webhooks import twilio  # noqa: F401  # isort: skip
# --- end provider modules ---

#: Settings (the environment wins): sweep period, first retry delay (doubling), attempts
#: before an event is failed for good, SendGrid's accepted signed-timestamp age.
DEFAULTS: dict[str, int] = {
    "WEBHOOK_SWEEP_SECONDS": 60,
    "WEBHOOK_RETRY_SECONDS": 60,
    "WEBHOOK_MAX_ATTEMPTS": 8,
    "SENDGRID_WEBHOOK_TOLERANCE": 300,
}


def setup(app: Flask) -> None:
    for name, default in DEFAULTS.items():
        if name not in app.config and os.environ.get(name):
            app.config[name] = int(os.environ[name])
        app.config.setdefault(name, default)


channel = Channel(
    name="webhooks",
    blueprints=[bp, admin_bp],
    nav=(NavEntry("Webhooks", "webhook_admin.events_page", roles=("admin",), order=95),),
    periodic_jobs=(
        PeriodicJob(
            name="webhook-retries",
            func="blueprints.webhooks.jobs:sweep",
            every_seconds=60,
            interval_setting="WEBHOOK_SWEEP_SECONDS",
            queue="maintenance",
        ),
    ),
    setup=setup,
    description="Provider callbacks",
)
