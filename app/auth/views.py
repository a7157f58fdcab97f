"""Login and logout, and the admins' users page (create with an invite link, edit, reassign,
deactivate, reactivate, revoke tokens, send a new invite)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from app.auth.access import public, role_required
from app.auth.forms import AccountForm, LoginForm, UserCreateForm, UserEditForm
from app.auth.invites import invite_url
from app.auth.models import ApiToken, User
from app.auth.services import (
    UserError,
    authenticate,
    create_user,
    deactivate_user,
    end_sessions,
    find_token,
    reactivate_user,
    revoke_token,
    update_user,
)
from app.crm.models import Territory
from app.extensions import db, limiter
from app.form_errors import add_api_error
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
def login() -> ResponseReturnValue:
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
def logout() -> ResponseReturnValue:
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
@role_required("admin", "manager")
def users() -> ResponseReturnValue:
    """Every user; admins also see each one's tokens and the actions. One query for users,
    one for tokens. Managers read the team (who covers which territory), change nothing."""
    people = list(db.session.scalars(select(User).order_by(User.active.desc(), User.name)))
    tokens: dict[int, list[ApiToken]] = {}
    can_edit = current_user.role == "admin"
    if can_edit:
        for token in db.session.scalars(
            select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        ):
            tokens.setdefault(token.user_id, []).append(token)
    return render_template(
        "auth/users.html", users=people, tokens=tokens, now=utcnow(), can_edit=can_edit
    )


@bp.route("/users/<user_id>/deactivate", methods=["GET", "POST"])
@role_required("admin")
def deactivate_user_page(user_id: str) -> ResponseReturnValue:
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
def reactivate_user_page(user_id: str) -> ResponseReturnValue:
    user = reactivate_user(_user_or_404(user_id))
    flash(f"{user.name} can sign in again.", "success")
    return redirect(url_for("auth.users"), 303)


@bp.route("/users/<user_id>/tokens/<token_id>/revoke", methods=["GET", "POST"])
@role_required("admin")
def revoke_token_page(user_id: str, token_id: str) -> ResponseReturnValue:
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


# --- creating and editing users (admins) ---------------------------------------------------


def _territory_choices() -> list[tuple[str, str]]:
    names = db.session.scalars(select(Territory.name).order_by(Territory.name))
    return [("", "— none —"), *((name, name) for name in names)]


def _invite_page(user: User, status: int = 200) -> ResponseReturnValue:
    """The invite link, on this answer only: it is not stored and cannot be shown again."""
    link = invite_url(user.public_id, user.password_hash)
    response = make_response(render_template("auth/invite_link.html", user=user, link=link))
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/users/new", methods=["GET", "POST"])
@role_required("admin")
def new_user() -> ResponseReturnValue:
    """Create a user without a password; the answer shows their one-time invite link."""
    form = UserCreateForm()
    form.territory.choices = _territory_choices()
    if form.validate_on_submit():
        try:
            user = create_user(
                form.email.data or "",
                form.name.data or "",
                form.role.data or "",
                None,
                form.territory.data or None,
            )
        except UserError as exc:
            add_api_error(form, exc)
        else:
            flash(f"{user.name} is created. Send them the link below.", "success")
            return _invite_page(user, 201)
    status = 422 if form.errors or form.form_errors else 200
    return render_template("auth/user_form.html", form=form, user=None), status


@bp.route("/users/<user_id>/edit", methods=["GET", "POST"])
@role_required("admin")
def edit_user(user_id: str) -> ResponseReturnValue:
    """Name, role and territory (reassigning a rep moves only the rep, not the customers)."""
    user = _user_or_404(user_id)
    form = UserEditForm(
        data=None
        if request.method == "POST"
        else {
            "name": user.name,
            "role": user.role,
            "territory": user.territory.name if user.territory else "",
        }
    )
    form.territory.choices = _territory_choices()
    if form.validate_on_submit():
        data = {
            "name": form.name.data or "",
            "role": form.role.data,
            "territory": form.territory.data or None,
        }
        try:
            update_user(user, data, acting=current_user)
        except UserError as exc:
            db.session.rollback()
            add_api_error(form, exc)
        else:
            flash(f"{user.name} is saved.", "success")
            return redirect(url_for("auth.users"), 303)
    status = 422 if form.errors or form.form_errors else 200
    return render_template("auth/user_form.html", form=form, user=user), status


@bp.route("/users/<user_id>/invite", methods=["GET", "POST"])
@role_required("admin")
def reinvite_user(user_id: str) -> ResponseReturnValue:
    """GET asks for confirmation; POST (with CSRF) shows a new one-time invite link."""
    user = _user_or_404(user_id)
    if not user.active:
        flash(f"{user.name} is deactivated: reactivate them before inviting.", "danger")
        return redirect(url_for("auth.users"), 303)
    if request.method == "GET":
        return render_template(
            "auth/confirm.html",
            title="Send a new invite",
            question=f"Make a new invite link for {user.name} ({user.email})?",
            consequence="Whoever opens the link can set this user's password, once; "
            "their current password keeps working until then.",
            action="Make the link",
        )
    return _invite_page(user)


@bp.route("/account", methods=["GET", "POST"])
def account() -> ResponseReturnValue:
    """Your own settings: your time zone (times are stored in UTC and shown in it) and
    your mobile number for test texts."""
    from app.campaigns import zones
    from app.crm.services import normalise_phone
    from app.errors import DomainError

    form = AccountForm(
        data=None
        if request.method == "POST"
        else {"time_zone": zones.user_zone(current_user), "phone": current_user.phone or ""}
    )
    form.time_zone.choices = [(name, name.replace("_", " ")) for name in zones.zone_names()]
    if form.validate_on_submit():
        try:
            phone = normalise_phone(form.phone.data or None)
        except DomainError as exc:
            add_api_error(form, exc)
        else:
            current_user.time_zone = zones.check_zone(form.time_zone.data, "time_zone")
            current_user.phone = phone
            db.session.commit()
            flash("Your settings are saved.", "success")
            return redirect(url_for("auth.account"), 303)
    status = 422 if form.errors or form.form_errors else 200
    return render_template("auth/account.html", form=form), status
