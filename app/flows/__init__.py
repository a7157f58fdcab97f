"""Flows: event-driven automation (a trigger, then email, SMS, waits, branches, rep
tasks, field and list changes), run once per customer per entry. See
:mod:`app.flows.engine` for how runs stay exact. The core package never imports a
channel: channels give it their send step (:mod:`app.flows.senders`)."""

from __future__ import annotations

from flask import Flask

from app import jobs
from app.channels import NavEntry, PeriodicJob
from app.config import Setting, apply_settings

NAV = NavEntry("Flows", "flows.index", roles=("admin", "manager"), order=31)
SETTINGS = (
    Setting(
        "FLOW_CAP_EMAIL_HOURS", int, 16,
        "a flow's email step is skipped (recorded as capped) when the customer got a "
        "marketing email, a campaign's or a flow's, within this many hours (0: no cap)",
    ),
    Setting(
        "FLOW_CAP_SMS_HOURS", int, 24,
        "the same for SMS: hours between two marketing texts to a customer (0: no cap)",
    ),
    Setting("FLOW_WATCHDOG_SECONDS", int, 300, "how often overdue flow runs are looked for"),
    Setting(
        "FLOW_STALE_SECONDS", int, 300,
        "a run this many seconds past its time gets a new job (its own was lost)",
    ),
    Setting("FLOW_NO_ORDER_SECONDS", int, 86_400, "how often 'no order in N days' is evaluated"),
    Setting(
        "FLOW_DATE_FIELD_SECONDS", int, 86_400,
        "how often 'a date field comes round' (an anniversary) is evaluated",
    ),
)  # fmt: skip


def init_app(app: Flask) -> None:
    """The pages, API, triggers and periodic jobs, when an enabled channel sends flow
    messages (with none, as for campaigns, the app has no marketing pages)."""
    from app.flows import models  # noqa: F401 - the tables, always (migrations)

    if not app.extensions.get("decant_flow_senders"):
        return
    from app.flows import api, triggers, views

    apply_settings(app, SETTINGS)
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
            "flows-date-field",
            "app.flows.triggers:date_field_daily",
            every_seconds=86_400,
            interval_setting="FLOW_DATE_FIELD_SECONDS",
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
