"""A rep's day: the accounts to contact today, ranked with the reasons, and one-click
actions (see :mod:`app.repday.service`)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.repday import api, models, views  # noqa: F401 - models: the table

    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
