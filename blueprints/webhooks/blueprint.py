"""The blueprint the core providers' endpoints hang off; intake itself is the core's
(:mod:`app.webhooks.intake`), re-exported here for the route modules."""

from __future__ import annotations

from flask import Blueprint

from app.webhooks.intake import (
    Applied,
    RetryLater,
    backoff,
    max_attempts,
    receive,
    record_failure,
    retry,
)

__all__ = [
    "Applied",
    "RetryLater",
    "backoff",
    "bp",
    "max_attempts",
    "receive",
    "record_failure",
    "retry",
]

bp = Blueprint("webhooks", __name__, url_prefix="/api/sales/marketing/webhooks")
