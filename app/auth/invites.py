"""One-time invite links: a user made without a password (an import, an admin) sets one.

The link carries a signed, time-limited token naming the user and a fingerprint of their
current password hash. Nothing is stored: the link is shown once to the admin who made
the user, and setting a password changes the hash, so the same link never works twice.
"""

from __future__ import annotations

import hashlib

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from app.api.errors import not_found
from app.api.spec import ApiResponse, OutModel, api, responses
from app.auth.access import public, role_required
from app.auth.models import User
from app.auth.passwords import hash_password
from app.auth.services import MIN_PASSWORD_LENGTH
from app.extensions import db, limiter

SALT = "decant-invite"
DEFAULT_MAX_AGE = 7 * 24 * 3600

bp = Blueprint("invites", __name__)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _fingerprint(public_id: str, password_hash: str | None) -> str:
    return hashlib.sha256(f"{public_id}:{password_hash or ''}".encode()).hexdigest()[:20]


def invite_url(public_id: str, password_hash: str | None = None) -> str:
    """An absolute link for the user ``public_id`` whose hash is ``password_hash`` now."""
    token = _serializer().dumps({"u": public_id, "f": _fingerprint(public_id, password_hash)})
    base: str = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return base + url_for("invites.accept", token=token)


def user_for(token: str) -> User | None:
    """The active user this link is for, or None when it is forged, expired or used."""
    max_age = int(current_app.config.get("INVITE_MAX_AGE_SECONDS", DEFAULT_MAX_AGE))
    try:
        data = _serializer().loads(token, max_age=max_age)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), str):
        return None
    user = db.session.scalar(select(User).where(User.public_id == data["u"]))
    if user is None or not user.active:
        return None
    if data.get("f") != _fingerprint(user.public_id, user.password_hash):
        return None
    return user


class SetPasswordForm(FlaskForm):
    password = PasswordField(
        "New password", validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)]
    )
    confirm = PasswordField(
        "Repeat it", validators=[DataRequired(), EqualTo("password", "The two do not match.")]
    )


@bp.route("/invite/<token>", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def accept(token: str) -> ResponseReturnValue:
    """Set a password from an invite link, then sign in."""
    user = user_for(token)
    if user is None:
        return render_template("auth/invite.html", form=None), 410
    form = SetPasswordForm()
    if form.validate_on_submit():
        user.password_hash = hash_password(form.password.data or "")
        db.session.commit()
        flash("Your password is set. Sign in with it.", "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/invite.html", form=form, user=user)


class InviteOut(OutModel):
    invite_url: str


@bp.post("/api/users/<user_id>/invite")
@role_required("admin")
@api.validate(resp=responses(HTTP_200=InviteOut, HTTP_404=None), tags=["users"])
def reissue(user_id: str) -> ApiResponse:
    """A new invite link for a user (admins only); shown once, usable once, and any
    earlier link stays valid only until one of them is used."""
    user = db.session.scalar(select(User).where(User.public_id == user_id))
    if user is None:
        raise not_found("user")
    return {"inviteUrl": invite_url(user.public_id, user.password_hash)}
