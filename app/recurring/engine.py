"""The ticker's job: each due occurrence becomes one fresh campaign.

Every few minutes :func:`run_due` takes the active recurring campaigns whose next
occurrence is within the lead time, and for each occurrence: stores its row (insert or
nothing: ``UNIQUE (recurring_id, occurs_at)``), claims it with a conditional update
(``planned`` -> ``created``: one winner when two tickers run), then creates the campaign
through :mod:`app.campaigns.service` from the template and the occurrence's own edits,
fills the featured wines, and schedules it at the occurrence's time. The audience is
the list's id: the campaign engine resolves the (smart) list when the campaign starts,
so a customer added since the last occurrence gets this one.

The lead is short (an hour) so the featured wines and the message are as fresh as they
can be; sent in each recipient's own zone it is 27 hours, so the zones east of the
campaign's get it at their own wall-clock time. An occurrence found more than
:data:`GRACE` late (the ticker was down) is recorded as missed, never sent late.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import select, update

from app.campaigns import service as campaigns
from app.campaigns import zones
from app.campaigns.service import Draft
from app.errors import DomainError, Invalid
from app.extensions import db
from app.models_base import utcnow
from app.recurring import featured, service
from app.recurring.models import RecurringCampaign, RecurringOccurrence

if TYPE_CHECKING:
    from sqlalchemy import CursorResult

    from app.messaging.models import Campaign

log = logging.getLogger(__name__)

LEAD = timedelta(hours=1)
LOCAL_TIME_LEAD = timedelta(hours=27)
GRACE = timedelta(hours=6)
#: occurrences one recurring campaign may work through per run (a long outage)
MAX_PER_RUN = 50


class NoWines(Invalid):
    """The featured rule matched no wine: the occurrence is skipped, not sent empty."""


def lead(rec: RecurringCampaign) -> timedelta:
    return LOCAL_TIME_LEAD if rec.send_local_time else LEAD


def run_due(now: datetime | None = None) -> int:
    """Job (periodic): create the campaigns of the occurrences now due; returns how many
    occurrences were handled. Safe to run twice, and in two processes at once."""
    now = now or utcnow()
    ids = list(
        db.session.scalars(
            select(RecurringCampaign.id).where(
                RecurringCampaign.status == "active",
                RecurringCampaign.next_at.is_not(None),
                RecurringCampaign.next_at <= now + LOCAL_TIME_LEAD,
            )
        )
    )
    handled = 0
    for rec_id in ids:
        rec = db.session.get(RecurringCampaign, rec_id)
        for _ in range(MAX_PER_RUN):
            if rec is None or rec.status != "active" or rec.next_at is None:
                break
            when = rec.next_at
            if when > now + lead(rec):
                break
            handle(rec, when, now)
            handled += 1
            _advance(rec, when)
            db.session.expire_all()  # deleted or paused meanwhile: a fresh read says so
            rec = db.session.scalar(select(RecurringCampaign).where(RecurringCampaign.id == rec_id))
    return handled


def _advance(rec: RecurringCampaign, when: datetime) -> None:
    """Move the cursor past ``when``, unless another ticker moved it already."""
    following = service.next_occurrences(rec, when, 1)
    db.session.execute(
        update(RecurringCampaign)
        .where(RecurringCampaign.id == rec.id, RecurringCampaign.next_at == when)
        .values(next_at=following[0] if following else None)
    )
    db.session.commit()


def _claim(row: RecurringOccurrence, state: str, note: str | None = None) -> bool:
    claimed = cast(
        "CursorResult[Any]",
        db.session.execute(
            update(RecurringOccurrence)
            .where(RecurringOccurrence.id == row.id, RecurringOccurrence.state == "planned")
            .values(state=state, note=note, updated_at=utcnow())
        ),
    ).rowcount
    db.session.commit()
    return bool(claimed)


def handle(rec: RecurringCampaign, when: datetime, now: datetime) -> None:
    """One occurrence: create its campaign once (skipped, missed or already created: no)."""
    row = service.occurrence_row(rec, when)
    if row.state != "planned":
        return
    if now - when > GRACE:
        _claim(row, "skipped", "missed: the scheduler was not running at its time")
        return
    if not _claim(row, "created"):
        return  # another ticker has it
    db.session.refresh(row)
    try:
        campaign = _create_campaign(rec, row)
    except DomainError as exc:
        db.session.rollback()
        row.state = "skipped" if isinstance(exc, NoWines) else "failed"
        row.note = exc.text()[:500]
        db.session.commit()
        log.info("recurring %s at %s: %s", rec.public_id, when, row.note)
        return
    except Exception as exc:  # a bug must not stop the other recurring campaigns
        log.exception("recurring %s at %s: campaign not created", rec.public_id, when)
        db.session.rollback()
        row.state, row.note = "failed", f"could not create the campaign ({type(exc).__name__})"
        db.session.commit()
        return
    log.info("recurring %s at %s: campaign %s", rec.public_id, when, campaign.public_id)


def _creator(rec: RecurringCampaign) -> Any:
    from app.auth.models import User

    user = db.session.get(User, rec.created_by_id) if rec.created_by_id else None
    if user is None or not user.active:
        raise Invalid("no sender", {"createdBy": "the account that created it is gone"})
    return user


def _name(rec: RecurringCampaign, when: datetime) -> str:
    local = zones.local(when, rec.timezone)
    assert local is not None
    return f"{rec.name} · {local:%Y-%m-%d}"[:200]


def _create_campaign(rec: RecurringCampaign, row: RecurringOccurrence) -> Campaign:
    user = _creator(rec)
    rule = featured.check(rec.featured)
    wines = featured.wines(rule) if rule is not None else []
    if rule is not None and not wines:
        what = rule.varietal or rule.rule.replace("_", " ")
        raise NoWines("no wines", {"featured.rule": f"no wine in the catalogue matches ({what})"})
    when = row.occurs_at
    later = when if when > utcnow() + timedelta(seconds=30) else None
    campaign = campaigns.create(
        user,
        Draft(
            channel=rec.channel,
            list_id=rec.list_id,
            name=_name(rec, when),
            content=service.occurrence_content(rec, row),
            scheduled_at=later,
            send_local_time=rec.send_local_time,
        ),
    )
    if rule is not None and campaign.html:
        campaign.html = featured.fill(campaign.html, wines)
    campaign.schedule_zone = rec.timezone  # "09:00" is the recurring campaign's wall clock
    row.campaign_id = campaign.id
    db.session.commit()
    if later is not None:
        return campaigns.schedule(campaign, user, None)
    return campaigns.send_now(campaign, user)
