"""The email channel: sending, tracking, unsubscribe, provider events, and what the core's
campaigns, attribution and dashboard ask of email."""

from __future__ import annotations

from flask import Flask

from app.channels import Channel, PeriodicJob
from app.signals import webhook_batch_received, webhook_received
from blueprints.email import models  # noqa: F401 - registers the tables
from blueprints.email.api import bp as api_bp
from blueprints.email.cli import email_cli
from blueprints.email.event_batch import on_webhook_batch
from blueprints.email.events import on_webhook
from blueprints.email.failover import SETTINGS as FAILOVER_SETTINGS
from blueprints.email.public import bp as public_bp
from blueprints.email.views import bp as views_bp


def setup(app: Flask) -> None:
    """Settings defaults, the ``email`` delivery channel and the customer page panel."""
    from app.crm.panels import CustomerPanel
    from app.crm.panels import register as register_panel
    from blueprints.email import campaigns, sending
    from blueprints.email.attribution import register_touches
    from blueprints.email.dashboard import register_figures
    from blueprints.email.failover import check_providers
    from blueprints.email.flow_sender import register_flow_sender
    from blueprints.email.views import panel_context

    app.config.setdefault("EMAIL_RATE_LIMIT", sending.DEFAULT_RATE_LIMIT)
    app.config.setdefault("EMAIL_BATCH_SIZE", sending.DEFAULT_BATCH_SIZE)
    app.config.setdefault("EMAIL_POSTAL_ADDRESS", "")  # CAN-SPAM: the footer shows it
    check_providers(app)
    sending.register(app)
    register_touches(app)
    register_figures(app)
    campaigns.register(app)
    register_flow_sender(app)
    register_panel(
        app,
        CustomerPanel(name="email", template="email/_panel.html", context=panel_context, order=20),
    )


channel = Channel(
    name="email",
    blueprints=(api_bp, views_bp, public_bp),
    nav=(),  # templates and campaigns are the core's pages
    cli=email_cli,
    periodic_jobs=(
        PeriodicJob(
            name="email-sweep",
            func="blueprints.email.jobs:sweep",
            every_seconds=300,
            interval_setting="EMAIL_SWEEP_SECONDS",
            queue="maintenance",
        ),
    ),
    subscriptions=((webhook_received, on_webhook), (webhook_batch_received, on_webhook_batch)),
    setup=setup,
    settings=FAILOVER_SETTINGS,
    description="Email sending, campaigns, tracking and unsubscribe",
)
