"""``flask users ...``: create users and issue API tokens."""

from __future__ import annotations

import sys

import click
from sqlalchemy import select

from app.auth.models import ROLES, User
from app.auth.services import UserError, create_user, find_user, issue_token
from app.extensions import db


@click.group("users")
def users_cli() -> None:
    """Users and API tokens."""


@users_cli.command("create")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--territory", default=None, help="Territory name (required for reps).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_command(
    email: str, name: str, role: str, territory: str | None, password_stdin: bool
) -> None:
    """Create a user."""
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    try:
        user = create_user(email, name, role, password, territory)
    except UserError as exc:
        raise click.ClickException(f"{exc.field}: {exc.message}") from exc
    click.echo(f"created {user.role} {user.email} ({user.public_id})")


@users_cli.command("token")
@click.argument("email")
@click.option("--name", default="cli", help="A label for the token.")
def token_command(email: str, name: str) -> None:
    """Issue a new API token; it is printed once, as the last line."""
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"no user {email}")
    token = issue_token(user, name)
    click.echo(f"API token for {user.email} (store it now, it is not shown again):")
    click.echo(token)


@users_cli.command("list")
def list_command() -> None:
    """List users."""
    for user in db.session.scalars(select(User).order_by(User.email)):
        territory = user.territory.name if user.territory else "-"
        click.echo(f"{user.email}\t{user.role}\t{territory}\t{user.public_id}")
