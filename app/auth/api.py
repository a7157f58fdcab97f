"""/api/users: users, their API tokens, deactivation."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from flask import Blueprint
from flask_login import current_user
from pydantic import Field
from sqlalchemy import select

from app.api.errors import ApiError, not_found, validation_error
from app.api.pagination import PageQuery, paginate
from app.api.spec import ApiResponse, CamelModel, OutModel, api, responses
from app.auth.access import role_required
from app.auth.invites import invite_url
from app.auth.models import ApiToken, User
from app.auth.services import (
    UserError,
    create_user,
    deactivate_user,
    find_token,
    issue_token_row,
    parse_lifetime,
    reactivate_user,
    revoke_token,
    update_user,
    user_tokens,
)
from app.extensions import db
from app.models_base import utcnow

bp = Blueprint("users_api", __name__, url_prefix="/api/users")


class UserOut(OutModel):
    id: str
    email: str
    name: str
    role: str
    territory: str | None
    active: bool


class UserPage(OutModel):
    items: list[UserOut]
    total: int
    page: int
    per_page: int


class UserCreate(CamelModel):
    email: str = Field(max_length=254)
    name: str = Field(min_length=1, max_length=120)
    role: Literal["admin", "manager", "rep"]
    territory: str | None = None
    password: str | None = Field(default=None, min_length=10, max_length=200)


class UserCreated(UserOut):
    invite_url: str | None = Field(
        default=None, description="One-time link to set a password (no password given)"
    )


class UserPatch(CamelModel):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    role: Literal["admin", "manager", "rep"] | None = None
    territory: str | None = Field(
        default=None, max_length=80, description="Name, id or external id; null for none"
    )


class TokenOut(OutModel):
    id: str
    name: str
    hint: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    usable: bool


class TokenList(OutModel):
    items: list[TokenOut]


class NewTokenOut(TokenOut):
    token: str


class TokenCreate(CamelModel):
    name: str = Field(default="api", min_length=1, max_length=120)
    expires_in: str | None = Field(
        default=None, max_length=16, description="Lifetime such as 30d, 12h, 90m or 2w."
    )


def token_json(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.public_id,
        "name": token.name,
        "hint": token.hint,
        "createdAt": token.created_at.isoformat(),
        "lastUsedAt": token.last_used_at.isoformat() if token.last_used_at else None,
        "expiresAt": token.expires_at.isoformat() if token.expires_at else None,
        "revokedAt": token.revoked_at.isoformat() if token.revoked_at else None,
        "usable": token.usable_at(utcnow()),
    }


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.public_id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "territory": user.territory.name if user.territory else None,
        "active": user.active,
    }


@bp.get("")
@api.validate(query=PageQuery, resp=responses(HTTP_200=UserPage), tags=["users"])
def list_users(query: PageQuery) -> ApiResponse:
    """Users: everyone for managers and admins; reps see themselves."""
    stmt = select(User).order_by(User.name, User.id)
    if not current_user.sees_all_territories:
        stmt = stmt.where(User.id == current_user.id)
    return paginate(stmt, query.page, query.per_page, user_json)


@bp.get("/me")
@api.validate(resp=responses(HTTP_200=UserOut), tags=["users"])
def me() -> ApiResponse:
    """The user behind this session or token."""
    return user_json(current_user)


@bp.get("/<user_id>")
@api.validate(resp=responses(HTTP_200=UserOut, HTTP_404=None), tags=["users"])
def get_user(user_id: str) -> ApiResponse:
    user = db.session.scalar(select(User).where(User.public_id == user_id))
    if user is None or (not current_user.sees_all_territories and user.id != current_user.id):
        raise not_found("user")
    return user_json(user)


@bp.post("")
@role_required("admin")
@api.validate(json=UserCreate, resp=responses(HTTP_201=UserCreated, HTTP_409=None), tags=["users"])
def create(json: UserCreate) -> ApiResponse:
    """Create a user (admins only). Without a password the answer carries `inviteUrl`, a
    one-time link to set one: shown here only (ask `POST /{userId}/invite` for another)."""
    try:
        user = create_user(json.email, json.name, json.role, json.password, json.territory)
    except UserError as exc:
        if exc.field == "email" and "exists" in exc.message:
            raise ApiError(409, "conflict", exc.message, {"email": exc.message}) from exc
        raise validation_error({exc.field: exc.message}) from exc
    body = user_json(user)
    if json.password is None:
        body["inviteUrl"] = invite_url(user.public_id, user.password_hash)
    return body, 201


@bp.patch("/<user_id>")
@role_required("admin")
@api.validate(json=UserPatch, resp=responses(HTTP_200=UserOut, HTTP_404=None), tags=["users"])
def patch(user_id: str, json: UserPatch) -> ApiResponse:
    """Change a user's name, role or territory (admins only; `territory: null` clears it,
    which a rep cannot have). Deactivation has its own route."""
    data = json.model_dump(exclude_unset=True)
    if data.get("name", "") is None or ("role" in data and data["role"] is None):
        field = "name" if data.get("name", "") is None else "role"
        raise validation_error({field: "cannot be null"})
    try:
        user = update_user(_user_or_404(user_id), data, acting=current_user)
    except UserError as exc:
        raise validation_error({exc.field: exc.message}) from exc
    return user_json(user)


def _user_or_404(user_id: str) -> User:
    user = db.session.scalar(select(User).where(User.public_id == user_id))
    if user is None:
        raise not_found("user")
    return user


@bp.get("/<user_id>/tokens")
@role_required("admin")
@api.validate(resp=responses(HTTP_200=TokenList, HTTP_404=None), tags=["users"])
def list_tokens(user_id: str) -> ApiResponse:
    """A user's API tokens, newest first (admins only; secrets are never shown again)."""
    return {"items": [token_json(t) for t in user_tokens(_user_or_404(user_id))]}


