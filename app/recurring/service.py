"""Recurring campaigns: create, edit, pause and resume them; list what comes next; skip
or edit one occurrence before it runs. Managers and admins only (the boundary checks).

Occurrences are computed from the rule (:mod:`app.recurring.rules`); a row is stored for
one only when a person edits or skips it, or when its campaign is created
(:mod:`app.recurring.engine`). Services raise the core's domain errors.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.dialects import postgresql, sqlite

from app.campaigns import registry, zones
from app.campaigns.registry import Content
from app.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.ids import new_public_id
from app.messaging import audiences
from app.messaging import templates as tpl
from app.messaging.models import Campaign, Template
from app.models_base import utcnow
from app.recurring import featured, rules
from app.recurring.models import RecurringCampaign, RecurringOccurrence

#: how many occurrences to come a read shows
UPCOMING = 5
UNSET: Any = object()


@dataclass(frozen=True)
class Spec:
    """What a user gives for a recurring campaign; on an edit, UNSET fields stay."""

    name: Any = UNSET
    channel: Any = UNSET
    list_id: Any = UNSET
    template_id: Any = UNSET  # a template's public id, or None
    subject: Any = UNSET
    html: Any = UNSET
    body: Any = UNSET
    rule: Any = UNSET
    starts_at: Any = UNSET  # the first occurrence's local date and time (or aware)
    time_zone: Any = UNSET
    send_local_time: Any = UNSET
    featured: Any = UNSET  # {"rule", "count", "varietal"} or None

    def given(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) is not UNSET
        }


@dataclass(frozen=True)
class Occurrence:
    """One occurrence to come or past, stored or only computed."""

    occurs_at: datetime
    state: str = "planned"
    row: RecurringOccurrence | None = None
    campaign: Campaign | None = None

    @property
    def edited(self) -> bool:
        return self.row is not None and any((self.row.subject, self.row.html, self.row.body))


# --- reading -------------------------------------------------------------------------


def visible() -> Select[RecurringCampaign]:
    return select(RecurringCampaign).order_by(
        RecurringCampaign.created_at.desc(), RecurringCampaign.id.desc()
    )


def get(public_id: str) -> RecurringCampaign:
    found = db.session.scalar(
        select(RecurringCampaign).where(RecurringCampaign.public_id == public_id)
    )
    if found is None:
        raise NotFound("Recurring campaign not found")
    return found


def next_occurrences(
    rec: RecurringCampaign, after: datetime, count: int = UPCOMING
) -> list[datetime]:
    return list(rules.occurrences(rec.rule, rec.starts_at, rec.timezone, after, count))


def upcoming(rec: RecurringCampaign, count: int = UPCOMING) -> list[Occurrence]:
    """The next ``count`` occurrences (a paused campaign's too: what resuming would send),
    with their stored edits, skips and campaigns; an occurrence whose campaign is already
    created but not yet sent is included."""
    now = utcnow()
    times = next_occurrences(rec, now, count)
    rows = {
        r.occurs_at: r
        for r in db.session.scalars(
            select(RecurringOccurrence).where(
                RecurringOccurrence.recurring_id == rec.id,
                RecurringOccurrence.occurs_at > now - timedelta(days=1),
            )
        )
    }
    moments = sorted(set(times) | {t for t, r in rows.items() if t > now or r.state == "created"})
    found: list[Occurrence] = []
    for when in moments:
        row = rows.get(when)
        if row is not None and row.state == "created" and when <= now:
            campaign = db.session.get(Campaign, row.campaign_id) if row.campaign_id else None
            if campaign is None or campaign.status not in ("scheduled", "preparing", "sending"):
                continue  # done: it belongs to the history
        found.append(_view(when, row))
    return found[: count + 1]


def history(rec: RecurringCampaign, limit: int = 20) -> list[Occurrence]:
    """Occurrences that came (created, skipped or failed), newest first."""
    rows = db.session.scalars(
        select(RecurringOccurrence)
        .where(
            RecurringOccurrence.recurring_id == rec.id,
            RecurringOccurrence.state != "planned",
            RecurringOccurrence.occurs_at <= utcnow(),
        )
        .order_by(RecurringOccurrence.occurs_at.desc())
        .limit(limit)
    )
    return [_view(r.occurs_at, r) for r in rows]


def _view(when: datetime, row: RecurringOccurrence | None) -> Occurrence:
    campaign = None
    if row is not None and row.campaign_id:
        campaign = db.session.get(Campaign, row.campaign_id)
    return Occurrence(when, row.state if row is not None else "planned", row, campaign)


# --- writing -------------------------------------------------------------------------


def _text(value: Any, field: str, limit: int, *, required: bool = False) -> str | None:
    text = (value or "").strip() if isinstance(value, str) else value
    if required and not text:
        raise Invalid(f"{field} is required", {field: "required"})
    if text is not None and not isinstance(text, str):
        raise Invalid(f"{field} must be text", {field: "must be text"})
    if text and len(text) > limit:
        raise Invalid(f"{field} is too long", {field: f"at most {limit} characters"})
    return text or None


def _starts_at(value: Any, zone_name: str) -> datetime:
    """The first occurrence's naive local wall-clock time (an aware time is moved to the
    zone first), to the minute."""
    if not isinstance(value, datetime):
        raise Invalid("startsAt is required", {"startsAt": "the first date and time to send"})
    when: datetime = value
    if when.tzinfo is not None:
        when = when.astimezone(zones.zone(zone_name)).replace(tzinfo=None)
    return when.replace(second=0, microsecond=0)


def _template_pk(public_id: str | None, channel: str) -> int | None:
    if not public_id:
        return None
    template = tpl.get_template(public_id, channel)
    if template is None:
        raise Invalid("unknown template", {"templateId": f"unknown {channel} template"})
    return template.id


def template_public_id(rec: RecurringCampaign) -> str | None:
    if rec.template_id is None:
        return None
    template = db.session.get(Template, rec.template_id)
    return template.public_id if template is not None else None


def _check_content(rec: RecurringCampaign) -> dict[str, Any]:
    """The message as a campaign would store it (Invalid naming the field otherwise)."""
    support = registry.require(rec.channel)
    return support.content(
        Content(
            subject=rec.subject, html=rec.html, body=rec.body, template_id=template_public_id(rec)
        )
    )


def _apply(rec: RecurringCampaign, spec: Spec, user: Any) -> None:
    given = spec.given()
    if "name" in given or rec.name is None:
        rec.name = _text(given.get("name"), "name", 200, required=True) or ""
    if "channel" in given or rec.channel is None:
        if rec.channel is not None and given["channel"] != rec.channel:
            raise Invalid("channel is fixed", {"channel": "a recurring campaign keeps its channel"})
        rec.channel = registry.require(given.get("channel") or "").name
    if "list_id" in given or rec.list_id is None:
        list_id = _text(given.get("list_id"), "listId", 40, required=True) or ""
        audiences.resolve("list", list_id, user, field="listId")  # 422 when unknown
        rec.list_id = list_id
    if "template_id" in given:
        rec.template_id = _template_pk(given["template_id"], rec.channel)
    for key, limit in (("subject", 300), ("html", 200_000), ("body", 2000)):
        if key in given:
            setattr(rec, key, _text(given[key], key, limit))
    if "time_zone" in given or rec.timezone is None:
        zone_name = given.get("time_zone") or zones.user_zone(user)
        rec.timezone = zones.check_zone(zone_name, "timeZone")
    if "starts_at" in given or rec.starts_at is None:
        rec.starts_at = _starts_at(given.get("starts_at"), rec.timezone)
    if "rule" in given or rec.rule is None:
        rule = given.get("rule")
        rec.rule = (_text(rule, "rule", 500, required=True) or "").removeprefix("RRULE:")
    rules.parse(rec.rule, rec.starts_at)  # 422 naming "rule"
    if "send_local_time" in given:
        rec.send_local_time = bool(given["send_local_time"])
    if "featured" in given:
        rule_ = featured.check(given["featured"])
        rec.featured = rule_.to_json() if rule_ is not None else None
    columns = _check_content(rec)
    if rec.featured:
        if rec.channel != "email":
            raise Invalid("featured wines are for email", {"featured.rule": "email only"})
        if not featured.uses_token(columns.get("html")):
            raise Invalid(
                "no place for the wines",
                {"featured.rule": "the message has no {{ featured_wines }} token to fill"},
            )


def _first_after(rec: RecurringCampaign, after: datetime) -> datetime | None:
    found = next_occurrences(rec, after, 1)
    return found[0] if found else None


def create(user: Any, spec: Spec) -> RecurringCampaign:
    """A new, active recurring campaign; 422 naming the field for a bad rule, zone, list,
    template, content or featured rule, or a rule with no occurrence to come."""
    rec = RecurringCampaign(status="active", created_by_id=user.id)
    _apply(rec, spec, user)
    rec.next_at = _first_after(rec, utcnow())
    if rec.next_at is None:
        raise Invalid("nothing to come", {"rule": "the rule has no occurrence to come"})
    db.session.add(rec)
    db.session.commit()
    return rec


def update(rec: RecurringCampaign, user: Any, spec: Spec) -> RecurringCampaign:
    """Change what is given. A new rule, start or zone moves the cursor to the next
    occurrence from now and drops stored edits and skips of times no longer on it."""
    before = (rec.rule, rec.starts_at, rec.timezone)
    _apply(rec, spec, user)
    if (rec.rule, rec.starts_at, rec.timezone) != before:
        rec.next_at = _first_after(rec, utcnow())
        if rec.next_at is None:
            db.session.rollback()
            raise Invalid("nothing to come", {"rule": "the rule has no occurrence to come"})
        _drop_orphans(rec)
    db.session.commit()
    return rec


def _drop_orphans(rec: RecurringCampaign) -> None:
    for row in db.session.scalars(
        select(RecurringOccurrence).where(
            RecurringOccurrence.recurring_id == rec.id,
            RecurringOccurrence.state == "planned",
            RecurringOccurrence.occurs_at > utcnow(),
        )
    ):
        if not _is_occurrence(rec, row.occurs_at):
            db.session.delete(row)


def set_status(rec: RecurringCampaign, action: str) -> RecurringCampaign:
    """pause | resume. Resuming goes on from the next occurrence to come: what fell in the
    pause is not sent late."""
    if action == "pause":
        rec.status = "paused"
    elif action == "resume":
        rec.status = "active"
        rec.next_at = _first_after(rec, utcnow())
    else:
        raise NotFound(f"no action {action!r}")
    db.session.commit()
    return rec


def delete(rec: RecurringCampaign) -> None:
    """The recurring campaign and its occurrence records; campaigns already created stay."""
    db.session.delete(rec)
    db.session.commit()


# --- one occurrence ------------------------------------------------------------------


def _is_occurrence(rec: RecurringCampaign, when: datetime) -> bool:
    return _first_after(rec, when - timedelta(seconds=1)) == when


def _insert_if_new(rec: RecurringCampaign, when: datetime) -> None:
    values = {
        "public_id": new_public_id(RecurringOccurrence.id_prefix),
        "recurring_id": rec.id,
        "occurs_at": when,
        "state": "planned",
        "created_at": utcnow(),
        "updated_at": utcnow(),
    }
    table = RecurringOccurrence.__table__
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    db.session.execute(insert.values(**values).on_conflict_do_nothing())


def find_row(rec: RecurringCampaign, when: datetime) -> RecurringOccurrence | None:
    return db.session.scalar(
        select(RecurringOccurrence).where(
            RecurringOccurrence.recurring_id == rec.id, RecurringOccurrence.occurs_at == when
        )
    )


def occurrence_row(rec: RecurringCampaign, when: datetime) -> RecurringOccurrence:
    """The stored row of one occurrence, made when missing; two callers at once get the
    same row (``UNIQUE (recurring_id, occurs_at)``, insert-or-nothing)."""
    stmt = select(RecurringOccurrence).where(
        RecurringOccurrence.recurring_id == rec.id, RecurringOccurrence.occurs_at == when
    )
    row = db.session.scalar(stmt)
    if row is None:
        _insert_if_new(rec, when)
        db.session.commit()
        row = db.session.scalars(stmt).one()
    return row


def _to_come(rec: RecurringCampaign, when: datetime, field: str) -> RecurringOccurrence:
    if when.tzinfo is None:
        raise Invalid("occursAt needs an offset", {field: "an ISO time with its offset (Z)"})
    if when <= utcnow() or not _is_occurrence(rec, when):
        raise Invalid(
            "not an occurrence to come", {field: "not an occurrence to come of this rule"}
        )
    row = occurrence_row(rec, when)
    if row.state == "created":
        raise Conflict(
            "this occurrence's campaign is already created: change or cancel the campaign",
            code="conflict",
        )
    return row


def skip(rec: RecurringCampaign, when: datetime, skipped: bool = True) -> RecurringOccurrence:
    """Skip one occurrence to come (or take the skip back)."""
    row = _to_come(rec, when, "occursAt")
    row.state = "skipped" if skipped else "planned"
    row.note = "skipped by a person" if skipped else None
    db.session.commit()
    return row


def edit(
    rec: RecurringCampaign,
    when: datetime,
    subject: Any = UNSET,
    html: Any = UNSET,
    body: Any = UNSET,
) -> RecurringOccurrence:
    """This occurrence's own subject and content (None or empty: back to the recurring
    campaign's); checked like a campaign's content."""
    row = _to_come(rec, when, "occursAt")
    if subject is not UNSET:
        row.subject = _text(subject, "subject", 300)
    if html is not UNSET:
        row.html = _text(html, "html", 200_000)
    if body is not UNSET:
        row.body = _text(body, "body", 2000)
    try:
        registry.require(rec.channel).content(occurrence_content(rec, row))
    except Exception:
        db.session.rollback()
        raise
    db.session.commit()
    return row


def occurrence_content(rec: RecurringCampaign, row: RecurringOccurrence | None) -> Content:
    """The message of one occurrence: its own parts, else the recurring campaign's."""
    own = row if row is not None else None
    return Content(
        subject=(own.subject if own and own.subject else None) or rec.subject,
        html=(own.html if own and own.html else None) or rec.html,
        body=(own.body if own and own.body else None) or rec.body,
        template_id=template_public_id(rec),
    )
