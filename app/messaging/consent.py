"""Who may be contacted: the consent ledger and the suppression list, checked at send time.

Consent belongs to an address on a channel (a mailbox, a phone number), not to a customer
record: a number that texted STOP stays opted out whichever customer it is typed on. The
ledger is :class:`~app.crm.models.ConsentChange` (every opt-in and opt-out with its
evidence) and its head :class:`~app.crm.models.Consent` (the current state per
(channel, address)). A :class:`~app.messaging.models.Suppression` is a hard block (STOP,
unsubscribe, bounce, complaint) that only the person can lift.

Policies per channel: email is opt-out (a business customer may be emailed until they say
no); SMS and every channel a plug-in registers are opt-in by default (no "yes" on the
ledger, no message). A one-to-one reply to a number that texted us recently is allowed
without a recorded opt-in (CTIA's conversational messaging); an opt-out always wins.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, exists, or_, select

from app.crm.models import Consent, ConsentChange, Customer
from app.current import app_object
from app.errors import Conflict, Invalid
from app.extensions import db
from app.messaging.models import Suppression
from app.models_base import utcnow
from app.signals import customer_opted_in, customer_opted_out

if TYPE_CHECKING:
    from app.auth.models import User

OPTED_IN, OPTED_OUT, UNKNOWN = "opted_in", "opted_out", "unknown"
#: How a consent was obtained (recorded with it as evidence).
METHODS = ("written", "web_form", "verbal", "keyword", "double_opt_in", "import", "other")
#: Suppressions nobody but the person lifts, and never from a public page without proof
#: that the address is theirs.
HARD_REASONS = ("bounce", "complaint")


@dataclass(frozen=True)
class ChannelPolicy:
    """How consent works on a channel and where a customer's address for it is kept."""

    requires_opt_in: bool
    address_of: Callable[[Customer], str | None]
    address_column: Any  # the Customer column holding the address, for set-based SQL


_POLICIES: dict[str, ChannelPolicy] = {
    "email": ChannelPolicy(False, lambda c: c.email, Customer.email),
    "sms": ChannelPolicy(True, lambda c: c.phone, Customer.phone),
}


def register_channel(
    name: str,
    *,
    requires_opt_in: bool = True,
    address_of: Callable[[Customer], str | None] | None = None,
    address_column: Any = None,
) -> None:
    """A plug-in channel's consent policy (opt-in, its address derived from the phone, by
    default)."""
    _POLICIES[name] = ChannelPolicy(
        requires_opt_in,
        address_of or (lambda c: c.phone),
        address_column if address_column is not None else Customer.phone,
    )


def policy(channel: str) -> ChannelPolicy:
    found = _POLICIES.get(channel)
    if found is None:
        raise Invalid(f"unknown channel {channel!r}", {"channel": f"unknown channel {channel!r}"})
    return found


def channels() -> list[str]:
    return list(_POLICIES)


def normalise_address(channel: str, address: str) -> str:
    return address.strip().lower() if channel == "email" else address.strip()


# --- reading ---------------------------------------------------------------------------


def head(channel: str, address: str | None) -> Consent | None:
    if not address:
        return None
    return db.session.scalar(
        select(Consent).where(
            Consent.channel == channel, Consent.address == normalise_address(channel, address)
        )
    )


def status_of(channel: str, address: str | None) -> str:
    found = head(channel, address)
    return found.status if found else UNKNOWN


def statuses_of(pairs: Collection[tuple[str, str | None]]) -> dict[tuple[str, str], str]:
    """The consent status of many (channel, address) pairs, one query per channel; keyed
    by (channel, normalised address), UNKNOWN for an address with no ledger head."""
    wanted: dict[str, set[str]] = {}
    for channel, address in pairs:
        if address:
            wanted.setdefault(channel, set()).add(normalise_address(channel, address))
    out = {(channel, a): UNKNOWN for channel, found in wanted.items() for a in found}
    for channel, addresses in wanted.items():
        rows = db.session.execute(
            select(Consent.address, Consent.status).where(
                Consent.channel == channel, Consent.address.in_(addresses)
            )
        )
        out.update({(channel, row.address): row.status for row in rows})
    return out


def suppression_of(channel: str, address: str | None) -> Suppression | None:
    if not address:
        return None
    return db.session.scalar(
        select(Suppression).where(
            Suppression.channel == channel,
            Suppression.address == normalise_address(channel, address),
        )
    )


def is_suppressed(channel: str, address: str | None) -> bool:
    return suppression_of(channel, address) is not None


