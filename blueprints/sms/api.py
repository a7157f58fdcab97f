"""/api/sales/marketing/sms: thin routes over :mod:`blueprints.sms.services`."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user
from sqlalchemy import select

from app.api.errors import not_found, validation_error
from app.api.limits import SMALL_BODY, body_limit
from app.api.pagination import paginate
from app.api.spec import api, responses
from app.campaigns import service as campaigns
from app.campaigns.registry import Content
from app.campaigns.reports import campaign_json
from app.campaigns.schemas import CampaignOut
from app.campaigns.service import Draft
from app.messaging.readback import messages_query
from app.messaging.readback import page as readback_page
from blueprints.sms import inbox, review, services
from blueprints.sms import readback as rb
from blueprints.sms import schemas as s
from blueprints.sms.models import SmsConversation, SmsMessage
from providers.sms import segment_info

bp = Blueprint("sms_api", __name__, url_prefix="/api/sales/marketing/sms")
TAGS = ["sms"]


def _conversation_or_404(conversation_id: str) -> SmsConversation:
    found = services.get_conversation(conversation_id, current_user)
    if found is None:
        raise not_found("conversation")
    return found


@bp.post("/send")
@body_limit(SMALL_BODY)
@api.validate(
    json=s.SendIn,
    resp=responses(HTTP_201=s.MessageOut, HTTP_202=CampaignOut, HTTP_409=None),
    tags=TAGS,
)
def send(json: s.SendIn):
    """Text one customer (``{to, customerId, body|templateId, mediaUrl?}``: 201 with the
    message), or a list (``{listId, body|templateId, scheduledAt?}``: 202 with the campaign,
    sent through the outbox under the rate limit and each customer's contact window).
    409 ``opted_out`` when the customer has not opted in or has opted out."""
    media = [str(u) for u in json.media_url or []]
    if json.list_id is not None:
        if json.customer_id is not None or json.to is not None or media:
            raise validation_error({"listId": "a list send takes no to, customerId or mediaUrl"})
        campaign = campaigns.create_and_send(
            current_user,
            Draft(
                channel="sms",
                list_id=json.list_id,
                name=json.name,
                content=Content(body=json.body, template_id=json.template_id),
                scheduled_at=json.scheduled_at,
            ),
        )
        return campaign_json(campaign), 202
    if not json.customer_id:
        raise validation_error({"customerId": "required (or listId for a bulk send)"})
    message = services.send_to_customer(
        current_user,
        customer_id=json.customer_id,
        to=json.to,
        body=json.body,
        template_id=json.template_id,
        media_urls=media,
    )
    return services.message_json(message), 201


@bp.get("/messages")
@api.validate(query=rb.MessageQuery, resp=responses(HTTP_200=rb.SmsRowPage), tags=TAGS)
def list_messages(query: rb.MessageQuery):
    """Texts sent and received with their status and delivery (Twilio's delivery status,
    delivered and read times), newest first; reps see their territory's and their own.

    With `updatedSince` or `cursor`: what changed since (a delivery receipt, a review...),
    in change order, with `nextCursor`."""
    stmt = messages_query(SmsMessage, current_user, query.customer_id)
    if query.direction:
        stmt = stmt.where(SmsMessage.direction == query.direction)
    if query.status:
        stmt = stmt.where(SmsMessage.status == query.status)
    return readback_page(
        stmt, query, kind="sms-messages", model=SmsMessage, serialize_page=rb.messages_json
    )


@bp.post("/segments")
@body_limit(SMALL_BODY)
@api.validate(json=s.SegmentsIn, resp=responses(HTTP_200=s.SegmentsOut), tags=TAGS)
def segments(json: s.SegmentsIn):
    """Encoding (GSM-7 or UCS-2) and segment count of a body; saves nothing."""
    info = segment_info(json.body)
    return {
        "encoding": info.encoding,
        "segments": info.segments,
        "units": info.units,
        "characters": info.characters,
    }


@bp.get("/conversations")
@api.validate(query=s.ConversationQuery, resp=responses(HTTP_200=s.ConversationPage), tags=TAGS)
def conversations(query: s.ConversationQuery):
    """Threads you may see, newest first, with unread counts, who answers each and
    whether the number opted out. ``filter``: mine, unassigned, unread, optedOut; ``q``
    matches the number or the name."""
    which = "opted_out" if query.filter == "optedOut" else query.filter
    stmt = inbox.filtered(current_user, which).order_by(
        SmsConversation.last_message_at.desc().nulls_last(), SmsConversation.id.desc()
    )
    if query.q:
        table = inbox.CONVERSATIONS_TABLE.from_request({"q": query.q})
        stmt = table.apply(stmt)
    if query.unread:
        stmt = stmt.where(SmsConversation.unread_count > 0)
    if query.needs_review:
        flagged = select(SmsMessage.conversation_id).where(SmsMessage.review == "pending")
        stmt = stmt.where(SmsConversation.id.in_(flagged))
    return paginate(stmt, query.page, query.per_page, _conversation_json)


def _conversation_json(c: SmsConversation, messages: list[SmsMessage] | None = None) -> dict:
    return services.conversation_json(c, messages) | inbox.conversation_extra(c)


@bp.get("/conversations/<conversation_id>")
@api.validate(resp=responses(HTTP_200=s.ConversationOut, HTTP_404=None), tags=TAGS)
def conversation(conversation_id: str):
    """One thread with its messages, oldest first (marks it read)."""
    found = _conversation_or_404(conversation_id)
    services.mark_read(found)
    return _conversation_json(found, services.thread(found))


@bp.post("/conversations/<conversation_id>/assign")
@body_limit(SMALL_BODY)
@api.validate(
    json=s.AssignIn,
    resp=responses(HTTP_200=s.ConversationOut, HTTP_403=None, HTTP_404=None),
    tags=TAGS,
)
def assign(conversation_id: str, json: s.AssignIn):
    """Give the thread to a user (``userId``) or to nobody (null). Reps may take a thread
    or let theirs go; managers and admins assign anyone (403 otherwise)."""
    found = _conversation_or_404(conversation_id)
    return _conversation_json(inbox.assign(current_user, found, json.user_id))


@bp.post("/conversations/<conversation_id>/read")
@api.validate(resp=responses(HTTP_200=s.ConversationOut, HTTP_404=None), tags=TAGS)
def mark_read(conversation_id: str):
    """Mark every received text of the thread read."""
    found = _conversation_or_404(conversation_id)
    services.mark_read(found)
    return _conversation_json(found)


@bp.post("/conversations/<conversation_id>/unread")
@api.validate(resp=responses(HTTP_200=s.ConversationOut, HTTP_404=None, HTTP_409=None), tags=TAGS)
def mark_unread(conversation_id: str):
    """Flag the thread unread again (its last received text); 409 when it has none."""
    found = _conversation_or_404(conversation_id)
    inbox.mark_unread(found)
    return _conversation_json(found)


@bp.post("/conversations/<conversation_id>/link")
@body_limit(SMALL_BODY)
@api.validate(
    json=s.LinkIn,
    resp=responses(HTTP_200=s.ConversationOut, HTTP_404=None, HTTP_409=None),
    tags=TAGS,
)
def link_customer(conversation_id: str, json: s.LinkIn):
    """Link an unknown number's thread to a customer: the texts go on their timeline
    and the number's consent is recorded as theirs (unchanged). Answers the thread it
    ended in (the customer's own when they already had one with this number). 409 when
    the thread is a customer's already, or (``useAsPhone``) another customer has it."""
    found = _conversation_or_404(conversation_id)
    target = inbox.link_customer(
        current_user, found, json.customer_id, use_as_phone=json.use_as_phone
    )
    return _conversation_json(target)


@bp.post("/conversations/<conversation_id>/messages")
@body_limit(SMALL_BODY)
@api.validate(
    json=s.ReplyIn, resp=responses(HTTP_201=s.MessageOut, HTTP_404=None, HTTP_409=None), tags=TAGS
)
def reply(conversation_id: str, json: s.ReplyIn):
    """Reply in a thread."""
    found = _conversation_or_404(conversation_id)
    return services.message_json(services.reply(current_user, found, json.body)), 201


@bp.post("/messages/<message_id>/review")
@api.validate(
    json=s.ReviewIn,
    resp=responses(HTTP_200=s.MessageOut, HTTP_404=None, HTTP_409=None),
    tags=TAGS,
)
def review_message(message_id: str, json: s.ReviewIn):
    """Decide on an inbound text flagged as a possible opt-out (``review: pending``):
    ``opt_out`` records the revocation like a STOP; ``not_opt_out`` clears the flag.
    409 when the text is not flagged, or to undo a recorded opt-out."""
    return services.message_json(review.decide(current_user, message_id, json.decision))
