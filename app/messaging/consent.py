"""Who may be contacted: suppressions and opt-outs, checked at send time on every path.

Email is opt-out (business customers may be emailed until they say stop); SMS is opt-in
(a customer must have opted in, and STOP wins over everything). A suppressed address is
never sent to on that channel, whoever the customer record says it belongs to.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from flask import current_app
from sqlalchemy import Select, String, and_, bindparam, exists, select

from app import bulk
from app.crm.models import CommunicationPreference, Customer
from app.crm.services import record_consent
from app.extensions import db
from app.messaging.models import Suppression
from app.signals import customer_opted_in, customer_opted_out

CHANNELS = ("email", "sms")


def normalise_address(channel: str, address: str) -> str:
    return address.strip().lower() if channel == "email" else address.strip()


def is_suppressed(channel: str, address: str | None) -> bool:
    if not address:
        return False
    return (
        db.session.scalar(
            select(Suppression.id).where(
                Suppression.channel == channel,
                Suppression.address == normalise_address(channel, address),
            )
        )
        is not None
    )


def refusal(channel: str, customer: Any, address: str | None) -> str | None:
    """Why this customer/address may not be contacted now, or None when it may."""
    return refusals(channel, [(0, customer.id, address)]).get(0)


def refusals(
    channel: str, recipients: Sequence[tuple[int, int | None, str | None]]
) -> dict[int, str]:
    """Why each recipient may not be contacted now, in two queries: ``recipients`` are
    ``(key, customer id or None, address)``; returns ``{key: why}`` for those who may
    not. Without a customer only the suppression list applies (a reply to an unknown
    contact who texted first)."""
    addresses = {normalise_address(channel, a) for _k, _c, a in recipients if a}
    customer_ids = {c for _k, c, _a in recipients if c is not None}
    dialect = db.session.get_bind().dialect.name
    suppressed = set(
        bulk.execute(
            _suppressed_among(dialect),
            {"channel": channel, "addresses": bulk.json_list(addresses)},
        ).scalars()
    )
    statuses = dict(
        bulk.execute(_statuses_of(dialect, channel), {"ids": bulk.json_list(customer_ids)}).all()
    )
    out: dict[int, str] = {}
    for key, customer_id, address in recipients:
        if not address:
            out[key] = f"no {channel} address"
        elif normalise_address(channel, address) in suppressed:
            out[key] = f"{address} is on the {channel} suppression list"
        elif customer_id not in statuses:
            continue  # no such customer: the suppression list was all there was to check
        elif (statuses[customer_id] or "unknown") == "opted_out":
            out[key] = f"the customer opted out of {channel}"
        elif channel == "sms" and statuses[customer_id] != "opted_in":
            out[key] = "the customer has not opted in to SMS"
    return out


@lru_cache(maxsize=8)
def _suppressed_among(dialect: str) -> Select[Any]:
    """The suppressed addresses of a channel among a JSON list of addresses."""
    return select(Suppression.address).where(
        Suppression.channel == bindparam("channel"),
        Suppression.address.in_(bulk.listed("addresses", dialect, String())),
    )


@lru_cache(maxsize=8)
def _statuses_of(dialect: str, channel: str) -> Select[Any]:
    """Each listed customer's preference for ``channel`` (None when they have none)."""
    status_col = getattr(CommunicationPreference, f"{channel}_status")
    return (
        select(Customer.id, status_col)
        .outerjoin(CommunicationPreference, CommunicationPreference.customer_id == Customer.id)
        .where(Customer.id.in_(bulk.listed("ids", dialect)))
    )


def contactable_clause(channel: str):
    """SQL: customers who may receive ``channel`` now (for streaming campaign recipients)."""
    address = Customer.email if channel == "email" else Customer.phone
    suppressed = exists().where(
        and_(
            Suppression.channel == channel,
            Suppression.address == (db.func.lower(address) if channel == "email" else address),
        )
    )
    status_col = getattr(CommunicationPreference, f"{channel}_status")
    pref_status = (
        select(status_col)
        .where(CommunicationPreference.customer_id == Customer.id)
        .scalar_subquery()
    )
    clause = and_(address.is_not(None), ~suppressed)
    if channel == "sms":
        return and_(clause, pref_status == "opted_in")
    return and_(clause, db.func.coalesce(pref_status, "unknown") != "opted_out")


def opt_out(
    channel: str,
    address: str,
    *,
    reason: str,
    source: str,
    customer_id: int | None = None,
    detail: str | None = None,
) -> bool:
    """Suppress an address and record the opt-out on every customer using it.

    Returns True when this changed something (False for a repeat). Commits.
    """
    address = normalise_address(channel, address)
    changed = False
    if not is_suppressed(channel, address):
        db.session.add(
            Suppression(
                channel=channel,
                address=address,
                reason=reason,
                source=source,
                detail=detail,
                customer_id=customer_id,
            )
        )
        changed = True
    customer_ids = _customers_with(channel, address) or ([customer_id] if customer_id else [])
    for cid in customer_ids:
        record_consent(cid, channel, address, "opted_out", source)
    if not customer_ids:
        record_consent(None, channel, address, "opted_out", source)
    db.session.commit()
    app = current_app._get_current_object()
    for cid in customer_ids or [None]:
        customer_opted_out.send(
            app, channel=channel, address=address, customer_id=cid, source=source
        )
    return changed


def opt_in(channel: str, address: str, *, source: str, customer_id: int | None = None) -> None:
    """Lift a suppression and record consent (an explicit opt-in, e.g. START or a form)."""
    address = normalise_address(channel, address)
    db.session.execute(
        db.delete(Suppression).where(Suppression.channel == channel, Suppression.address == address)
    )
    customer_ids = _customers_with(channel, address) or ([customer_id] if customer_id else [])
    for cid in customer_ids:
        record_consent(cid, channel, address, "opted_in", source)
    if not customer_ids:
        record_consent(None, channel, address, "opted_in", source)
    db.session.commit()
    app = current_app._get_current_object()
    for cid in customer_ids or [None]:
        customer_opted_in.send(
            app, channel=channel, address=address, customer_id=cid, source=source
        )


def _customers_with(channel: str, address: str) -> list[int]:
    column = Customer.email if channel == "email" else Customer.phone
    match = db.func.lower(column) == address if channel == "email" else column == address
    return list(db.session.scalars(select(Customer.id).where(match)))
