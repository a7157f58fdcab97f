"""The CRM core: territories, customers, SKUs, orders, activities, consent."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    Time,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql import true

from app.extensions import Model
from app.ids import PublicIdMixin
from app.models_base import TimestampMixin, UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.auth.models import User

ACCOUNT_TYPES = ("ACTIVE", "PROSPECT", "INACTIVE", "CHURNED")
ACCOUNT_PRIORITIES = ("HIGH", "MEDIUM", "LOW")
ACTIVITY_TYPES = ("Email", "SMS", "Email Campaign", "Call", "Note")
DIRECTIONS = ("sent", "received")
CONSENT_STATES = ("unknown", "opted_in", "opted_out")

Money = Numeric(14, 2)
EXTERNAL_ID_LENGTH = 64  # the source system's id (CRM, ERP), unique per entity


class Territory(PublicIdMixin, Model):
    __tablename__ = "territory"
    id_prefix = "ter"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    external_id: Mapped[str | None] = mapped_column(String(EXTERNAL_ID_LENGTH), unique=True)
    #: the source row last imported into it, while unedited since (app/crm/imports/digests.py)
    import_digest: Mapped[str | None] = mapped_column(String(32))


class Customer(PublicIdMixin, TimestampMixin, Model):
    __tablename__ = "customer"
    id_prefix = "cus"
    __table_args__ = (Index("ix_customer_updated_id", "updated_at", "id"),)  # read-back

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    account_type: Mapped[str] = mapped_column(String(16), default="PROSPECT", index=True)
    account_priority: Mapped[str] = mapped_column(String(8), default="MEDIUM", index=True)
    territory_id: Mapped[int | None] = mapped_column(ForeignKey("territory.id"), index=True)
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    lifetime_revenue: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"), index=True)
    last_order_date: Mapped[date | None] = mapped_column(Date, index=True)
    external_id: Mapped[str | None] = mapped_column(String(EXTERNAL_ID_LENGTH), unique=True)
    #: the source row last imported into it, while unedited since (app/crm/imports/digests.py)
    import_digest: Mapped[str | None] = mapped_column(String(32))
    #: archived customers stay (history, consent) but leave every audience
    archived: Mapped[bool] = mapped_column(Boolean, server_default=false())
    #: orders counted in lifetime_revenue (not cancelled or returned)
    order_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    #: app/engagement/score.py: 0-100 from human touches and orders, and what it means
    engagement_score: Mapped[int] = mapped_column(Integer, server_default=text("0"), index=True)
    engagement_state: Mapped[str] = mapped_column(String(12), server_default="at_risk", index=True)
    last_engaged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    engagement_scored_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: when the customer last entered the sunset state (None while not sunset)
    sunset_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    territory: Mapped[Territory | None] = relationship(lazy="joined")
    rep: Mapped[User | None] = relationship(lazy="joined")
    preference: Mapped[CommunicationPreference | None] = relationship(
        back_populates="customer", uselist=False
    )


class Sku(PublicIdMixin, Model):
    __tablename__ = "sku"
    id_prefix = "sku"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    producer: Mapped[str | None] = mapped_column(String(120))
    varietal: Mapped[str | None] = mapped_column(String(80))
    region: Mapped[str | None] = mapped_column(String(120))
    vintage: Mapped[int | None] = mapped_column(Integer)
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    #: the price while on special (below ``price``); None when not on special
    special_price: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    external_id: Mapped[str | None] = mapped_column(String(EXTERNAL_ID_LENGTH), unique=True)
    #: the source row last imported into it, while unedited since (app/crm/imports/digests.py)
    import_digest: Mapped[str | None] = mapped_column(String(32))


class Order(PublicIdMixin, Model):
    __tablename__ = "order"
    id_prefix = "ord"
    __table_args__ = (
        Index("ix_order_customer_date", "customer_id", "order_date"),
        Index("ix_order_updated_id", "updated_at", "id"),  # incremental read-back
        # covering for "customers with an order since D" (smart lists, migration 0012)
        Index("ix_order_date_customer", "order_date", "customer_id"),
        #: the few orders whose UTM may name a campaign (attribution, migration 0046)
        Index(
            "ix_order_utm_customer",
            "customer_id",
            postgresql_where=text("utm_campaign IS NOT NULL"),
            sqlite_where=text("utm_campaign IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    order_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="delivered")
    total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    external_id: Mapped[str | None] = mapped_column(String(EXTERNAL_ID_LENGTH), unique=True)
    #: the source row last imported into it, while unedited since (app/crm/imports/digests.py)
    import_digest: Mapped[str | None] = mapped_column(String(32))
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    #: set by the database on insert (bulk loaders need not name it) and on every update
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), server_default=func.current_timestamp(), onupdate=utcnow
    )
    #: the UTM parameters of the visit a web order came from (a campaign's tracked link)
    utm_source: Mapped[str | None] = mapped_column(String(100))
    utm_medium: Mapped[str | None] = mapped_column(String(100))
    utm_campaign: Mapped[str | None] = mapped_column(String(100))

    customer: Mapped[Customer] = relationship()
    rep: Mapped[User | None] = relationship()
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan"
    )


class OrderLine(Model):
    __tablename__ = "order_line"
    __table_args__ = (Index("ix_order_line_sku_order", "sku_id", "order_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id", ondelete="CASCADE"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("sku.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(10, 2))

    order: Mapped[Order] = relationship(back_populates="lines")
    sku: Mapped[Sku] = relationship(lazy="joined")


class Activity(PublicIdMixin, Model):
    """One entry of a customer's timeline: an email, a text, a campaign message..."""

    __tablename__ = "activity"
    id_prefix = "act"
    public_id_length = 32  # a campaign message's activity takes the message's id
    __table_args__ = (Index("ix_activity_customer_time", "customer_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    type: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)
    direction: Mapped[str] = mapped_column(String(10), default="sent")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    notes: Mapped[str | None] = mapped_column(Text)

    customer: Mapped[Customer] = relationship()
    user: Mapped[User | None] = relationship(lazy="joined")


class CommunicationPreference(TimestampMixin, Model):
    """How and when a customer likes to be contacted. Consent itself is per address and
    channel, in :class:`Consent`, because consent belongs to the number or mailbox that
    gave it, not to the account record."""

    __tablename__ = "communication_preference"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), unique=True
    )
    preferred_contact_start: Mapped[time | None] = mapped_column(Time)
    preferred_contact_end: Mapped[time | None] = mapped_column(Time)
    timezone: Mapped[str | None] = mapped_column(String(64))

    customer: Mapped[Customer] = relationship(back_populates="preference")


class Consent(Model):
    """The current consent of one address on one channel: the head of the ledger whose
    entries are :class:`ConsentChange` rows. Any channel name fits (plug-ins add theirs)."""

    __tablename__ = "consent"
    __table_args__ = (UniqueConstraint("channel", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(12))
    source: Mapped[str] = mapped_column(String(40))
    method: Mapped[str | None] = mapped_column(String(40))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id", ondelete="SET NULL"), index=True
    )
    obtained_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ConsentChange(Model):
    """One entry of the consent ledger: an opt-in or opt-out of an address on a channel,
    with its evidence (who recorded it, how it was obtained, when, the wording shown).
    ``effective`` is False for an entry that did not change the current state (a consent
    obtained before a revocation that came later, or a repeat)."""

    __tablename__ = "consent_change"
    __table_args__ = (Index("ix_consent_change_customer_at", "customer_id", "changed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(254), index=True)
    status: Mapped[str] = mapped_column(String(12))
    source: Mapped[str] = mapped_column(String(40))
    method: Mapped[str | None] = mapped_column(String(40))
    wording: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    obtained_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    effective: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    recorded_by: Mapped[User | None] = relationship(lazy="joined")