def history(customer: Customer, limit: int = 200) -> list[ConsentChange]:
    """The ledger entries of a customer's current addresses and of the customer, newest
    first."""
    matches = [ConsentChange.customer_id == customer.id]
    for channel, rule in _POLICIES.items():
        address = rule.address_of(customer)
        if address:
            matches.append(
                and_(
                    ConsentChange.channel == channel,
                    ConsentChange.address == normalise_address(channel, address),
                )
            )
    return list(
        db.session.scalars(
            select(ConsentChange)
            .where(or_(*matches))
            .order_by(ConsentChange.changed_at.desc(), ConsentChange.id.desc())
            .limit(limit)
        )
    )


def summary(customer: Customer) -> dict[str, dict[str, Any]]:
    """Per channel: the address, its consent state and any suppression (for pages/JSON)."""
    out: dict[str, dict[str, Any]] = {}
    for channel, rule in _POLICIES.items():
        address = rule.address_of(customer)
        current = head(channel, address)
        suppressed = suppression_of(channel, address)
        status = current.status if current else UNKNOWN
        out[channel] = {
            "address": address,
            "status": status,
            "source": current.source if current else None,
            "changedAt": current.changed_at.isoformat() if current else None,
            "suppressed": suppressed.reason if suppressed else None,
            "contactable": bool(address)
            and suppressed is None
            and status != OPTED_OUT
            and (status == OPTED_IN or not rule.requires_opt_in),
        }
    return out


# --- checking --------------------------------------------------------------------------


def refusal(
    channel: str, customer: Any, address: str | None, *, implied: Collection[str] = ()
) -> str | None:
    """Why ``address`` may not get a message on ``channel`` now, or None when it may.
    ``customer`` is kept for callers' symmetry; consent is the address's."""
    return refusals(channel, [(0, getattr(customer, "id", None), address)], implied=implied).get(0)


def refusals(
    channel: str,
    recipients: Sequence[tuple[int, int | None, str | None]],
    *,
    implied: Collection[str] = (),
) -> dict[int, str]:
    """Why each recipient may not be contacted now, in two queries. ``recipients`` are
    ``(key, customer id or None, address)``; ``implied`` are addresses whose missing
    opt-in is excused (a reply to a number that just texted us). Returns ``{key: why}``."""
    rule = policy(channel)
    wanted = {normalise_address(channel, a) for _k, _c, a in recipients if a}
    suppressed: set[str] = set()
    states: dict[str, str] = {}
    if wanted:
        suppressed = set(
            db.session.scalars(
                select(Suppression.address).where(
                    Suppression.channel == channel, Suppression.address.in_(wanted)
                )
            )
        )
        states = dict(
            db.session.execute(
                select(Consent.address, Consent.status).where(
                    Consent.channel == channel, Consent.address.in_(wanted)
                )
            ).all()
        )
    excused = {normalise_address(channel, a) for a in implied}
    out: dict[int, str] = {}
    for key, _customer_id, address in recipients:
        if not address:
            out[key] = f"no {channel} address"
            continue
        normal = normalise_address(channel, address)
        state = states.get(normal, UNKNOWN)
        if normal in suppressed:
            out[key] = f"{address} is on the {channel} suppression list"
        elif state == OPTED_OUT:
            out[key] = f"{address} opted out of {channel}"
        elif rule.requires_opt_in and state != OPTED_IN and normal not in excused:
            out[key] = f"no {channel} opt-in is recorded for {address}"
    return out


def check(channel: str, address: str, *, implied: Collection[str] = ()) -> None:
    """Raise :class:`Conflict` (code ``opted_out``) when ``address`` may not be contacted."""
    why = refusal(channel, None, address, implied=implied)
    if why is not None:
        raise Conflict(why, {"to": why}, code="opted_out")


def recipient_address(channel: str, customer: Customer, to: str | None, field: str = "to") -> str:
    """The address a one-to-one message to ``customer`` may go to: the customer's own.

    ``to`` may be omitted (the customer's address is used) or repeat it; any other address
    is refused, so consent and territory are always checked on where the message goes."""
    own = policy(channel).address_of(customer)
    if not own:
        raise Invalid(
            f"the customer has no {channel} address", {field: f"no {channel} address on file"}
        )
    if to is not None and normalise_address(channel, to) != normalise_address(channel, own):
        raise Invalid(
            f"{to} is not this customer's {channel} address",
            {field: f"not this customer's {channel} address (it is {own})"},
        )
    return own


