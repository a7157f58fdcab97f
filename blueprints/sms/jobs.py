"""RQ jobs of the SMS channel (take ids or nothing, safe to run twice)."""

from __future__ import annotations

from app.messaging import delivery


def sweep() -> int:
    """Re-enqueue single texts left queued (Redis was down) or lost in flight."""
    return delivery.sweep_stale("sms")
