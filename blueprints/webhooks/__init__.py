"""Inbound provider endpoints: verify the signature, record and apply once, signal the
channels; a sweep retries events whose applying failed, admins see those that gave up.

Each provider's routes live in their own module on the shared blueprint; the channels
that care subscribe to ``app.signals.webhook_received`` and never import this package.
"""

from __future__ import annotations

from app.channels import Channel, NavEntry, PeriodicJob
from app.config import Setting
from blueprints.webhooks import models  # noqa: F401 - registers the table
from blueprints.webhooks.admin import bp as admin_bp
from blueprints.webhooks.blueprint import bp

# Provider route modules (each registers its routes on ``bp`` when imported).
# --- provider modules: one import line each ---
from blueprints.webhooks import mailchimp  # noqa: F401, E402  # isort: skip
from blueprints.webhooks import email  # noqa: F401, E402

from blueprints.webhooks import twilio  # noqa: F401  # isort: skip
# --- end provider modules ---

SETTINGS = (
    Setting("WEBHOOK_SWEEP_SECONDS", int, 60, "How often the sweep retries failed events."),
    Setting("WEBHOOK_RETRY_SECONDS", int, 60, "First retry delay, doubling (at most 6 h)."),
    Setting("WEBHOOK_MAX_ATTEMPTS", int, 8, "Attempts before an event is failed for good."),
    Setting(
        "SENDGRID_WEBHOOK_TOLERANCE", int, 300, "Oldest signed SendGrid timestamp accepted (s)."
    ),
)
#: The defaults by name (older readers).
DEFAULTS: dict[str, int] = {s.name: s.default for s in SETTINGS}


channel = Channel(
    name="webhooks",
    blueprints=[bp, admin_bp],
    nav=(NavEntry("Inbound events", "webhook_admin.events_page", roles=("admin",), order=95),),
    periodic_jobs=(
        PeriodicJob(
            name="webhook-retries",
            func="blueprints.webhooks.jobs:sweep",
            every_seconds=60,
            interval_setting="WEBHOOK_SWEEP_SECONDS",
            queue="maintenance",
        ),
    ),
    settings=SETTINGS,
    description="Provider callbacks",
)