def contactable_clause(channel: str) -> ColumnElement[bool]:
    """SQL over :class:`Customer`: who may receive ``channel`` now (campaign audiences)."""
    rule = policy(channel)
    column = rule.address_column
    address = db.func.lower(column) if channel == "email" else column
    suppressed = exists().where(Suppression.channel == channel, Suppression.address == address)
    state = (
        select(Consent.status)
        .where(Consent.channel == channel, Consent.address == address)
        .scalar_subquery()
    )
    clause = and_(column.is_not(None), ~suppressed)
    if rule.requires_opt_in:
        return and_(clause, state == OPTED_IN)
    return and_(clause, db.func.coalesce(state, UNKNOWN) != OPTED_OUT)


# --- writing ---------------------------------------------------------------------------


def record(
    channel: str,
    address: str,
    status: str,
    *,
    source: str,
    customer_id: int | None = None,
    method: str | None = None,
    wording: str | None = None,
    evidence: str | None = None,
    recorded_by_id: int | None = None,
    obtained_at: datetime | None = None,
) -> ConsentChange:
    """Append an entry to the ledger and move its head, unless the head records a later
    change (a consent obtained before a STOP that came after it never overrides it).
    Does not commit."""
    policy(channel)
    address = normalise_address(channel, address)
    now = utcnow()
    when = min(obtained_at or now, now)
    current = db.session.scalar(
        select(Consent).where(Consent.channel == channel, Consent.address == address)
    )
    # A revocation always applies; a consent only when obtained after the current state.
    effective = (
        status == OPTED_OUT
        or current is None
        or when >= (current.obtained_at or current.changed_at)
    )
    entry = ConsentChange(
        customer_id=customer_id,
        channel=channel,
        address=address,
        status=status,
        source=source[:40],
        method=method,
        wording=wording,
        evidence=evidence,
        recorded_by_id=recorded_by_id,
        obtained_at=obtained_at,
        effective=effective,
        changed_at=now,
    )
    db.session.add(entry)
    if effective:
        if current is None:
            current = Consent(channel=channel, address=address)
            db.session.add(current)
        current.status = status
        current.source = source[:40]
        current.method = method
        current.customer_id = customer_id if customer_id is not None else current.customer_id
        current.obtained_at = when
        current.changed_at = now
    return entry


def opt_out(
    channel: str,
    address: str,
    *,
    reason: str,
    source: str,
    customer_id: int | None = None,
    detail: str | None = None,
    method: str | None = None,
    evidence: str | None = None,
    recorded_by_id: int | None = None,
) -> bool:
    """Suppress an address and record the opt-out on the ledger; tell every customer
    using it. Returns True when this changed something (False for a repeat). Commits."""
    address = normalise_address(channel, address)
    changed = False
    if not is_suppressed(channel, address):
        db.session.add(
            Suppression(
                channel=channel,
                address=address,
                reason=reason,
                source=source[:40],
                detail=detail,
                customer_id=customer_id,
            )
        )
        changed = True
    holders = customers_with(channel, address)
    record(
        channel,
        address,
        OPTED_OUT,
        source=source,
        customer_id=customer_id or (holders[0] if holders else None),
        method=method,
        evidence=evidence or detail,
        recorded_by_id=recorded_by_id,
    )
    db.session.commit()
    app = app_object()
    targets: Sequence[int | None] = holders or [customer_id]
    for cid in targets:
        customer_opted_out.send(
            app, channel=channel, address=address, customer_id=cid, source=source
        )
    return changed


def opt_in(
    channel: str,
    address: str,
    *,
    source: str,
    customer_id: int | None = None,
    method: str | None = None,
    wording: str | None = None,
    evidence: str | None = None,
    recorded_by_id: int | None = None,
    obtained_at: datetime | None = None,
) -> None:
    """The person's own opt-in (START by text, a confirmed double opt-in): lifts any
    suppression of the address and records consent. Staff use :func:`record_by_staff`,
    which never lifts a suppression. Commits."""
    address = normalise_address(channel, address)
    db.session.execute(
        db.delete(Suppression).where(Suppression.channel == channel, Suppression.address == address)
    )
    holders = customers_with(channel, address)
    record(
        channel,
        address,
        OPTED_IN,
        source=source,
        customer_id=customer_id or (holders[0] if holders else None),
        method=method,
        wording=wording,
        evidence=evidence,
        recorded_by_id=recorded_by_id,
        obtained_at=obtained_at,
    )
    db.session.commit()
    app = app_object()
    targets: Sequence[int | None] = holders or [customer_id]
    for cid in targets:
        customer_opted_in.send(
            app, channel=channel, address=address, customer_id=cid, source=source
        )


