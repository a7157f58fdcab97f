"""Order attribution: which emails and texts sold wine (see :mod:`app.attribution.engine`).

Channels register touch sources (:mod:`app.attribution.touches`); orders are credited
again whenever a customer's orders change (the ``customers_changed`` signal an import or
the API sends), in a background job that takes customer ids.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from app import jobs
from app.signals import customers_changed

#: touch kind -> default window in days (ATTRIBUTION_<KIND>_DAYS overrides)
DEFAULT_WINDOWS = {"email_click": 5, "email_open": 1, "sms_click": 5, "sms_reply": 5}


def _on_customers_changed(_sender: Any, *, customer_ids: list[int], **_: Any) -> None:
    if customer_ids:
        jobs.enqueue("app.attribution.engine:attribute_customers_job", list(customer_ids))


def init_app(app: Flask) -> None:
    from app.attribution import models  # noqa: F401 - the table

    customers_changed.connect(_on_customers_changed, sender=app, weak=False)
