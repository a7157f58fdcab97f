"""Users, roles, API tokens, login/logout and the access rules."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from app.auth import access
from app.auth.api import bp as api_bp
from app.auth.cli import users_cli
from app.auth.invites import bp as invites_bp
from app.auth.models import ApiToken, User
from app.auth.views import bp as views_bp
from app.extensions import db, login_manager

__all__ = ["ApiToken", "User", "init_app"]


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(public_id: str) -> User | None:
        user = db.session.scalar(select(User).where(User.public_id == public_id))
        return user if user is not None and user.active else None

    access.init_app(app)
    app.register_blueprint(views_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(invites_bp)
    app.cli.add_command(users_cli)
