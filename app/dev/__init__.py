"""Dev mode: with no provider configured, messages are kept here instead of being sent."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, current_app, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import or_, select

from app.crm.scoping import visible_customer_ids
from app.dev.models import DevMessage
from app.extensions import db

bp = Blueprint("dev", __name__, url_prefix="/dev")


def dev_mode(app: Flask | None = None) -> bool:
    app = app or current_app
    return (
        app.config.get("EMAIL_PROVIDER") == "console" or app.config.get("SMS_PROVIDER") == "console"
    )


def capture(
    channel: str,
    to: str,
    body: str,
    *,
    subject: str | None = None,
    html: str | None = None,
    customer_id: int | None = None,
    user_id: int | None = None,
    meta: dict[str, Any] | None = None,
) -> DevMessage:
    """Keep a message that a console provider 'sent' (committed by the caller)."""
    message = DevMessage(
        channel=channel,
        to=to,
        subject=subject,
        body=body,
        html=html,
        customer_id=customer_id,
        user_id=user_id,
        meta=meta or {},
    )
    db.session.add(message)
    return message


@bp.get("/outbox")
def outbox() -> ResponseReturnValue:
    if not dev_mode():
        abort(404)
    stmt = select(DevMessage).order_by(DevMessage.created_at.desc(), DevMessage.id.desc())
    if not current_user.sees_all_territories:
        stmt = stmt.where(
            or_(
                DevMessage.customer_id.in_(visible_customer_ids(current_user)),
                DevMessage.customer_id.is_(None) & (DevMessage.user_id == current_user.id),
            )
        )
    messages = db.session.scalars(stmt.limit(current_app.config["DEV_OUTBOX_LIMIT"])).all()
    return render_template("dev/outbox.html", messages=messages)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
