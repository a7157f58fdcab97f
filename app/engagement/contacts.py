"""The engagement score of each contact address: the email address or phone number a
message actually went to, on its channel.

A customer's score (:mod:`app.engagement.score`) is the account's; an account often has a
buyer who reads and an old address nobody does, so each address is scored apart from the
human touches of the messages sent to it (email clicks and human opens by the address
the email went to, SMS replies by the number that replied), with the same weights and
half-life. Orders belong to the account, not to an address, and are left out; machine
opens and clicks never count (they are not touches). The rows are rebuilt with the
customer's score, one DELETE and one INSERT per chunk of customers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select

from app.crm.models import Customer
from app.engagement.models import ContactEngagement
from app.extensions import db

#: (customer id, channel, address)
AddressKey = tuple[int, str, str]


def normalise(channel: str, address: str) -> str:
    """The form an address is grouped and matched in: email case-insensitively."""
    address = address.strip()
    return address.lower() if channel == "email" else address


def store(
    customer_ids: Sequence[int],
    scores: Mapping[AddressKey, float],
    last: Mapping[AddressKey, datetime],
    now: datetime,
) -> None:
    """Replace the address scores of ``customer_ids`` by ``scores`` (not committed)."""
    db.session.execute(
        delete(ContactEngagement).where(ContactEngagement.customer_id.in_(customer_ids))
    )
    rows = [
        {
            "customer_id": customer_id,
            "channel": channel,
            "address": address[:254],
            "score": min(100, round(value)),
            "last_engaged_at": last.get((customer_id, channel, address)),
            "scored_at": now,
        }
        for (customer_id, channel, address), value in scores.items()
    ]
    if rows:
        db.session.execute(insert(ContactEngagement), rows)


def contact_scores(customer: Customer) -> list[dict[str, Any]]:
    """The customer's addresses with their scores (see :func:`contact_scores_of`)."""
    return contact_scores_of([customer])[customer.id]


def contact_scores_of(customers: Sequence[Customer]) -> dict[int, list[dict[str, Any]]]:
    """Each customer's addresses with their scores, in one query for them all: the current
    email address and phone first (0 while no message to them was engaged with), then any
    other address messages went to and someone engaged from (an address since changed)."""
    stored: dict[int, list[Any]] = {c.id: [] for c in customers}
    if stored:
        for row in db.session.execute(
            select(
                ContactEngagement.customer_id,
                ContactEngagement.channel,
                ContactEngagement.address,
                ContactEngagement.score,
                ContactEngagement.last_engaged_at,
            )
            .where(ContactEngagement.customer_id.in_(list(stored)))
            .order_by(ContactEngagement.score.desc(), ContactEngagement.address)
        ):
            stored[row.customer_id].append(row)
    return {c.id: _addresses(c, stored[c.id]) for c in customers}


def _addresses(customer: Customer, stored: Sequence[Any]) -> list[dict[str, Any]]:
    found = {(row.channel, row.address): row for row in stored}
    current = [
        (channel, normalise(channel, address))
        for channel, address in (("email", customer.email), ("sms", customer.phone))
        if address
    ]
    ordered = current + [key for key in found if key not in current]
    out: list[dict[str, Any]] = []
    for channel, address in ordered:
        row = found.get((channel, address))
        out.append(
            {
                "channel": channel,
                "address": address,
                "score": int(row.score) if row else 0,
                "lastEngagedAt": (
                    row.last_engaged_at.isoformat() if row and row.last_engaged_at else None
                ),
                "current": (channel, address) in current,
            }
        )
    return out
