"""Request and response shapes of the SMS API (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AnyHttpUrl, Field, field_validator

from app.api.pagination import PageQuery
from app.api.spec import CamelModel, OutModel

MAX_BODY_CHARS = 1600


class SendIn(CamelModel):
    """A text to one customer, or (with ``listId``) a bulk send to a list."""

    to: str | None = Field(default=None, max_length=40)
    customer_id: str | None = Field(default=None, max_length=40)
    body: str | None = Field(default=None, max_length=MAX_BODY_CHARS * 2)
    template_id: str | None = Field(default=None, max_length=40)
    media_url: list[AnyHttpUrl] | None = Field(default=None, max_length=10)
    list_id: str | None = Field(default=None, max_length=40)
    scheduled_at: datetime | None = None
    name: str | None = Field(default=None, max_length=200)

    @field_validator("media_url", mode="before")
    @classmethod
    def _one_or_many(cls, value):
        return [value] if isinstance(value, str) else value


class ReplyIn(CamelModel):
    body: str = Field(max_length=MAX_BODY_CHARS * 2)


class SegmentsIn(CamelModel):
    body: str = Field(max_length=MAX_BODY_CHARS * 4)


class SegmentsOut(OutModel):
    encoding: str
    segments: int
    units: int
    characters: int


class MessageOut(OutModel):
    id: str
    conversation_id: str | None
    customer_id: str | None
    direction: str
    to: str
    body: str | None
    status: str
    delivery_status: str | None
    segments: int
    encoding: str | None
    error_code: str | None
    error_message: str | None
    review: Literal["pending", "opt_out", "not_opt_out"] | None = None


class ConversationOut(OutModel):
    id: str
    phone: str
    customer_id: str | None
    unread_count: int
    needs_review: bool = False
    assigned_to_id: str | None = None
    assigned_to_name: str | None = None
    opted_out: bool = False
    #: why no reply can go to the number now (opted out, no opt-in), or null
    reply_blocked: str | None = None
    messages: list[MessageOut] | None = None


class ConversationPage(OutModel):
    items: list[ConversationOut]
    total: int
    page: int
    per_page: int


class ConversationQuery(PageQuery):
    unread: bool | None = None
    needs_review: bool | None = None
    #: mine (assigned to you), unassigned, unread, optedOut
    filter: Literal["all", "mine", "unassigned", "unread", "optedOut"] | None = None
    #: a name or number fragment
    q: str | None = Field(default=None, max_length=200)


class AssignIn(CamelModel):
    """Who answers the thread: a user's id, or null for nobody."""

    user_id: str | None = Field(max_length=40)


class LinkIn(CamelModel):
    """Link an unknown number's thread to a customer."""

    customer_id: str = Field(min_length=1, max_length=40)
    #: also make the number the customer's phone
    use_as_phone: bool = False


class ReviewIn(CamelModel):
    """A person's decision on a text flagged as a possible opt-out."""

    decision: Literal["opt_out", "not_opt_out"]
