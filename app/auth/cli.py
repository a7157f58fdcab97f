"""``flask users ...``: create, deactivate and reactivate users; issue, list, revoke tokens."""

from __future__ import annotations

import sys
from datetime import datetime

import click
from sqlalchemy import select

from app.auth.models import ROLES, ApiToken, User
from app.auth.services import (
    UserError,
    create_user,
    deactivate_user,
    find_token,
    find_user,
    issue_token,
    parse_lifetime,
    reactivate_user,
    revoke_token,
    user_tokens,
)
from app.extensions import db
from app.models_base import utcnow


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


def _user(email: str) -> User:
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"no user {email}")
    return user


@users_cli.command("token")
@click.argument("email")
@click.option("--name", default="cli", help="A label for the token.")
@click.option("--expires-in", default=None, help="Lifetime, e.g. 30d, 12h, 2w (default: none).")
def token_command(email: str, name: str, expires_in: str | None) -> None:
    """Issue a new API token; it is printed once, as the last line."""
    user = _user(email)
    try:
        lifetime = parse_lifetime(expires_in, "--expires-in") if expires_in else None
    except UserError as exc:
        raise click.ClickException(f"{exc.field}: {exc.message}") from exc
    token = issue_token(user, name, lifetime)
    until = f", expires in {expires_in}" if expires_in else ""
    click.echo(f"API token for {user.email}{until} (store it now, it is not shown again):")
    click.echo(token)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def _token_state(token: ApiToken) -> str:
    if token.revoked_at is not None:
        return f"revoked {_when(token.revoked_at)}"
    if token.expires_at is not None and token.expires_at <= utcnow():
        return f"expired {_when(token.expires_at)}"
    return "active"


@users_cli.command("tokens")
@click.argument("email")
def tokens_command(email: str) -> None:
    """List a user's tokens (id, name, first characters, created, last used, expiry, state)."""
    for token in user_tokens(_user(email)):
        click.echo(
            "\t".join(
                (
                    token.public_id,
                    token.name,
                    token.hint + "…",
                    _when(token.created_at),
                    _when(token.last_used_at),
                    _when(token.expires_at),
                    _token_state(token),
                )
            )
        )


@users_cli.command("revoke-token")
@click.argument("token_id")
def revoke_token_command(token_id: str) -> None:
    """Revoke a token by its id (``tok_…``, from ``flask users tokens EMAIL``)."""
    token = find_token(token_id)
    if token is None:
        raise click.ClickException(f"no token {token_id}")
    revoke_token(token)
    click.echo(f"revoked {token.public_id} ({token.name}) of {token.user.email}")


@users_cli.command("deactivate")
@click.argument("email")
def deactivate_command(email: str) -> None:
    """Deactivate a user: sign-in refused, live sessions and tokens stop at once."""
    try:
        user = deactivate_user(_user(email))
    except UserError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"deactivated {user.email}")


@users_cli.command("reactivate")
@click.argument("email")
def reactivate_command(email: str) -> None:
    """Let a deactivated user sign in again (their unrevoked tokens work again)."""
    user = reactivate_user(_user(email))
    click.echo(f"reactivated {user.email}")


@users_cli.command("list")
def list_command() -> None:
    """List users."""
    for user in db.session.scalars(select(User).order_by(User.email)):
        territory = user.territory.name if user.territory else "-"
        state = "active" if user.active else "deactivated"
        click.echo(f"{user.email}\t{user.role}\t{territory}\t{user.public_id}\t{state}")
