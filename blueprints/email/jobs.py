"""Periodic jobs of the email channel (take no objects; safe to run twice)."""

from __future__ import annotations

from app.messaging.delivery import sweep_stale


def sweep() -> int:
    """Single emails left queued (Redis was down) or stuck in flight go out again."""
    return sweep_stale("email")
