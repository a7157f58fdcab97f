"""Provider webhooks, shared by every channel: the ``webhook_event`` table and the intake
service (:func:`app.webhooks.intake.receive`) that records and applies an event once."""

from app.webhooks.intake import Applied, RetryLater, public_url, receive, retry

__all__ = ["Applied", "RetryLater", "public_url", "receive", "retry"]
