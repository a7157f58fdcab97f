"""CRM services: customers, activities, consent. Plain functions, no request objects."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import Select, func, or_, select

from app.auth.models import User
from app.crm.models import (
    Activity,
    CommunicationPreference,
    Customer,
    Order,
    Sku,
    Territory,
)
from app.crm.references import named_by
from app.crm.scoping import scope_customers
from app.current import app_object
from app.engagement.contacts import contact_scores_of
from app.errors import Forbidden, invalid
from app.extensions import db
from app.messaging import consent
from app.models_base import utcnow
from app.signals import customer_changed


def normalise_email(value: str | None, field: str = "email") -> str | None:
    if value is None or value == "":
        return None
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise invalid({field: str(exc)}) from exc


class NotAPhoneNumber(ValueError):
    """Why a string is not a valid phone number (the 422's reason)."""


def e164(value: str, region: str) -> str:
    """``value`` (any written form, read in ``region`` when it has no country code) in
    E.164; :class:`NotAPhoneNumber` saying why not. Depends on its arguments only (and
    the phonenumbers metadata), so an answer may be remembered."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise NotAPhoneNumber(f"not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise NotAPhoneNumber("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_region() -> str:
    """Where a number written without its country code is read."""
    return str(current_app.config.get("DEFAULT_PHONE_REGION", "US"))


def normalise_phone(value: str | None, field: str = "phone") -> str | None:
    """Any written form of a number -> E.164, or a 422 naming ``field``."""
    if value is None or value == "":
        return None
    try:
        return e164(value, phone_region())
    except NotAPhoneNumber as exc:
        raise invalid({field: str(exc)}) from exc


def money(value: Any) -> str:
    return f"{value:.2f}" if value is not None else "0.00"


def customer_json(c: Customer) -> dict[str, Any]:
    return customers_json([c])[0]


def customers_json(customers: Sequence[Customer]) -> list[dict[str, Any]]:
    """A page of customers as the API shows them: their address scores and consent read
    in one query each for the whole page, not per customer."""
    scores = contact_scores_of(customers)
    addresses = [(ch, a) for c in customers for ch, a in (("email", c.email), ("sms", c.phone))]
    statuses = consent.statuses_of(addresses)

    def status(channel: str, address: str | None) -> str:
        if not address:
            return consent.UNKNOWN
        return statuses[(channel, consent.normalise_address(channel, address))]

    return [_customer_json(c, scores[c.id], status) for c in customers]


def _customer_json(
    c: Customer, scores: list[dict[str, Any]], status: Callable[[str, str | None], str]
) -> dict[str, Any]:
    pref = c.preference
    return {
        "id": c.public_id,
        "externalId": c.external_id,
        "name": c.name,
        "email": c.email,
        "phone": c.phone,
        "accountType": c.account_type,
        "accountPriority": c.account_priority,
        "territory": c.territory.name if c.territory else None,
        "territoryId": c.territory.public_id if c.territory else None,
        "repId": c.rep.public_id if c.rep else None,
        "repName": c.rep.name if c.rep else None,
        "customFields": c.custom_fields or {},
        "lifetimeRevenue": money(c.lifetime_revenue),
        "lastOrderDate": c.last_order_date.isoformat() if c.last_order_date else None,
        "orderCount": c.order_count or 0,
        "engagementScore": c.engagement_score or 0,
        "engagementState": c.engagement_state or "at_risk",
        "lastEngagedAt": c.last_engaged_at.isoformat() if c.last_engaged_at else None,
        "contactScores": scores,
        "archived": bool(c.archived),
        "createdAt": c.created_at.isoformat() if c.created_at else None,
        "updatedAt": c.updated_at.isoformat() if c.updated_at else None,
        "preferences": {
            channel: status(channel, address)
            for channel, address in (("email", c.email), ("sms", c.phone))
        },
        "contactWindow": (
            {
                "start": pref.preferred_contact_start.strftime("%H:%M"),
                "end": pref.preferred_contact_end.strftime("%H:%M"),
            }
            if pref and pref.preferred_contact_start and pref.preferred_contact_end
            else None
        ),
        "timezone": pref.timezone if pref else None,
    }


def activity_json(a: Activity) -> dict[str, Any]:
    return {
        "id": a.public_id,
        "type": a.type,
        "subject": a.subject,
        "body": a.body,
        "direction": a.direction,
        "occurredAt": a.occurred_at.isoformat(),
        "notes": a.notes,
        "customerId": a.customer.public_id,
        "userId": a.user.public_id if a.user else None,
        "userName": a.user.name if a.user else None,
    }


def customers_query(
    user: User,
    *,
    territory: str | None = None,
    account_priority: str | None = None,
    account_type: str | None = None,
    q: str | None = None,
) -> Select[Any]:
    stmt = scope_customers(select(Customer), user)
    if territory:  # by name, external id or Decant id
        stmt = stmt.join(Territory, Customer.territory_id == Territory.id).where(
            (Territory.name == territory) | named_by(Territory, territory)
        )
    if account_priority:
        stmt = stmt.where(Customer.account_priority == account_priority)
    if account_type:
        stmt = stmt.where(Customer.account_type == account_type)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(
            or_(func.lower(Customer.name).like(like), func.lower(Customer.email).like(like))
        )
    return stmt.order_by(Customer.name, Customer.id)


def _territory_for(user: User, name: str | None, field: str = "territory") -> Territory | None:
    if name is None:
        return user.territory if not user.sees_all_territories else None
    territory = db.session.scalar(select(Territory).where(Territory.name == name))
    if territory is None:  # or its external id, or its Decant id
        territory = db.session.scalar(select(Territory).where(named_by(Territory, name)))
    if territory is None:
        raise invalid({field: f"unknown territory {name!r}"})
    if not user.sees_all_territories and territory.id != user.territory_id:
        raise invalid({field: "outside your territory"})
    return territory


def _rep_for(user: User, rep_id: str | None) -> User | None:
    """The user named as a customer's rep: a rep may only name themselves."""
    if rep_id is None:
        return None
    rep = db.session.scalar(select(User).where(named_by(User, rep_id)))
    if user.role == "rep" and (rep is None or rep.id != user.id):  # no oracle of who exists
        raise Forbidden("A rep can only assign themselves", {"repId": "not yourself"})
    if rep is None or not rep.active:
        raise invalid({"repId": "unknown user" if rep is None else "inactive user"})
    return rep


def create_customer(user: User, data: dict[str, Any]) -> Customer:
    """Validate everything first, then write once: a 422 never leaves a partial row."""
    email = normalise_email(data.get("email"))
    phone = normalise_phone(data.get("phone"))
    territory = _territory_for(user, data.get("territory"))
    rep = _rep_for(user, data.get("rep_id"))
    if rep is None and user.role == "rep":
        rep = user
    customer = Customer(
        name=data["name"],
        email=email,
        phone=phone,
        account_type=data.get("account_type") or "PROSPECT",
        account_priority=data.get("account_priority") or "MEDIUM",
        territory=territory,
        rep=rep,
        custom_fields=data.get("custom_fields") or {},
    )
    db.session.add(customer)
    db.session.commit()
    customer_changed.send(app_object(), customer_id=customer.id)
    return customer


def update_customer(user: User, customer: Customer, data: dict[str, Any]) -> Customer:
    changes: dict[str, Any] = {}
    if "name" in data and data["name"] is not None:
        changes["name"] = data["name"]
    if "email" in data:
        changes["email"] = normalise_email(data["email"])
    if "phone" in data:
        changes["phone"] = normalise_phone(data["phone"])
    for key in ("account_type", "account_priority"):
        if data.get(key) is not None:
            changes[key] = data[key]
    if data.get("territory") is not None:
        changes["territory"] = _territory_for(user, data["territory"])
    if data.get("rep_id") is not None:
        changes["rep"] = _rep_for(user, data["rep_id"])
    if data.get("custom_fields") is not None:
        merged = dict(customer.custom_fields or {})
        for key, value in data["custom_fields"].items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        changes["custom_fields"] = merged
    for key, value in changes.items():
        setattr(customer, key, value)
    db.session.commit()
    customer_changed.send(app_object(), customer_id=customer.id)
    return customer


def activities_query(customer: Customer | Any) -> Select[Any]:
    """A customer's timeline, newest first; ``customer`` may also be a scalar subquery
    of its id (the API folds the visibility check into the page query that way)."""
    customer_id = customer.id if isinstance(customer, Customer) else customer
    return (
        select(Activity)
        .where(Activity.customer_id == customer_id)
        .order_by(Activity.occurred_at.desc(), Activity.id.desc())
    )


def log_activity(
    customer_id: int,
    type_: str,
    *,
    subject: str | None = None,
    body: str | None = None,
    direction: str = "sent",
    user_id: int | None = None,
    occurred_at: datetime | None = None,
    notes: str | None = None,
    commit: bool = True,
) -> Activity:
    """Record a timeline entry; channels call this for every message."""
    activity = Activity(
        customer_id=customer_id,
        type=type_,
        subject=subject,
        body=body,
        direction=direction,
        user_id=user_id,
        occurred_at=occurred_at or utcnow(),
        notes=notes,
    )
    db.session.add(activity)
    if commit:
        db.session.commit()
    return activity


def preference_for(customer_id: int) -> CommunicationPreference:
    pref = db.session.scalar(
        select(CommunicationPreference).where(CommunicationPreference.customer_id == customer_id)
    )
    if pref is None:
        pref = CommunicationPreference(customer_id=customer_id)
        db.session.add(pref)
    return pref


def order_json(o: Order) -> dict[str, Any]:
    return {
        "id": o.public_id,
        "externalId": o.external_id,
        "customerId": o.customer.public_id,
        "customerExternalId": o.customer.external_id,
        "repId": o.rep.public_id if o.rep else None,
        "orderDate": o.order_date.isoformat(),
        "status": o.status,
        "total": money(o.total),
        "updatedAt": o.updated_at.isoformat() if o.updated_at else None,
        "utmSource": o.utm_source,
        "utmMedium": o.utm_medium,
        "utmCampaign": o.utm_campaign,
        "lines": [
            {
                "skuId": line.sku.public_id,
                "skuExternalId": line.sku.external_id,
                "skuName": line.sku.name,
                "quantity": line.quantity,
                "unitPrice": money(line.unit_price),
            }
            for line in o.lines
        ],
    }


def sku_json(s: Sku) -> dict[str, Any]:
    return {
        "id": s.public_id,
        "externalId": s.external_id,
        "code": s.code,
        "name": s.name,
        "producer": s.producer,
        "varietal": s.varietal,
        "region": s.region,
        "vintage": s.vintage,
        "price": money(s.price),
        "specialPrice": money(s.special_price) if s.special_price is not None else None,
        "active": s.active,
    }


def territory_json(t: Territory) -> dict[str, Any]:
    return {
        "id": t.public_id,
        "externalId": t.external_id,
        "name": t.name,
        "timezone": t.timezone,
    }
