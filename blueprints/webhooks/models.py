"""The ``webhook_event`` table lives in the core (:mod:`app.webhooks.models`)."""

from app.webhooks.models import WebhookEvent

__all__ = ["WebhookEvent"]
