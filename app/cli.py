"""``flask setup`` and ``flask serve`` (what ``make run`` calls), ``flask channels``."""

from __future__ import annotations

import threading
from pathlib import Path

import click
from flask import Flask, current_app
from flask_migrate import upgrade
from sqlalchemy import func, select
from werkzeug.serving import run_simple

from app import jobs
from app.auth.models import User
from app.channels import channels_of, settings_of
from app.current import app_object
from app.extensions import db
from app.messaging.templates import seed_defaults as seed_templates


@click.command("setup")
@click.option("--no-demo", is_flag=True, help="Do not load demo data into an empty database.")
def setup_command(no_demo: bool) -> None:
    """Migrate the database; on first start load demo data and print the admin login."""
    upgrade(revision="heads")  # the core's head and each enabled channel's branch
    users = db.session.scalar(select(func.count()).select_from(User))
    if not users and not no_demo:
        from app.crm.demo import load_command

        click.get_current_context().invoke(load_command)
    seed_templates()  # the default email and SMS templates (core: every channel uses them)
    for channel in channels_of(app_object()).values():
        if channel.seed is not None:
            channel.seed()
    login_file = Path(current_app.instance_path) / "demo_login.txt"
    click.echo("")
    if login_file.exists():
        click.echo(f"  Decant is ready. {login_file.read_text().strip()}")
    else:
        click.echo("  Decant is ready. Create a login with: flask users create EMAIL ...")
    click.echo("")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def serve_command(host: str, port: int) -> None:
    """Serve the app for local use, with the job ticker for inline scheduled work."""
    app: Flask = app_object()
    stop = threading.Event()
    if not app.config.get("REDIS_URL"):
        jobs.start_ticker(app, stop)
    click.echo(f"  Serving on http://{host}:{port}  (Ctrl+C to stop)")
    try:
        # app.run() refuses to run inside a flask command; serve with werkzeug directly.
        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
    finally:
        stop.set()


@click.group("channels")
def channels_group() -> None:
    """The enabled channels and their settings."""


@channels_group.command("list")
def list_channels() -> None:
    """Each enabled channel, what it requires and its description."""
    for name, channel in channels_of(app_object()).items():
        needs = f" (requires {', '.join(channel.requires)})" if channel.requires else ""
        click.echo(f"{name}{needs}: {channel.description}")


@channels_group.command("settings")
def list_settings() -> None:
    """Every setting the enabled channels declare: name, type, current value, doc."""
    config = current_app.config
    for channel, setting in settings_of(app_object()):
        value = config.get(setting.name)
        shown = "(set)" if setting.secret and value else repr(value)
        click.echo(f"[{channel}] {setting.name} ({setting.type.__name__}) = {shown}")
        if setting.doc:
            click.echo(f"    {setting.doc}")


def init_app(app: Flask) -> None:
    app.cli.add_command(channels_group)
    app.cli.add_command(setup_command)
    app.cli.add_command(serve_command)
