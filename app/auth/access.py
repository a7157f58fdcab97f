"""Who may reach what: public routes, the login wall, roles, CSRF.

Every route needs a logged-in user unless its view is marked :func:`public`. The check is
made once, before any view runs, so a channel that forgets a decorator is still protected.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask, Response, abort, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, user_loaded_from_request
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.api.errors import ApiError, wants_json
from app.current import app_object
from app.extensions import csrf, db
from app.models_base import utcnow

if TYPE_CHECKING:
    from app.auth.models import User

F = TypeVar("F", bound=Callable[..., Any])
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def public(view: F) -> F:
    """Reachable without login (login page, tracking, unsubscribe, provider webhooks)."""
    view.decant_public = True  # type: ignore[attr-defined]
    return view


def csrf_exempt(view: F) -> F:
    """Not a browser form: verified otherwise (provider signatures, one-click unsubscribe)."""
    view.decant_csrf_exempt = True  # type: ignore[attr-defined]
    return view


def is_public(app: Flask, endpoint: str | None) -> bool:
    if endpoint is None:
        return True  # no route matched: the 404/405 handler answers
    if endpoint == "static" or endpoint.endswith(".static"):
        return True
    view = app.view_functions.get(endpoint)
    return bool(getattr(view, "decant_public", False))


def role_required(*roles: str) -> Callable[[F], F]:
    """Allow only these roles (403 otherwise)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                if wants_json():
                    raise ApiError(403, "forbidden", f"Requires role: {' or '.join(roles)}")
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def _load_token_user(token: str) -> User | None:
    from app.auth.models import ApiToken

    row = db.session.scalar(
        select(ApiToken)
        .options(joinedload(ApiToken.user))  # one round trip for token, user and territory
        .where(ApiToken.token_hash == ApiToken.hash(token))
    )
    now = utcnow()
    if row is None or not row.usable_at(now):
        return None
    last = row.last_used_at
    if last is None or now - last > timedelta(minutes=5):
        row.last_used_at = now
        db.session.commit()
    return row.user


def init_app(app: Flask) -> None:
    @app.before_request
    def enforce_login_and_csrf() -> ResponseReturnValue | None:
        g.auth_method = None
        g.pop("_login_user", None)  # never carry a user over from an outer context (tests)
        g.pop("csrf_token", None)  # nor another client's CSRF token (Flask-WTF caches it in g)
        token = _bearer_token()
        if token is not None:
            user = _load_token_user(token)
            if user is None:
                if is_public(app, request.endpoint):
                    return None
                raise ApiError(401, "unauthorized", "Invalid, expired or revoked API token")
            # Flask-Login reads the request's user from g; no session cookie is issued.
            g._login_user = user
            g.auth_method = "token"
            user_loaded_from_request.send(app_object(), user=user)
        elif current_user.is_authenticated:
            g.auth_method = "session"

        if not is_public(app, request.endpoint) and g.auth_method is None:
            if wants_json():
                raise ApiError(401, "unauthorized", "Log in or send an API token")
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))

        if request.method not in SAFE_METHODS and g.auth_method != "token":
            view = app.view_functions.get(request.endpoint or "")
            if not getattr(view, "decant_csrf_exempt", False):
                csrf.protect()
        return None

    @app.after_request
    def no_store_for_signed_in_json(response: Response) -> Response:
        """A signed-in user's answers are theirs alone: no browser or proxy cache keeps
        them for the next person at that machine or behind that proxy."""
        if g.get("auth_method") and response.mimetype == "application/json":
            response.headers["Cache-Control"] = "no-store"
        return response
