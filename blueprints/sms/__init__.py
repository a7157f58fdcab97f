"""The SMS channel: texts to customers and lists, conversations, consent keywords,
delivery receipts. Twilio's webhooks arrive through the webhooks channel's
``webhook_received`` signal; this package never imports another channel."""

from __future__ import annotations

from typing import Any

from flask import Flask

from app.channels import Channel, NavEntry, PeriodicJob
from app.crm.panels import CustomerPanel
from app.crm.panels import register as register_panel
from app.signals import webhook_received
from blueprints.sms import (
    models,  # noqa: F401 - registers the tables
    services,
    settings,
)
from blueprints.sms.api import bp as api_bp
from blueprints.sms.views import assets as assets_bp
from blueprints.sms.views import bp as views_bp


def setup(app: Flask) -> None:
    """The outbox delivery channel, the customer panel (settings are declared)."""
    from blueprints.sms import campaigns
    from blueprints.sms.attribution import register_touches
    from blueprints.sms.dashboard import register_figures
    from blueprints.sms.flow_sender import register_flow_sender
    from blueprints.sms.outbound import register_delivery
    from blueprints.sms.views import panel_context

    register_delivery(app)
    campaigns.register(app)
    register_flow_sender(app)
    register_touches(app)
    register_figures(app)
    register_panel(
        app, CustomerPanel(name="sms", template="sms/panel.html", context=panel_context, order=20)
    )


def _unread_badge(user: Any) -> int:
    """Threads with unread texts the user sees (the navigation's SMS badge)."""
    from blueprints.sms.inbox import unread_conversations

    return unread_conversations(user)


channel = Channel(
    name="sms",
    blueprints=(api_bp, views_bp, assets_bp),
    nav=(NavEntry("SMS", "sms.inbox", order=30, badge=_unread_badge),),
    periodic_jobs=(
        PeriodicJob(
            name="sms-sweep",
            func="blueprints.sms.jobs:sweep",
            every_seconds=300,
            interval_setting="SMS_SWEEP_SECONDS",
            queue="messages",
        ),
    ),
    subscriptions=((webhook_received, services.on_webhook),),
    setup=setup,
    settings=settings.SETTINGS,
    description="SMS sending, conversations, opt-in/out keywords, status callbacks",
)
