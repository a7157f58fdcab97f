"""User and token services: no request objects, used by views, API and CLI alike."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select

from app.auth.models import ROLES, ApiToken, User
from app.auth.passwords import hash_password, verify_password
from app.crm.models import Territory
from app.extensions import db
from app.models_base import utcnow

MIN_PASSWORD_LENGTH = 10


class UserError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


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
    territory_row = None
    if territory:
        territory_row = db.session.scalar(select(Territory).where(Territory.name == territory))
        if territory_row is None:
            raise UserError("territory", f"unknown territory {territory!r}")
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


def authenticate(email: str, password: str) -> User | None:
    user = find_user(email.strip())
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        return None
    user.last_login_at = utcnow()
    db.session.commit()
    return user


def issue_token(user: User, name: str = "cli") -> str:
    row, token = ApiToken.issue(user, name)
    db.session.add(row)
    db.session.commit()
    return token
