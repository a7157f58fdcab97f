"""Inbound provider endpoints: verify the signature, record once, signal the channels.

Each provider's routes live in their own module on the shared blueprint; the channels
that care subscribe to ``app.signals.webhook_received`` and never import this package.
"""

from __future__ import annotations

from app.channels import Channel
from blueprints.webhooks import models  # noqa: F401 - registers the table
from blueprints.webhooks.blueprint import bp

# Provider route modules (each registers its routes on ``bp`` when imported).
# --- provider modules: one import line each ---
from blueprints.webhooks import mailchimp  # noqa: F401, E402  # isort: skip
from blueprints.webhooks import email  # noqa: F401, E402

from blueprints.webhooks import twilio  # noqa: F401  # isort: skip
# --- end provider modules ---

channel = Channel(name="webhooks", blueprints=[bp], description="Provider callbacks")