@bp.post("/<user_id>/tokens")
@role_required("admin")
@api.validate(json=TokenCreate, resp=responses(HTTP_201=NewTokenOut, HTTP_404=None), tags=["users"])
def create_token(user_id: str, json: TokenCreate) -> ApiResponse:
    """Issue a token for a user (admins only); ``token`` is in this answer only."""
    user = _user_or_404(user_id)
    try:
        lifetime = parse_lifetime(json.expires_in) if json.expires_in is not None else None
    except UserError as exc:
        raise validation_error({exc.field: exc.message}) from exc
    row, secret = issue_token_row(user, json.name, utcnow() + lifetime if lifetime else None)
    return {**token_json(row), "token": secret}, 201


@bp.post("/<user_id>/tokens/<token_id>/revoke")
@role_required("admin")
@api.validate(resp=responses(HTTP_200=TokenOut, HTTP_404=None), tags=["users"])
def revoke(user_id: str, token_id: str) -> ApiResponse:
    """Revoke a token (admins only): refused from the next request on."""
    token = find_token(token_id, _user_or_404(user_id))
    if token is None:
        raise not_found("token")
    return token_json(revoke_token(token))


@bp.post("/<user_id>/deactivate")
@role_required("admin")
@api.validate(resp=responses(HTTP_200=UserOut, HTTP_404=None), tags=["users"])
def deactivate(user_id: str) -> ApiResponse:
    """Deactivate a user (admins only): their sessions and tokens stop working at once."""
    try:
        user = deactivate_user(_user_or_404(user_id), acting=current_user)
    except UserError as exc:
        raise validation_error({exc.field: exc.message}, exc.message) from exc
    return user_json(user)


@bp.post("/<user_id>/reactivate")
@role_required("admin")
@api.validate(resp=responses(HTTP_200=UserOut, HTTP_404=None), tags=["users"])
def reactivate(user_id: str) -> ApiResponse:
    """Let a deactivated user sign in again (admins only)."""
    return user_json(reactivate_user(_user_or_404(user_id)))
