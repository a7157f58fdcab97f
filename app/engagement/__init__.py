"""Engagement: a score and a state per customer from human signals and orders.

See :mod:`app.engagement.score` for the rule and its settings. Scores are recomputed
daily for everyone (set-based, chunk by chunk), and at once for the customers whose
orders changed or who just clicked as a person.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from app import jobs
from app.channels import PeriodicJob
from app.signals import customers_changed, message_event, message_events

JOB = "app.engagement.score:rescore_customers"


def _on_customers_changed(_sender: Any, *, customer_ids: list[int], **_: Any) -> None:
    if customer_ids:
        jobs.enqueue(JOB, list(customer_ids))


def _on_message_event(
    _sender: Any, *, event: str, data: dict[str, Any] | None = None, **_: Any
) -> None:
    data = data or {}
    customer_id = data.get("customerId")
    # a person's click moves the score at once; opens (a point each, and by the thousand
    # after a send) wait for the daily rescore
    if event == "click" and data.get("human", True) and isinstance(customer_id, int):
        jobs.enqueue(JOB, [customer_id])


def _on_message_events(_sender: Any, *, events: list[dict[str, Any]], **_: Any) -> None:
    """A webhook batch: one rescore for the customers a person's click came from."""
    clicked = {
        e["data"]["customerId"]
        for e in events
        if e.get("event") == "click"
        and (e.get("data") or {}).get("human", True)
        and isinstance((e.get("data") or {}).get("customerId"), int)
    }
    if clicked:
        jobs.enqueue(JOB, sorted(clicked))


def init_app(app: Flask) -> None:
    from app.engagement import api, models, views  # noqa: F401 - models: the table

    app.register_blueprint(views.bp)
    app.register_blueprint(views.kept_bp)
    app.register_blueprint(api.bp)
    customers_changed.connect(_on_customers_changed, sender=app, weak=False)
    message_event.connect(_on_message_event, sender=app, weak=False)
    message_events.connect(_on_message_events, sender=app, weak=False)
    jobs.register_periodic(
        app,
        PeriodicJob(
            "engagement-scores",
            "app.engagement.score:rescore_everyone",
            every_seconds=86_400,
            interval_setting="ENGAGEMENT_RESCORE_SECONDS",
            queue="maintenance",
        ),
    )
