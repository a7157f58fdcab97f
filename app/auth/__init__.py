"""Users, roles, API tokens, login/logout and the access rules."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from app.auth import access
from app.auth.api import bp as api_bp
from app.auth.cli import users_cli
from app.auth.invites import bp as invites_bp
from app.auth.models import SESSION_ID_SEPARATOR, ApiToken, User
from app.auth.views import bp as views_bp
from app.extensions import db, login_manager

__all__ = ["ApiToken", "User", "init_app", "load_session_user"]


def load_session_user(session_id: str) -> User | None:
    """The user behind a session or remember-me cookie, checked on every request.

    The cookie names the user and the session generation it was issued under; a user
    who is inactive, or whose generation has moved on (logout, deactivation), is nobody.
    """
    public_id, separator, generation = session_id.rpartition(SESSION_ID_SEPARATOR)
    if not separator or not generation.isdigit():
        return None
    user = db.session.scalar(select(User).where(User.public_id == public_id))
    if user is None or not user.active or user.session_generation != int(generation):
        return None
    return user


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    login_manager.user_loader(load_session_user)

    access.init_app(app)
    app.register_blueprint(views_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(invites_bp)
    app.cli.add_command(users_cli)
