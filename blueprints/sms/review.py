"""Inbound texts a person must read: they mention an opt-out word ("stop", "cancel",
"opt out"...) inside a longer message, so they are not taken as an opt-out on their
own (see :mod:`blueprints.sms.keywords`) but flagged ``pending`` in the inbox.

Staff who can see the conversation decide with one click: ``opt_out`` records the
revocation (the FCC counts any reasonable means) exactly as a STOP would, and
``not_opt_out`` clears the flag. An opt-out, once recorded, is never undone here: only
the customer can opt in again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from sqlalchemy import select

from app.errors import Conflict, Invalid, unknown
from app.extensions import db
from app.messaging import consent
from app.models_base import utcnow
from blueprints.sms import services
from blueprints.sms.models import SmsConversation, SmsMessage

if TYPE_CHECKING:
    from app.auth.models import User

Decision = Literal["opt_out", "not_opt_out"]
DECISIONS: tuple[Decision, ...] = ("opt_out", "not_opt_out")
PENDING = "pending"


def flagged_conversations(conversation_ids: Iterable[int]) -> set[int]:
    """Which of these conversations hold a text awaiting a decision."""
    ids = list(conversation_ids)
    if not ids:
        return set()
    return set(
        db.session.scalars(
            select(SmsMessage.conversation_id)
            .where(SmsMessage.conversation_id.in_(ids), SmsMessage.review == PENDING)
            .distinct()
        )
    )


def visible_message(public_id: str, user: User) -> SmsMessage | None:
    """An inbound text in a conversation ``user`` may see."""
    conversations = services.visible_conversations(user).with_only_columns(SmsConversation.id)
    return db.session.scalar(
        select(SmsMessage).where(
            SmsMessage.public_id == public_id,
            SmsMessage.direction == "inbound",
            SmsMessage.conversation_id.in_(conversations.scalar_subquery()),
        )
    )


def decide(user: User, message_id: str, decision: str) -> SmsMessage:
    """Resolve a flagged text; 404 when unseen, 422 for an unknown decision, 409 when
    asked to call a recorded opt-out "not an opt-out"."""
    if decision not in DECISIONS:
        raise Invalid("Invalid input", {"decision": "opt_out or not_opt_out"})
    message = visible_message(message_id, user)
    if message is None:
        raise unknown("message")
    if message.review is None:
        raise Conflict("this text is not awaiting a decision", code="not_flagged")
    if message.review == "opt_out" and decision == "not_opt_out":
        raise Conflict(
            "the text was treated as an opt-out; only the customer can opt in again",
            code="already_opted_out",
        )
    if decision == "opt_out" and message.review != "opt_out":
        consent.opt_out(
            "sms",
            message.from_address or "",
            reason="STOP",
            source="sms:review",
            customer_id=message.customer_id,
            detail=f"reviewed by user {getattr(user, 'id', '?')}: {message.body or ''}"[:300],
        )
    message.review = decision
    message.reviewed_by_id = getattr(user, "id", None)
    message.reviewed_at = utcnow()
    db.session.commit()
    return message
