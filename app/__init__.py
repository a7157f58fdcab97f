"""The application factory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask, request, url_for
from flask.json.provider import DefaultJSONProvider
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

from app import (
    api,
    attribution,
    auth,
    brand,
    campaigns,
    channels,
    cli,
    config,
    crm,
    dashboard,
    dev,
    engagement,
    flows,
    jobs,
    outbound,
    preflight,
    recurring,
    repday,
    request_guards,
    security,
    templates_admin,
    vendor,
)
from app.api import busy
from app.api import limits as api_limits
from app.channels import PeriodicJob
from app.extensions import bootstrap, csrf, db, limiter, login_manager, migrate
from app.messaging import models as messaging_models  # noqa: F401 - shared tables
from app.messaging import topics as topic_models  # noqa: F401 - shared tables
from app.webhooks import models as webhook_models  # noqa: F401 - shared table

ROOT = Path(__file__).resolve().parent.parent

# Alembic sees the core's versions and each enabled channel's own folder (its branch).
migrate.configure(channels.configure_alembic)


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build an app: settings, extensions, core modules, then the enabled channels.

    Nothing here opens a connection or does work: the database, Redis and providers are
    reached on first use.
    """
    instance = os.environ.get("DECANT_INSTANCE_PATH") or str(ROOT / "instance")
    app = Flask(__name__, instance_path=instance, instance_relative_config=True)
    config.load_config(app, overrides)
    if isinstance(app.json, DefaultJSONProvider):
        app.json.sort_keys = False  # keep the documented field order in answers
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        # Flask documents wrapping wsgi_app in middleware; its type is a method.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )

    db.init_app(app)
    migrate.init_app(
        app, db, directory=str(ROOT / "migrations"), compare_type=True, render_as_batch=True
    )
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    bootstrap.init_app(app)

    request_guards.init_app(app)
    api_limits.init_app(app)  # first of all hooks: nothing reads a body past its limit
    security.init_app(app)
    api.init_app(app)
    busy.init_app(app)
    auth.init_app(app)
    brand.init_app(app)
    crm.init_app(app)
    dev.init_app(app)
    templates_admin.init_app(app)
    jobs.init_app(app)
    outbound.init_app(app)
    vendor.init_app(app)
    preflight.init_app(app)
    attribution.init_app(app)
    engagement.init_app(app)
    dashboard.init_app(app)
    repday.init_app(app)
    jobs.register_periodic(
        app,
        PeriodicJob(
            "campaign-watchdog",
            "app.messaging.delivery:resume_campaigns",
            every_seconds=60,
            interval_setting="CAMPAIGN_WATCHDOG_SECONDS",
            queue="maintenance",
        ),
    )
    cli.init_app(app)
    channels.init_app(app)
    campaigns.init_app(app)  # after the channels: it serves those that send campaigns
    recurring.init_app(app)  # after the campaigns: it creates theirs
    flows.init_app(app)  # the same: flows send through the channels

    @app.context_processor
    def navigation() -> dict[str, Any]:
        role = current_user.role if current_user.is_authenticated else None
        return {
            "nav_entries": channels.nav_entries(app, role),
            "dev_mode": dev.dev_mode(app),
        }

    @app.template_global()
    def page_url(page: int) -> str:
        """The current page's URL with another ``page`` argument (pagers)."""
        args: dict[str, Any] = {**request.args.to_dict(), "page": page}
        return url_for(request.endpoint or "crm.customers", **(request.view_args or {}), **args)

    return app
