"""Campaigns, the same for every channel: drafts, schedules, the review before a send,
reports. Channels supply what is theirs through :mod:`app.campaigns.registry` and the
delivery engine; this package never imports a channel."""

from __future__ import annotations

from flask import Flask

from app.campaigns.api import bp as api_bp
from app.campaigns.views import bp as views_bp
from app.channels import NavEntry

NAV = NavEntry("Campaigns", "campaigns.index", order=30)


def init_app(app: Flask) -> None:
    """The pages, API and navigation entry, when an enabled channel sends campaigns
    (with none, the app has no marketing pages at all)."""
    if not app.extensions.get("decant_campaign_channels"):
        return
    app.register_blueprint(api_bp)
    app.register_blueprint(views_bp)
    app.extensions.setdefault("decant_core_nav", []).append(NAV)
