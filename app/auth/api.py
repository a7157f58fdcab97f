"""/api/users"""

from __future__ import annotations

from typing import Literal

from flask import Blueprint
from flask_login import current_user
from pydantic import Field
from sqlalchemy import select

from app.api.errors import ApiError, not_found, validation_error
from app.api.pagination import PageQuery, paginate
from app.api.spec import CamelModel, OutModel, api, responses
from app.auth.access import role_required
from app.auth.models import User
from app.auth.services import UserError, create_user
from app.extensions import db

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


def user_json(user: User) -> dict:
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
def list_users(query: PageQuery):
    """Users: everyone for managers and admins; reps see themselves."""
    stmt = select(User).order_by(User.name, User.id)
    if not current_user.sees_all_territories:
        stmt = stmt.where(User.id == current_user.id)
    return paginate(stmt, query.page, query.per_page, user_json)


@bp.get("/me")
@api.validate(resp=responses(HTTP_200=UserOut), tags=["users"])
def me():
    """The user behind this session or token."""
    return user_json(current_user)


@bp.get("/<user_id>")
@api.validate(resp=responses(HTTP_200=UserOut, HTTP_404=None), tags=["users"])
def get_user(user_id: str):
    user = db.session.scalar(select(User).where(User.public_id == user_id))
    if user is None or (not current_user.sees_all_territories and user.id != current_user.id):
        raise not_found("user")
    return user_json(user)


@bp.post("")
@role_required("admin")
@api.validate(json=UserCreate, resp=responses(HTTP_201=UserOut), tags=["users"])
def create(json: UserCreate):
    """Create a user (admins only)."""
    try:
        user = create_user(json.email, json.name, json.role, json.password, json.territory)
    except UserError as exc:
        if exc.field == "email" and "exists" in exc.message:
            raise ApiError(409, "conflict", exc.message, {"email": exc.message}) from exc
        raise validation_error({exc.field: exc.message}) from exc
    return user_json(user), 201
