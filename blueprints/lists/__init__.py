"""The lists channel: manual and smart email lists, members, CSV import and export.

Registers the ``list`` audience so other channels resolve ``{"listId": ...}`` without
importing this package.
"""

from __future__ import annotations

import os

from flask import Flask

from app.channels import Channel, NavEntry, PeriodicJob
from app.messaging.audiences import AudienceResolver, register
from blueprints.lists import models  # noqa: F401 - tables join the metadata
from blueprints.lists.api import bp as api_bp
from blueprints.lists.jobs import DEFAULT_REFRESH_SECONDS
from blueprints.lists.views import assets as assets_bp
from blueprints.lists.views import bp as views_bp


def setup(app: Flask) -> None:
    """Settings defaults (env wins) and the ``list`` audience resolver."""
    from blueprints.lists import services

    for name, default in (
        ("LIST_REFRESH_SECONDS", DEFAULT_REFRESH_SECONDS),
        ("LIST_IMPORT_MAX_BYTES", 5 * 1024 * 1024),
        ("LIST_REFRESH_SLICE", services.REFRESH_SLICE),
    ):
        if os.environ.get(name):
            app.config.setdefault(name, int(os.environ[name]))
        app.config.setdefault(name, default)
    register(
        app,
        AudienceResolver(
            name="list",
            customer_ids=services.audience_ids,
            describe=services.audience_label,
            add_members=services.audience_add,
            remove_members=services.audience_remove,
            choices=services.audience_choices,
            writable_choices=services.audience_writable_choices,
            topic_of=services.audience_topic,
            sunset_policy_of=services.audience_sunset_policy,
            create_smart=services.audience_create_smart,
        ),
    )


channel = Channel(
    name="lists",
    blueprints=(api_bp, views_bp, assets_bp),
    nav=(NavEntry("Lists", "lists.index", order=10),),
    periodic_jobs=(
        PeriodicJob(
            name="lists-refresh",
            func="blueprints.lists.jobs:refresh_stale_lists",
            every_seconds=DEFAULT_REFRESH_SECONDS,
            interval_setting="LIST_REFRESH_SECONDS",
            queue="lists",
        ),
    ),
    setup=setup,
    description="Email lists, smart lists, members, import/export",
)
