"""WhatsApp for Decant, a channel shipped as its own package (entry point
``decant.channels: whatsapp``): Twilio's WhatsApp API through the official SDK, approved
templates outside the 24-hour window and free text inside it, opt-in per channel,
campaigns to lists through the shared delivery engine, "WhatsApp" on the timeline.

Everything the core needs to know is on :data:`channel`; nothing in the core names it.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from app.channels import Channel, PeriodicJob
from app.crm.panels import CustomerPanel
from app.crm.panels import register as register_panel
from app.messaging import consent
from app.signals import webhook_received
from decant_whatsapp import (
    models,  # noqa: F401 - registers the tables
    services,
)
from decant_whatsapp.api import bp as api_bp
from decant_whatsapp.settings import SETTINGS
from decant_whatsapp.views import bp as views_bp
from decant_whatsapp.webhooks import bp as webhooks_bp


def setup(app: Flask) -> None:
    """Consent policy (opt-in, address = the customer's E.164 phone), the delivery
    channel, the customer-page panel."""
    from decant_whatsapp.outbound import register_delivery
    from decant_whatsapp.views import panel_context

    consent.register_channel(services.CHANNEL, requires_opt_in=True)
    register_delivery(app)
    register_panel(
        app,
        CustomerPanel(
            name="whatsapp", template="whatsapp/panel.html", context=panel_context, order=25
        ),
    )


channel = Channel(
    name="whatsapp",
    blueprints=(api_bp, views_bp, webhooks_bp),
    subscriptions=((webhook_received, services.on_webhook),),
    periodic_jobs=(
        PeriodicJob("whatsapp-sweep", "decant_whatsapp.jobs:sweep", 300, queue="messages"),
    ),
    setup=setup,
    settings=SETTINGS,
    requires=("lists",),
    migrations=str(Path(__file__).parent / "migrations"),
    activity_types=(services.ACTIVITY,),
    description="WhatsApp through Twilio: templates, the 24-hour window, campaigns to lists",
)
