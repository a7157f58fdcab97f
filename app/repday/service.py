"""A rep's day: the accounts to contact today, ranked, each with why.

Reasons, each adding to the rank (the weights are here, in one place):

* ``clicked``: a human click on an email in the last :data:`RECENT_DAYS` days (+40),
* ``replied``: a text from the customer in that time (+50),
* ``engaged_no_order``: engaged (:mod:`app.engagement.score`) and no order in
  :data:`QUIET_DAYS` days (+20),
* ``overdue``: the account's usual reorder interval (the median gap between its last
  orders, at least three) has passed (+20, and more the longer it is overdue, up to +40),
* ``task``: a task for the rep about the account, due today or earlier (+60).

Plus a fifth of the engagement score. Accounts the rep snoozed (until a day) or marked
done today leave the list; tasks stay until done.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from statistics import median
from typing import Any

from sqlalchemy import or_, select

from app.attribution.touches import sources
from app.crm.models import Customer, Order
from app.errors import Forbidden, Invalid, NotFound
from app.extensions import db
from app.models_base import utcnow
from app.repday.models import RepFollowUp

RECENT_DAYS = 3
QUIET_DAYS = 30
CHUNK = 500
MAX_ROWS = 50


@dataclass
class Row:
    customer: Customer
    rank: float = 0.0
    reasons: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[RepFollowUp] = field(default_factory=list)

    def add(self, code: str, text: str, points: float) -> None:
        self.reasons.append({"code": code, "text": text})
        self.rank += points


def rep_or_404(public_id: str) -> Any:
    from app.auth.models import User

    rep = db.session.scalar(select(User).where(User.public_id == public_id))
    if rep is None:
        raise NotFound("No such user")
    return rep


def may_see(viewer: Any, rep: Any) -> None:
    """A rep sees their own day; a manager or admin any rep's (a manager in their
    territory, when they have one)."""
    if viewer.id == rep.id or viewer.role == "admin":
        return
    if viewer.role == "manager" and (
        viewer.sees_all_territories or viewer.territory_id == rep.territory_id
    ):
        return
    raise Forbidden("You may only see your own day")


def _customers_of(rep: Any) -> list[Customer]:
    """The accounts a rep answers for: theirs, else those of their territory."""
    stmt = select(Customer).where(Customer.archived.is_(False))
    if rep.territory_id is not None:
        stmt = stmt.where(or_(Customer.rep_id == rep.id, Customer.territory_id == rep.territory_id))
    else:
        stmt = stmt.where(Customer.rep_id == rep.id)
    return list(db.session.scalars(stmt))


def _chunks(values: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _touches(ids: list[int], today: date) -> dict[int, list[tuple[str, Any]]]:
    now = utcnow()
    since = now - timedelta(days=RECENT_DAYS)
    found: dict[int, list[tuple[str, Any]]] = defaultdict(list)
    for part in _chunks(ids, CHUNK):
        for source in sources():
            if source.kind not in ("email_click", "sms_reply"):
                continue
            for touch in source.touches(part, since, now + timedelta(seconds=1)):
                found[touch.customer_id].append((source.kind, touch))
    return found


def _order_dates(ids: list[int]) -> dict[int, list[date]]:
    dates: dict[int, list[date]] = defaultdict(list)
    for part in _chunks(ids, CHUNK):
        rows = db.session.execute(
            select(Order.customer_id, Order.order_date)
            .where(Order.customer_id.in_(part), Order.status.not_in(("cancelled", "returned")))
            .order_by(Order.customer_id, Order.order_date)
        )
        for customer_id, day in rows:
            dates[customer_id].append(day)
    return dates


def reorder_interval(days: list[date]) -> float | None:
    """The median gap between the last orders (at least three orders), in days."""
    recent = sorted(set(days))[-7:]
    if len(recent) < 3:
        return None
    return float(median((b - a).days for a, b in zip(recent, recent[1:], strict=False)))


def _ago(when: Any) -> str:
    hours = max(0, int((utcnow() - when).total_seconds() // 3600))
    return f"{hours} h ago" if hours < 48 else f"{hours // 24} days ago"


def day_for(rep: Any, today: date | None = None) -> list[Row]:
    today = today or utcnow().date()
    customers = _customers_of(rep)
    ids = [c.id for c in customers]
    rows = {c.id: Row(c) for c in customers}
    for customer_id, touches in _touches(ids, today).items():
        kinds = {kind for kind, _ in touches}
        latest = max(touch.touched_at for _, touch in touches)
        if "sms_reply" in kinds:
            rows[customer_id].add("replied", f"replied by text {_ago(latest)}", 50)
        if "email_click" in kinds:
            clicks = sum(1 for kind, _ in touches if kind == "email_click")
            rows[customer_id].add(
                "clicked", f"clicked an email ({clicks}×), last {_ago(latest)}", 40
            )
    orders = _order_dates(ids)
    for customer in customers:
        row = rows[customer.id]
        last = customer.last_order_date
        if customer.engagement_state == "engaged" and (
            last is None or (today - last).days > QUIET_DAYS
        ):
            row.add(
                "engaged_no_order",
                f"engaged (score {customer.engagement_score}) but no order in {QUIET_DAYS} days",
                20,
            )
        interval = reorder_interval(orders.get(customer.id, []))
        if interval and last and (today - last).days > interval:
            late = (today - last).days - interval
            since = (today - last).days
            text = f"usually orders every {interval:.0f} days; last order {since} days ago"
            row.add("overdue", text, 20 + min(20.0, 20 * late / interval))
        row.rank += (customer.engagement_score or 0) / 5
    followups = db.session.scalars(
        select(RepFollowUp).where(RepFollowUp.rep_id == rep.id, RepFollowUp.customer_id.in_(ids))
    ).all()
    hidden: set[int] = set()
    for f in followups:
        if f.kind == "task" and f.done_on is None and (f.due_on is None or f.due_on <= today):
            rows[f.customer_id].tasks.append(f)
            rows[f.customer_id].add("task", f"task: {f.title}", 60)
        elif (
            f.kind == "snooze"
            and f.until
            and f.until >= today
            or f.kind == "done"
            and f.done_on == today
        ):
            hidden.add(f.customer_id)
    listed = [r for r in rows.values() if r.reasons and (r.customer.id not in hidden or r.tasks)]
    listed.sort(key=lambda r: (-r.rank, r.customer.name))
    return listed[:MAX_ROWS]


def row_json(row: Row) -> dict[str, Any]:
    c = row.customer
    return {
        "customerId": c.public_id,
        "name": c.name,
        "rank": round(row.rank, 1),
        "reasons": row.reasons,
        "engagementScore": c.engagement_score,
        "engagementState": c.engagement_state,
        "lastOrderDate": c.last_order_date.isoformat() if c.last_order_date else None,
        "phone": c.phone,
        "email": c.email,
        "tasks": [{"id": t.public_id, "title": t.title} for t in row.tasks],
    }


def act(
    rep: Any,
    viewer: Any,
    customer_public_id: str,
    action: str,
    *,
    days: int = 1,
    note: str | None = None,
) -> None:
    """A rep's one-click action on a row: ``call`` (logged as an activity, and done for
    today), ``done``, ``snooze`` (for ``days``)."""
    from app.crm.scoping import get_visible_customer
    from app.crm.services import log_activity

    if viewer.id != rep.id:
        raise Forbidden("Only the rep acts on their own list")
    customer = get_visible_customer(customer_public_id, viewer)
    if customer is None:
        raise NotFound("No such customer, or not one of yours")
    today = utcnow().date()
    if action == "call":
        log_activity(customer.id, "Call", subject="Call", body=note, user_id=rep.id, commit=False)
        action = "done"
    if action == "done":
        for task in db.session.scalars(
            select(RepFollowUp).where(
                RepFollowUp.rep_id == rep.id,
                RepFollowUp.customer_id == customer.id,
                RepFollowUp.kind == "task",
                RepFollowUp.done_on.is_(None),
            )
        ):
            task.done_on = today
        db.session.add(
            RepFollowUp(rep_id=rep.id, customer_id=customer.id, kind="done", done_on=today)
        )
    elif action == "snooze":
        if not 1 <= days <= 90:
            raise Invalid("Bad snooze", {"days": "snooze for 1 to 90 days"})
        db.session.add(
            RepFollowUp(
                rep_id=rep.id,
                customer_id=customer.id,
                kind="snooze",
                until=today + timedelta(days=days - 1),
            )
        )
    else:
        raise NotFound(f"No action {action!r}: call, done or snooze")
    db.session.commit()


def add_task(
    creator: Any, rep: Any, customer: Customer, title: str, due_on: date | None
) -> RepFollowUp:
    """A task for a rep about an account (a manager's, or a flow step's)."""
    task = RepFollowUp(
        rep_id=rep.id, customer_id=customer.id, kind="task", title=title[:200], due_on=due_on,
        created_by_id=getattr(creator, "id", None),
    )  # fmt: skip
    db.session.add(task)
    db.session.commit()
    return task
