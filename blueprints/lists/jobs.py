"""Background jobs of the lists channel (take ids, safe to run twice)."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app

from app.extensions import db
from blueprints.lists import services

log = logging.getLogger(__name__)
DEFAULT_REFRESH_SECONDS = 3600


def refresh_list(list_id: int) -> int | None:
    """Refresh one smart list; returns its new member count."""
    return services.refresh(list_id)


def refresh_stale_lists() -> int:
    """The periodic job: refresh smart lists older than half the interval, oldest first."""
    interval = int(current_app.config.get("LIST_REFRESH_SECONDS") or DEFAULT_REFRESH_SECONDS)
    limit = int(current_app.config.get("LIST_REFRESH_BATCH", 500))
    done = 0
    for list_id in services.stale_smart_lists(timedelta(seconds=interval / 2), limit):
        try:
            services.refresh(list_id)
            done += 1
        except Exception:  # one broken list must not starve the others
            db.session.rollback()
            log.exception("refreshing list %s failed", list_id)
    return done
