"""Login and logout, and the admins' users page (deactivate, reactivate, revoke tokens)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from app.auth.access import public, role_required
from app.auth.forms import LoginForm
from app.auth.models import ApiToken, User
from app.auth.services import (
    UserError,
    authenticate,
    deactivate_user,
    end_sessions,
    find_token,
    reactivate_user,
    revoke_token,
)
from app.extensions import db, limiter
from app.models_base import utcnow

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths: never redirect off-site after login."""
    if not target:
        return url_for("crm.customers")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("crm.customers")
    return target


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data or "", form.password.data or "")
        if user is not None:
            login_user(user, remember=bool(form.remember.data))
            return redirect(_safe_next(request.args.get("next")))
        flash("Email or password is not right.", "danger")
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    """Ends the session server-side: the user's session generation moves on, so this
    cookie (and any copy of it, or a remember-me cookie) no longer signs anyone in."""
    if g.get("auth_method") == "session":
        end_sessions(current_user._get_current_object())
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


def _user_or_404(user_id: str) -> User:
    user = db.session.scalar(select(User).where(User.public_id == user_id))
    if user is None:
        abort(404)
    return user


@bp.get("/users")
@role_required("admin")
def users():
    """Every user with their tokens: one query for users, one for tokens."""
    people = list(db.session.scalars(select(User).order_by(User.active.desc(), User.name)))
    tokens: dict[int, list[ApiToken]] = {}
    for token in db.session.scalars(
        select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ):
        tokens.setdefault(token.user_id, []).append(token)
    return render_template("auth/users.html", users=people, tokens=tokens, now=utcnow())


@bp.route("/users/<user_id>/deactivate", methods=["GET", "POST"])
@role_required("admin")
def deactivate_user_page(user_id: str):
    """GET asks for confirmation; POST (with CSRF) deactivates."""
    user = _user_or_404(user_id)
    if request.method == "GET":
        return render_template(
            "auth/confirm.html",
            title="Deactivate user",
            question=f"Deactivate {user.name} ({user.email})?",
            consequence="They are signed out everywhere at once, cannot sign in, and their "
            "API tokens stop working until you reactivate them.",
            action="Deactivate",
        )
    try:
        deactivate_user(user, acting=current_user)
    except UserError as exc:
        flash(f"Not deactivated: {exc.message}.", "danger")
        return redirect(url_for("auth.users"), 303)
    flash(f"{user.name} is deactivated and signed out everywhere.", "success")
    return redirect(url_for("auth.users"), 303)


@bp.post("/users/<user_id>/reactivate")
@role_required("admin")
def reactivate_user_page(user_id: str):
    user = reactivate_user(_user_or_404(user_id))
    flash(f"{user.name} can sign in again.", "success")
    return redirect(url_for("auth.users"), 303)


@bp.route("/users/<user_id>/tokens/<token_id>/revoke", methods=["GET", "POST"])
@role_required("admin")
def revoke_token_page(user_id: str, token_id: str):
    """GET asks for confirmation; POST (with CSRF) revokes."""
    token = find_token(token_id, _user_or_404(user_id))
    if token is None:
        abort(404)
    if request.method == "GET":
        return render_template(
            "auth/confirm.html",
            title="Revoke API token",
            question=f"Revoke the token {token.hint}… ({token.name}) of {token.user.email}?",
            consequence="Every request with it is refused from now on. This cannot be undone.",
            action="Revoke",
        )
    revoke_token(token)
    flash(f"Token {token.hint}… is revoked.", "success")
    return redirect(url_for("auth.users"), 303)
