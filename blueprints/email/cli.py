"""``flask email ...`` commands."""

from __future__ import annotations

import click

email_cli = click.Group("email", help="Email channel.")


@email_cli.command("seed-templates")
def seed_templates() -> None:
    """Add the default email and SMS templates that are missing (safe to run again)."""
    from app.messaging.templates import seed_defaults

    click.echo(f"added {seed_defaults()} default templates")


@email_cli.command("sweep")
def sweep() -> None:
    """Re-enqueue single emails left queued or lost in flight."""
    from app.messaging.delivery import sweep_stale

    click.echo(f"re-enqueued {sweep_stale('email')} messages")
