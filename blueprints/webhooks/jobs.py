"""The sweep: webhook events whose applying failed are retried until done or given up."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models_base import utcnow
from blueprints.webhooks.blueprint import retry
from blueprints.webhooks.models import WebhookEvent

BATCH = 200


def sweep() -> int:
    """Retry the pending events that are due (oldest first); returns how many are done.

    Each retry is the same atomic apply as a delivery; a failure pushes its next attempt
    out (doubling) or, after WEBHOOK_MAX_ATTEMPTS, marks it failed for an admin.
    """
    due = db.session.scalars(
        select(WebhookEvent.id)
        .where(WebhookEvent.status == "pending", WebhookEvent.next_attempt_at <= utcnow())
        .order_by(WebhookEvent.next_attempt_at, WebhookEvent.id)
        .limit(BATCH)
    ).all()
    db.session.commit()  # hold no snapshot while retrying
    return sum(1 for row_id in due if retry(row_id))
