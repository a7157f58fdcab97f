"""User and token services: no request objects, used by views, API and CLI alike."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, or_, select

from app.auth.models import ROLES, ApiToken, User
from app.auth.passwords import hash_password, verify_password
from app.crm.models import Territory
from app.errors import Invalid
from app.extensions import db
from app.models_base import utcnow

MIN_PASSWORD_LENGTH = 10
DURATION = re.compile(r"^\s*(\d{1,5})\s*([mhdw])\s*$")
DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
MAX_TOKEN_LIFETIME = timedelta(days=3 * 365)


class UserError(Invalid, ValueError):
    """A refused user change, naming the field at fault (a 422 unless caught)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, {field: message})
        self.field = field


def normalise_email(address: str, field: str = "email") -> str:
    try:
        return validate_email(address, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise UserError(field, str(exc)) from exc


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.lower()))


def create_user(
    email: str,
    name: str,
    role: str,
    password: str | None,
    territory: str | None = None,
) -> User:
    email = normalise_email(email)
    if role not in ROLES:
        raise UserError("role", f"role must be one of {', '.join(ROLES)}")
    if not name.strip():
        raise UserError("name", "name is required")
    if find_user(email) is not None:
        raise UserError("email", "a user with this email exists")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise UserError("password", f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    territory_row = find_territory(territory)
    if role == "rep" and territory_row is None:
        raise UserError("territory", "a rep needs a territory")
    user = User(
        email=email,
        name=name.strip(),
        role=role,
        territory=territory_row,
        password_hash=hash_password(password) if password else None,
    )
    db.session.add(user)
    db.session.commit()
    return user


def find_territory(ref: str | None) -> Territory | None:
    """The territory named by its name, public id or external id (None for none)."""
    if not ref:
        return None
    found = db.session.scalar(
        select(Territory).where(
            or_(Territory.name == ref, Territory.public_id == ref, Territory.external_id == ref)
        )
    )
    if found is None:
        raise UserError("territory", f"unknown territory {ref!r}")
    return found


def update_user(user: User, data: dict[str, Any], acting: User | None = None) -> User:
    """Change the name, role or territory ``data`` names (a territory of None: none).

    Refused: a rep without a territory, an admin changing their own role, and demoting
    the last active admin (someone must be left who can undo it)."""
    name = data.get("name", user.name)
    if not isinstance(name, str) or not name.strip():
        raise UserError("name", "name is required")
    if len(name.strip()) > 120:
        raise UserError("name", "at most 120 characters")
    role = data.get("role", user.role)
    if role not in ROLES:
        raise UserError("role", f"role must be one of {', '.join(ROLES)}")
    territory = find_territory(data["territory"]) if "territory" in data else user.territory
    if role != user.role:
        if acting is not None and acting.id == user.id:
            raise UserError("role", "you cannot change your own role")
        if user.role == "admin" and user.active and _other_active_admins(user) == 0:
            raise UserError("role", "the last active admin must stay an admin")
    if role == "rep" and territory is None:
        raise UserError("territory", "a rep needs a territory")
    user.name, user.role, user.territory = name.strip(), role, territory
    db.session.commit()
    return user


def authenticate(email: str, password: str) -> User | None:
    user = find_user(email.strip())
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        return None
    user.last_login_at = utcnow()
    db.session.commit()
    return user


def parse_lifetime(text: str, field: str = "expiresIn") -> timedelta:
    """``30d``, ``12h``, ``90m``, ``2w``: a token's lifetime, at most three years."""
    match = DURATION.match(text or "")
    if match is None:
        raise UserError(field, "a number and a unit: m, h, d or w (e.g. 30d)")
    lifetime = timedelta(**{DURATION_UNITS[match.group(2)]: int(match.group(1))})
    if not timedelta(0) < lifetime <= MAX_TOKEN_LIFETIME:
        raise UserError(field, "between 1 minute and 3 years")
    return lifetime


def issue_token(user: User, name: str = "cli", lifetime: timedelta | None = None) -> str:
    expires_at = utcnow() + lifetime if lifetime is not None else None
    return issue_token_row(user, name, expires_at)[1]


def issue_token_row(
    user: User, name: str = "cli", expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """A new token for ``user``; the secret is returned once and only its hash is kept."""
    row, token = ApiToken.issue(user, name, expires_at)
    db.session.add(row)
    db.session.commit()
    return row, token


def user_tokens(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def find_token(public_id: str, user: User | None = None) -> ApiToken | None:
    stmt = select(ApiToken).where(ApiToken.public_id == public_id)
    if user is not None:
        stmt = stmt.where(ApiToken.user_id == user.id)
    return db.session.scalar(stmt)


def revoke_token(token: ApiToken) -> ApiToken:
    """Refused from the next request on; revoking twice keeps the first time."""
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.commit()
    return token


def deactivate_user(user: User, acting: User | None = None) -> User:
    """The user can no longer sign in; their live sessions and every token stop at once.

    Sessions end because the session generation moves on; tokens are refused because
    their user is inactive (they come back on reactivation unless revoked meanwhile).
    The last active admin, and an admin acting on themselves, are refused: someone must
    be left who can undo it.
    """
    if acting is not None and acting.id == user.id:
        raise UserError("user", "you cannot deactivate yourself")
    if user.role == "admin" and user.active and _other_active_admins(user) == 0:
        raise UserError("user", "the last active admin cannot be deactivated")
    if user.active:
        user.active = False
        user.end_sessions()
        db.session.commit()
    return user


def reactivate_user(user: User) -> User:
    if not user.active:
        user.active = True
        db.session.commit()
    return user


def end_sessions(user: User) -> None:
    """Every session of this user ends (logout: a copied cookie stops working too)."""
    user.end_sessions()
    db.session.commit()


def _other_active_admins(user: User) -> int:
    return db.session.execute(
        select(func.count())
        .select_from(User)
        .where(User.role == "admin", User.active.is_(True), User.id != user.id)
    ).scalar_one()
