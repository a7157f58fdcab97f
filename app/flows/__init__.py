"""Flows: event-driven automation (a trigger, then email, SMS, waits, branches, rep
tasks, field and list changes), run once per customer per entry. See
:mod:`app.flows.engine` for how runs stay exact. The core package never imports a
channel: channels give it their send step (:mod:`app.flows.senders`)."""

from __future__ import annotations

import os

from flask import Flask

from app import jobs
from app.channels import NavEntry, PeriodicJob

NAV = NavEntry("Flows", "flows.index", roles=("admin", "manager"), order=31)
#: frequency caps: hours between two marketing messages of a channel (0: no cap)
CAP_DEFAULTS = {"FLOW_CAP_EMAIL_HOURS": 16, "FLOW_CAP_SMS_HOURS": 24}


def init_app(app: Flask) -> None:
    from app.flows import api, models, triggers, views  # noqa: F401 - models: the tables

    for name, default in CAP_DEFAULTS.items():
        if os.environ.get(name):
            app.config.setdefault(name, int(os.environ[name]))
        app.config.setdefault(name, default)
    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    app.extensions.setdefault("decant_core_nav", []).append(NAV)
    triggers.init_app(app)
    jobs.register_periodic(
        app,
        PeriodicJob(
            "flows-no-order",
            "app.flows.triggers:no_order_daily",
            every_seconds=86_400,
            interval_setting="FLOW_NO_ORDER_SECONDS",
        ),
    )
    jobs.register_periodic(
        app,
        PeriodicJob(
            "flows-watchdog",
            "app.flows.engine:resume_runs",
            every_seconds=300,
            interval_setting="FLOW_WATCHDOG_SECONDS",
        ),
    )
