"""The inbox's working state: who answers a thread, which threads to show, linking an
unknown number to a customer, and why a thread cannot be answered.

A conversation is assigned to a rep (the customer's rep when it starts; anyone may take
it, managers hand it to anyone). Linking an unknown number moves the thread, its texts and
the number's consent to the customer: consent belongs to the address, so nothing is lost
or invented; the ledger gains an entry saying the address now belongs to the customer.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import Select, exists, or_, select, update

from app.auth.models import User
from app.crm.models import Consent, Customer
from app.crm.scoping import get_visible_customer
from app.crm.services import log_activity
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.messaging import consent
from app.messaging.models import Suppression
from app.tables import TableSpec
from blueprints.sms import services
from blueprints.sms.models import SmsConversation, SmsMessage

Filter = Literal["all", "mine", "unassigned", "unread", "opted_out"]
FILTERS: dict[str, str] = {
    "all": "All",
    "mine": "Mine",
    "unassigned": "Unassigned",
    "unread": "Unread",
    "opted_out": "Opted out",
}

_CUSTOMER_NAME = (
    select(Customer.name).where(Customer.id == SmsConversation.customer_id).scalar_subquery()
)
#: The conversations list: newest first; search matches the number and the name.
CONVERSATIONS_TABLE = TableSpec(
    columns={
        "last": SmsConversation.last_message_at,
        "name": db.func.lower(db.func.coalesce(_CUSTOMER_NAME, SmsConversation.contact_name)),
        "phone": SmsConversation.phone,
        "unread": SmsConversation.unread_count,
    },
    default_sort="last",
    default_dir="desc",
    search=(SmsConversation.phone, SmsConversation.contact_name, _CUSTOMER_NAME),
    tiebreak=SmsConversation.id,
    per_page=50,
    desc_first=frozenset({"last", "unread"}),
)


def opted_out_clause() -> Any:
    """SQL: the thread's number opted out of SMS or is suppressed."""
    suppressed = exists().where(
        Suppression.channel == "sms", Suppression.address == SmsConversation.phone
    )
    revoked = exists().where(
        Consent.channel == "sms",
        Consent.address == SmsConversation.phone,
        Consent.status == consent.OPTED_OUT,
    )
    return or_(suppressed, revoked)


def filtered(user: Any, which: str | None) -> Select[Any]:
    """Visible conversations narrowed by one of :data:`FILTERS` (unknown: all)."""
    stmt = services.visible_conversations(user)
    if which == "mine":
        stmt = stmt.where(SmsConversation.assigned_to_id == user.id)
    elif which == "unassigned":
        stmt = stmt.where(SmsConversation.assigned_to_id.is_(None))
    elif which == "unread":
        stmt = stmt.where(SmsConversation.unread_count > 0)
    elif which == "opted_out":
        stmt = stmt.where(opted_out_clause())
    return stmt


def unread_conversations(user: Any) -> int:
    """How many threads ``user`` sees hold unread texts (the navigation's badge)."""
    stmt = services.visible_conversations(user).where(SmsConversation.unread_count > 0)
    return int(db.session.scalar(stmt.with_only_columns(db.func.count())) or 0)


def assignable_users(user: Any) -> list[User]:
    """Whom ``user`` may hand a thread to: anyone active (managers), themselves (reps)."""
    if not user.sees_all_territories:
        return [user]
    return list(db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.name)))


def assign(user: Any, conversation: SmsConversation, assignee_id: str | None) -> SmsConversation:
    """Give the thread to a user (public id) or to nobody. A rep may take a thread or let
    it go, not hand it to someone else (403)."""
    if assignee_id is None:
        if not user.sees_all_territories and conversation.assigned_to_id not in (None, user.id):
            raise Forbidden(
                "only a manager takes a thread from another rep", {"userId": "not yours"}
            )
        conversation.assigned_to_id = None
        db.session.commit()
        return conversation
    assignee = db.session.scalar(select(User).where(User.public_id == assignee_id))
    if assignee is None or not assignee.active:
        raise Invalid("unknown user", {"userId": "no active user has this id"})
    if not user.sees_all_territories and assignee.id != user.id:
        raise Forbidden("a rep can only take a thread themselves", {"userId": "not yourself"})
    conversation.assigned_to_id = assignee.id
    db.session.commit()
    return conversation


def mark_unread(conversation: SmsConversation) -> None:
    """Flag the thread again (its last inbound text unread), e.g. to come back to it."""
    last = db.session.scalar(
        select(SmsMessage)
        .where(SmsMessage.conversation_id == conversation.id, SmsMessage.direction == "inbound")
        .order_by(SmsMessage.created_at.desc(), SmsMessage.id.desc())
        .limit(1)
    )
    if last is None:
        raise Conflict("nothing to mark unread: the thread has no received text", {})
    last.read_at = None
    conversation.unread_count = max(conversation.unread_count or 0, 1)
    db.session.commit()


