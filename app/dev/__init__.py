"""Dev mode: with no provider configured, messages are kept here instead of being sent."""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Blueprint, Flask, abort, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, or_, select

from app.crm.scoping import visible_customer_ids
from app.dev.models import DevMessage
from app.extensions import db
from app.tables import TableSpec

bp = Blueprint("dev", __name__, url_prefix="/dev")

#: The outbox table: newest first by default; search matches address, subject and text.
OUTBOX_TABLE = TableSpec(
    columns={
        "sent": DevMessage.created_at,
        "channel": DevMessage.channel,
        "to": func.lower(DevMessage.to),
        "subject": func.lower(DevMessage.subject),
    },
    default_sort="sent",
    default_dir="desc",
    search=(DevMessage.to, DevMessage.subject, DevMessage.body),
    tiebreak=DevMessage.id,
    per_page=50,
    desc_first=frozenset({"sent"}),
)


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
    stmt = select(DevMessage)
    channel = request.args.get("channel")
    if channel in ("email", "sms", "whatsapp"):
        stmt = stmt.where(DevMessage.channel == channel)
    if not current_user.sees_all_territories:
        stmt = stmt.where(
            or_(
                DevMessage.customer_id.in_(visible_customer_ids(current_user)),
                DevMessage.customer_id.is_(None) & (DevMessage.user_id == current_user.id),
            )
        )
    table = OUTBOX_TABLE.from_request()
    limit = int(current_app.config["DEV_OUTBOX_LIMIT"])
    table = dataclasses.replace(table, per_page=min(table.per_page, limit))
    pagination = table.paginate(stmt)
    return render_template(
        "dev/outbox.html", messages=pagination.items, pagination=pagination, table=table
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
