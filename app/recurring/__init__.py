"""Recurring campaigns: a rule (:mod:`.rules`) that creates a fresh campaign for each
occurrence (:mod:`.engine`), with featured wines filled from the catalogue
(:mod:`.featured`); pages and the API for managers."""

from __future__ import annotations

from flask import Flask

from app import jobs
from app.channels import PeriodicJob

NAV_ROLES = ("manager", "admin")
#: how often the ticker looks for due occurrences (the lead time is an hour)
TICK_SECONDS = 300


def init_app(app: Flask) -> None:
    """The pages, API, navigation entry and ticker job, when a channel sends campaigns."""
    from app.recurring import models  # noqa: F401 - the tables, always in the schema

    if not app.extensions.get("decant_campaign_channels"):
        return
    from app.channels import NavEntry
    from app.recurring import api, views

    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    app.extensions.setdefault("decant_core_nav", []).append(
        NavEntry("Recurring", "recurring.index", roles=NAV_ROLES, order=31)
    )
    jobs.register_periodic(
        app,
        PeriodicJob(
            "recurring-campaigns",
            "app.recurring.engine:run_due",
            every_seconds=TICK_SECONDS,
            queue="campaigns",
        ),
    )