def composer_block(conversation: SmsConversation) -> str | None:
    """Why no reply can go to this thread now (opted out, suppressed, no opt-in), or None.
    The same rule as sending: a number that texted us lately may get a reply."""
    implied = services.conversational({conversation.phone})
    return consent.refusal("sms", None, conversation.phone, implied=implied)


def is_opted_out(conversation: SmsConversation) -> bool:
    return consent.is_suppressed("sms", conversation.phone) or (
        consent.status_of("sms", conversation.phone) == consent.OPTED_OUT
    )


def customer_matches(user: Any, q: str, limit: int = 10) -> list[Customer]:
    """Customers ``user`` sees whose name, email or phone holds ``q`` (the link picker)."""
    from app.crm.scoping import scope_customers

    text = (q or "").strip().lower()[:100]
    if len(text) < 2:
        return []
    like = f"%{text.replace('%', '').replace('_', '')}%"
    stmt = scope_customers(select(Customer), user).where(
        Customer.archived.is_(False),
        or_(
            db.func.lower(Customer.name).like(like),
            db.func.lower(Customer.email).like(like),
            Customer.phone.like(like),
        ),
    )
    return list(db.session.scalars(stmt.order_by(Customer.name, Customer.id).limit(limit)))


def link_customer(
    user: Any, conversation: SmsConversation, customer_id: str, *, use_as_phone: bool = False
) -> SmsConversation:
    """Give an unknown number's thread to a customer: its texts go on the customer's
    timeline, it is assigned to the customer's rep (unless someone has it), and the
    number's consent is recorded as the customer's (unchanged: it is the address's).
    ``use_as_phone`` also makes the number the customer's phone (refused when another
    customer has it)."""
    if conversation.customer_id is not None:
        raise Conflict("this number is already a customer's", {"customerId": "already linked"})
    customer = get_visible_customer(customer_id, user)
    if customer is None:
        raise NotFound("unknown customer", {"customerId": "no such customer"})
    phone = conversation.phone
    if use_as_phone and customer.phone != phone:
        taken = db.session.scalar(
            select(Customer.id).where(Customer.phone == phone, Customer.id != customer.id)
        )
        if taken is not None:
            raise Conflict(
                f"another customer has {phone}", {"customerId": "another customer has it"}
            )
        customer.phone = phone
    target = db.session.scalar(
        select(SmsConversation).where(
            SmsConversation.phone == phone, SmsConversation.customer_id == customer.id
        )
    )
    if target is None:
        target = conversation
        target.customer_id = customer.id
    else:  # the customer already has a thread with this number: merge into it
        db.session.execute(
            update(SmsMessage)
            .where(SmsMessage.conversation_id == conversation.id)
            .values(conversation_id=target.id)
        )
        target.unread_count = (target.unread_count or 0) + (conversation.unread_count or 0)
        latest = [t for t in (target.last_message_at, conversation.last_message_at) if t]
        target.last_message_at = max(latest) if latest else None
        db.session.delete(conversation)
    if target.assigned_to_id is None:
        target.assigned_to_id = conversation.assigned_to_id or customer.rep_id
    _move_texts(target, customer)
    head = consent.head("sms", phone)
    if head is not None:
        consent.record(
            "sms",
            phone,
            head.status,
            source="linked",
            customer_id=customer.id,
            method=head.method,
            evidence=f"number linked to customer {customer.public_id} by {user.name}",
            recorded_by_id=getattr(user, "id", None),
            obtained_at=head.obtained_at,
        )
    db.session.commit()
    return target


def _move_texts(conversation: SmsConversation, customer: Customer) -> None:
    """The thread's texts become the customer's, each on their timeline once."""
    messages = db.session.scalars(
        select(SmsMessage).where(SmsMessage.conversation_id == conversation.id)
    ).all()
    for message in messages:
        message.customer_id = customer.id
        if message.activity_id is None:
            activity = log_activity(
                customer.id,
                "SMS",
                body=message.body,
                direction="received" if message.direction == "inbound" else "sent",
                occurred_at=message.created_at,
                notes="from an unknown number, linked later",
                commit=False,
            )
            db.session.flush()
            message.activity_id = activity.id
    db.session.flush()


def conversation_extra(conversation: SmsConversation) -> dict[str, Any]:
    """What the inbox API adds to a conversation: assignment and the opted-out state."""
    assignee = (
        db.session.get(User, conversation.assigned_to_id) if conversation.assigned_to_id else None
    )
    return {
        "assignedToId": assignee.public_id if assignee else None,
        "assignedToName": assignee.name if assignee else None,
        "optedOut": is_opted_out(conversation),
        "replyBlocked": composer_block(conversation),
    }
