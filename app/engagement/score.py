"""The engagement score and state of each customer, and the rule behind them.

Score (0-100): each human touch of the last :data:`LOOKBACK_DAYS` days (the touch sources
of :mod:`app.attribution.touches`: email clicks and human opens, SMS replies) and each
order counts its weight, halved for every ``ENGAGEMENT_HALF_LIFE_DAYS`` of age, so last
week's click weighs more than last quarter's. Weights are the setting
``ENGAGEMENT_WEIGHTS`` (default ``email_click=5,email_open=1,sms_reply=8,sms_click=5,
order=10``); machine opens and clicks never count (they are not touches). Each address
a message went to is scored too, from its own touches (:mod:`app.engagement.contacts`).

State: ``engaged`` at a score of ``ENGAGEMENT_ENGAGED_MIN`` (10) or more; ``sunset`` when
the customer received at least ``SUNSET_MIN_EMAILS`` (10) emails in ``SUNSET_DAYS`` (180)
days with no human touch and no order in that time (Klaviyo's default rule); else
``at_risk``. Campaigns skip sunset addresses unless told otherwise.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import String, bindparam, case, func, select, update

from app.attribution.touches import sources
from app.crm.models import Customer, Order
from app.current import app_object
from app.engagement import contacts
from app.extensions import db
from app.models_base import utcnow
from app.signals import engagement_scores_changed

LOOKBACK_DAYS = 180
CHUNK = 500
DEFAULT_WEIGHTS = {
    "email_click": 5.0,
    "email_open": 1.0,
    "sms_reply": 8.0,
    "sms_click": 5.0,
    "order": 10.0,
}
ENGAGED, AT_RISK, SUNSET = "engaged", "at_risk", "sunset"
STATES = (ENGAGED, AT_RISK, SUNSET)


def weights() -> dict[str, float]:
    configured = str(current_app.config.get("ENGAGEMENT_WEIGHTS") or "")
    out = dict(DEFAULT_WEIGHTS)
    for part in configured.split(","):
        name, _, value = part.partition("=")
        if name.strip() and value.strip():
            out[name.strip()] = float(value)
    return out


def _setting(name: str, default: float) -> float:
    value = current_app.config.get(name)
    return float(value) if value is not None else default


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _decayed(weight: float, at: datetime, now: datetime, half_life: float) -> float:
    age_days = max(0.0, (now - _aware(at)).total_seconds() / 86_400)
    return float(weight * 0.5 ** (age_days / half_life))


def _chunks(values: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def rescore_customers(customer_ids: Collection[int], now: datetime | None = None) -> int:
    """Score these customers again; how many were scored."""
    now = now or utcnow()
    done = 0
    for part in _chunks(sorted(set(customer_ids)), CHUNK):
        changes = _rescore_chunk(part, now)
        db.session.commit()
        done += len(part)
        if changes and engagement_scores_changed.receivers:
            engagement_scores_changed.send(app_object(), changes=changes)
    return done


def rescore_everyone() -> int:
    ids = db.session.scalars(select(Customer.id).where(Customer.archived.is_(False))).all()
    return rescore_customers(ids)


def _rescore_chunk(customer_ids: Sequence[int], now: datetime) -> list[list[int]]:
    """Score one chunk; the [customer id, before, now] of the scores that changed."""
    before: dict[int, int] = {
        cid: int(value or 0)
        for cid, value in db.session.execute(
            select(Customer.id, Customer.engagement_score).where(Customer.id.in_(customer_ids))
        )
    }
    weight = weights()
    half_life = _setting("ENGAGEMENT_HALF_LIFE_DAYS", 30.0)
    since = now - timedelta(days=LOOKBACK_DAYS)
    sunset_since = now - timedelta(days=_setting("SUNSET_DAYS", 180.0))
    score: dict[int, float] = defaultdict(float)
    last: dict[int, datetime] = {}
    by_address: dict[contacts.AddressKey, float] = defaultdict(float)
    last_by_address: dict[contacts.AddressKey, datetime] = {}
    for source in sources():
        for touch in source.touches(customer_ids, since, now + timedelta(seconds=1)):
            at = _aware(touch.touched_at)
            points = _decayed(weight.get(source.kind, 0.0), at, now, half_life)
            score[touch.customer_id] += points
            if touch.customer_id not in last or at > last[touch.customer_id]:
                last[touch.customer_id] = at
            if touch.address:
                key = (
                    touch.customer_id,
                    source.channel,
                    contacts.normalise(source.channel, touch.address),
                )
                by_address[key] += points
                if key not in last_by_address or at > last_by_address[key]:
                    last_by_address[key] = at
    contacts.store(customer_ids, by_address, last_by_address, now)
    orders = db.session.execute(
        select(Order.customer_id, Order.order_date).where(
            Order.customer_id.in_(customer_ids),
            Order.order_date >= since.date(),
            Order.status.not_in(("cancelled", "returned")),
        )
    ).all()
    for customer_id, day in orders:
        at = datetime.combine(day, time(12), tzinfo=UTC)
        score[customer_id] += _decayed(weight["order"], at, now, half_life)
        if customer_id not in last or at > last[customer_id]:
            last[customer_id] = at
    received = _emails_received(customer_ids, sunset_since)
    engaged_min, sunset_min = _thresholds()
    rows: list[dict[str, Any]] = []
    for customer_id in customer_ids:
        value = min(100, round(score.get(customer_id, 0.0)))
        recent = last.get(customer_id)
        quiet = recent is None or recent < sunset_since
        state = _state(value, quiet, received.get(customer_id, 0), engaged_min, sunset_min)
        rows.append({"cid": customer_id, "score": value, "state": state, "last": recent, "at": now})
    c = Customer.__table__
    db.session.execute(
        update(c)
        .where(c.c.id == bindparam("cid"))
        .values(
            engagement_score=bindparam("score"),
            engagement_state=bindparam("state"),
            last_engaged_at=bindparam("last"),
            engagement_scored_at=bindparam("at"),
            # the day a customer went sunset is kept while they stay sunset (the report
            # shows it); leaving sunset clears it
            sunset_at=case(
                (
                    bindparam("state", type_=String) == SUNSET,
                    func.coalesce(c.c.sunset_at, bindparam("at", type_=c.c.sunset_at.type)),
                ),
                else_=None,
            ),
        ),
        rows,
    )
    return [
        [row["cid"], before.get(row["cid"], 0), row["score"]]
        for row in rows
        if before.get(row["cid"], 0) != row["score"]
    ]


def _thresholds() -> tuple[float, float]:
    """The engaged minimum score and the sunset minimum of emails received."""
    return _setting("ENGAGEMENT_ENGAGED_MIN", 10.0), _setting("SUNSET_MIN_EMAILS", 10.0)


def _state(value: int, quiet: bool, received: int, engaged_min: float, sunset_min: float) -> str:
    if value >= engaged_min:
        return ENGAGED
    if quiet and received >= sunset_min:
        return SUNSET
    return AT_RISK


def untouched_values(now: datetime) -> dict[str, Any]:
    """The columns a rescore writes for a customer with no touch, no order and no message,
    as it would write them at ``now``: what an import stores in a customer it creates, so
    that brand-new customers need no rescore (one more rewrite of each new row)."""
    state = _state(0, True, 0, *_thresholds())
    return {
        "engagement_score": 0,
        "engagement_state": state,
        "last_engaged_at": None,
        "engagement_scored_at": now,
        "sunset_at": now if state == SUNSET else None,
    }


def _emails_received(customer_ids: Sequence[int], since: datetime) -> dict[int, int]:
    """Per customer, messages received since ``since``, from every channel that counts
    them (the email channel registers ``emails_received``)."""
    counter = current_app.extensions.get("decant_received_counters", {}).get("email")
    return counter(customer_ids, since) if counter else {}


def register_received_counter(app: Any, channel: str, counter: Any) -> None:
    """A channel's (customer ids, since) -> {customer id: messages sent to them}."""
    app.extensions.setdefault("decant_received_counters", {})[channel] = counter
