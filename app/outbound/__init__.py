"""Outbound webhooks: the host CRM hears about Decant's events as they happen.

Admins register endpoints (``/settings/webhooks``, ``/api/webhook-endpoints``); the core's
signals become one delivery per subscribed endpoint (:mod:`.events`), each sent by a
background job signed per the Standard Webhooks specification and retried with backoff
(:mod:`.delivery`). Part of the core: it listens to core signals only, never a channel.
"""

from __future__ import annotations

import os

from flask import Flask

from app import jobs
from app.channels import PeriodicJob
from app.config import Setting, apply_settings
from app.outbound import addresses, api, dispatch, events, models, views  # noqa: F401 - tables

#: Settings (the environment wins): per-attempt timeout (s), how long a delivery is
#: retried (h), how long an endpoint may fail before it is switched off (h), the sweep's
#: period (s), and how long finished deliveries are kept (days).
DEFAULTS: dict[str, float] = {
    "OUTBOUND_WEBHOOK_TIMEOUT": 5,
    "OUTBOUND_WEBHOOK_RETRY_HOURS": 24,
    "OUTBOUND_WEBHOOK_DISABLE_HOURS": 24,
    "OUTBOUND_WEBHOOK_SWEEP_SECONDS": 60,
    "OUTBOUND_WEBHOOK_RETENTION_DAYS": 30,
}


def init_app(app: Flask) -> None:
    for name, default in DEFAULTS.items():
        if name not in app.config and os.environ.get(name):
            app.config[name] = float(os.environ[name])
        app.config.setdefault(name, default)
    apply_settings(
        app,
        [
            Setting(
                addresses.SETTING,
                bool,
                default=app.config["DECANT_ENV"] != "production",
                doc="let webhook endpoints be on loopback, private or link-local addresses "
                "(default: true in development and testing, false in production)",
            )
        ],
    )
    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    events.connect(app)
    dispatch.init_app(app)
    jobs.register_periodic(
        app,
        PeriodicJob(
            "outbound-webhooks",
            "app.outbound.dispatch:sweep",
            every_seconds=60,
            interval_setting="OUTBOUND_WEBHOOK_SWEEP_SECONDS",
            queue="default",
        ),
    )
