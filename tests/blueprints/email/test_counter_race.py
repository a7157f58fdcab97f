"""An open and a click of the same message handled at the same moment count one open
(issue 26 item 7: 2,120 opens counted for 2,119 open events), by the pixel and redirect
and by concurrent provider batches; a late open takes the place of the one a click
implied."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select

from app.extensions import db
from app.models_base import utcnow
from blueprints.email import tracking
from blueprints.email.models import EmailEvent, EmailMessage

MESSAGES = 24


def _messages(n: int) -> list[int]:
    sent_at = utcnow() - timedelta(hours=1)
    rows = [
        EmailMessage(
            to_address=f"race{i}@shop.example",
            status="sent",
            sent_at=sent_at,
            open_count=0,
            click_count=0,
        )
        for i in range(n)
    ]
    db.session.add_all(rows)
    db.session.commit()
    return [m.id for m in rows]


def _together(app, ids: list[int]) -> None:
    """An open and a click of each message, from two threads: each loads its message,
    then both record at once."""
    errors: list[BaseException] = []

    def run(kind: str) -> None:
        with app.app_context():
            try:
                for message_id in ids:
                    message = db.session.get(EmailMessage, message_id)
                    gate.wait(timeout=30)
                    tracking.record_engagement(message, kind)
                    done.wait(timeout=30)
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)
                gate.abort()
                done.abort()
            finally:
                db.session.remove()

    gate, done = threading.Barrier(2), threading.Barrier(2)
    threads = [threading.Thread(target=run, args=(kind,)) for kind in ("open", "click")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors


def _opens(message_id: int) -> tuple[int, int, int]:
    """(open_count, open events, implied open events) of a message."""
    db.session.expire_all()
    count = db.session.get(EmailMessage, message_id).open_count
    events = db.session.execute(
        select(func.count(), func.count().filter(EmailEvent.implied)).where(
            EmailEvent.message_id == message_id, EmailEvent.type == "open"
        )
    ).one()
    return count, events[0], events[1]


def test_an_open_and_a_click_at_once_count_one_open(app):
    ids = _messages(MESSAGES)
    _together(app, ids)
    assert [_opens(i) for i in ids] == [(1, 1, 0)] * MESSAGES
    clicks = db.session.scalar(select(func.sum(EmailMessage.click_count)))
    assert clicks == MESSAGES


def test_a_late_open_takes_the_place_of_the_one_its_click_implied(app):
    (message_id,) = _messages(1)
    message = db.session.get(EmailMessage, message_id)
    tracking.record_engagement(message, "click")
    assert _opens(message_id) == (1, 1, 1)
    clicked_at = db.session.get(EmailMessage, message_id).first_opened_at
    earlier = clicked_at - timedelta(seconds=30)
    tracking.record_engagement(db.session.get(EmailMessage, message_id), "open", at=earlier)
    assert _opens(message_id) == (1, 1, 0)
    m = db.session.get(EmailMessage, message_id)
    assert (m.open_count, m.human_open_count, m.first_opened_at) == (1, 1, earlier)
    # a second real open is a second open
    tracking.record_engagement(m, "open")
    assert _opens(message_id) == (2, 2, 0)
