"""Periodic job of the WhatsApp channel (safe to run twice)."""

from __future__ import annotations

from app.messaging import delivery


def sweep() -> int:
    """Re-enqueue single messages left queued (Redis was down) or lost in flight."""
    return delivery.sweep_stale("whatsapp")