def record_by_staff(
    user: User,
    customer: Customer,
    *,
    channel: str,
    status: str,
    method: str | None,
    wording: str | None = None,
    evidence: str | None = None,
    obtained_at: datetime | None = None,
) -> ConsentChange:
    """A consent or an opt-out a staff member records for a customer's own address, with
    its evidence. An opt-out always applies. An opt-in never lifts a suppression (only the
    person can: START, or the emailed confirmation) and never overrides a revocation that
    came after it was obtained. Commits."""
    rule = policy(channel)
    address = rule.address_of(customer)
    if not address:
        raise Invalid(
            f"the customer has no {channel} address", {"channel": f"no {channel} address on file"}
        )
    if status not in (OPTED_IN, OPTED_OUT):
        raise Invalid("status must be opted_in or opted_out", {"status": "opted_in or opted_out"})
    if method is not None and method not in METHODS:
        raise Invalid("unknown method", {"method": f"one of {', '.join(METHODS)}"})
    now = utcnow()
    if obtained_at is not None:
        if obtained_at.tzinfo is None:
            raise Invalid("give a time zone", {"obtainedAt": "give a time zone (e.g. ...Z)"})
        if obtained_at > now + timedelta(minutes=5):
            raise Invalid("in the future", {"obtainedAt": "cannot be in the future"})
    if status == OPTED_OUT:
        opt_out(
            channel,
            address,
            reason="manual",
            source="staff",
            customer_id=customer.id,
            method=method,
            evidence=evidence,
            recorded_by_id=user.id,
        )
        return _latest(channel, address)
    if method is None:
        raise Invalid("say how consent was obtained", {"method": "required for an opt-in"})
    if rule.requires_opt_in and not (wording or "").strip():
        raise Invalid(
            "record the wording the customer agreed to",
            {"wording": "required: the consent language shown or read to the customer"},
        )
    blocked = suppression_of(channel, address)
    if blocked is not None:
        how = (
            "they can text START to opt back in"
            if channel != "email"
            else "they can re-subscribe from the link in any email (a confirmation is sent)"
        )
        if blocked.reason in HARD_REASONS:
            how = f"the address is suppressed after a {blocked.reason}; fix the address first"
        raise Conflict(
            f"{address} is suppressed ({blocked.reason}, {blocked.created_at:%Y-%m-%d}): "
            f"only the customer can lift that; {how}",
            {"status": f"suppressed ({blocked.reason})"},
            code="opted_out",
        )
    entry = record(
        channel,
        address,
        OPTED_IN,
        source="staff",
        customer_id=customer.id,
        method=method,
        wording=(wording or "").strip() or None,
        evidence=evidence,
        recorded_by_id=user.id,
        obtained_at=obtained_at,
    )
    if not entry.effective:
        db.session.commit()  # the ledger keeps the attempt; the head stays as it is
        raise Conflict(
            f"{address} revoked consent after this consent was obtained; it was recorded "
            "in the history but does not apply",
            {"obtainedAt": "earlier than the customer's latest opt-out"},
            code="opted_out",
        )
    db.session.commit()
    customer_opted_in.send(
        app_object(),
        channel=channel,
        address=address,
        customer_id=customer.id,
        source="staff",
    )
    return entry


def _latest(channel: str, address: str) -> ConsentChange:
    return db.session.scalars(
        select(ConsentChange)
        .where(ConsentChange.channel == channel, ConsentChange.address == address)
        .order_by(ConsentChange.id.desc())
        .limit(1)
    ).one()


def customers_with(channel: str, address: str) -> list[int]:
    column = policy(channel).address_column
    match = db.func.lower(column) == address if channel == "email" else column == address
    return list(db.session.scalars(select(Customer.id).where(match).order_by(Customer.id)))


def change_json(entry: ConsentChange) -> dict[str, Any]:
    return {
        "channel": entry.channel,
        "address": entry.address,
        "status": entry.status,
        "source": entry.source,
        "method": entry.method,
        "wording": entry.wording,
        "evidence": entry.evidence,
        "recordedBy": entry.recorded_by.name if entry.recorded_by else None,
        "obtainedAt": entry.obtained_at.isoformat() if entry.obtained_at else None,
        "recordedAt": entry.changed_at.isoformat(),
        "effective": entry.effective,
    }
