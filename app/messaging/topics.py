"""Email topics: what a list is about (weekly specials, new arrivals, events), so a person
can leave one topic without leaving all email.

A topic opt-out belongs to the address, like consent (:mod:`app.messaging.consent`): the
preference page acts for the address a message went to. A list may name a topic (the
lists channel says which through its audience resolver's ``topic_of``); a campaign to that
list skips the addresses that left the topic, checked per batch like consent.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ForeignKey, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from app.errors import Conflict, Invalid, NotFound
from app.extensions import Model, db
from app.ids import PublicIdMixin
from app.models_base import UTCDateTime, utcnow


class Topic(PublicIdMixin, Model):
    """A subject people can subscribe to or leave on the preference page."""

    __tablename__ = "topic"
    id_prefix = "top"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TopicOptOut(Model):
    """An email address that left one topic (and only that topic)."""

    __tablename__ = "topic_opt_out"

    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topic.id", ondelete="CASCADE"), primary_key=True
    )
    address: Mapped[str] = mapped_column(String(254), primary_key=True)
    source: Mapped[str] = mapped_column(String(40), default="preferences")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def _address(address: str) -> str:
    return address.strip().lower()


def all_topics() -> list[Topic]:
    return list(db.session.scalars(select(Topic).order_by(Topic.name)))


def get_topic(public_id: str, field: str = "topicId") -> Topic:
    found: Topic | None = db.session.scalar(select(Topic).where(Topic.public_id == public_id))
    if found is None:
        raise NotFound("unknown topic", {field: "no such topic"})
    return found


def create_topic(name: str, description: str | None = None) -> Topic:
    """A new topic; its name is unique (a 409 naming ``name`` otherwise)."""
    clean = " ".join((name or "").split())
    if not clean:
        raise Invalid("a topic needs a name", {"name": "give the topic a name"})
    if len(clean) > 100:
        raise Invalid("name too long", {"name": "at most 100 characters"})
    exists = db.session.scalar(select(Topic.id).where(db.func.lower(Topic.name) == clean.lower()))
    if exists is not None:
        raise Conflict(f"a topic named {clean} exists", {"name": "a topic has this name"})
    topic = Topic(name=clean, description=(description or "").strip()[:300] or None)
    db.session.add(topic)
    db.session.commit()
    return topic


def delete_topic(topic: Topic) -> None:
    """Remove a topic: lists tied to it are no longer (the foreign key sets NULL), and
    the opt-outs of it go with it."""
    db.session.delete(topic)
    db.session.commit()


def left_topics(address: str | None) -> set[int]:
    """The topic ids ``address`` left."""
    if not address:
        return set()
    return set(
        db.session.scalars(
            select(TopicOptOut.topic_id).where(TopicOptOut.address == _address(address))
        )
    )


def set_preferences(address: str, wanted: Iterable[int], source: str = "preferences") -> None:
    """Keep ``address`` on the topics in ``wanted`` and take it off every other one."""
    normal = _address(address)
    wanted_ids = set(wanted)
    every = set(db.session.scalars(select(Topic.id)))
    left = left_topics(normal)
    for topic_id in every - wanted_ids - left:
        db.session.add(TopicOptOut(topic_id=topic_id, address=normal, source=source[:40]))
    back = (left & wanted_ids) & every
    if back:
        db.session.execute(
            delete(TopicOptOut).where(TopicOptOut.address == normal, TopicOptOut.topic_id.in_(back))
        )
    db.session.commit()


def addresses_that_left(topic_id: int, addresses: Iterable[str]) -> set[str]:
    """Those of ``addresses`` (normalised) that left ``topic_id``; one query."""
    wanted = {_address(a) for a in addresses if a}
    if not wanted:
        return set()
    return set(
        db.session.scalars(
            select(TopicOptOut.address).where(
                TopicOptOut.topic_id == topic_id, TopicOptOut.address.in_(wanted)
            )
        )
    )
