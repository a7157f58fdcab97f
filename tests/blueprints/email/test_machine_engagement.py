"""Opens and clicks labelled human or machine as they arrive (pixel, redirect, provider
events), machine ones kept apart, and counters that cannot lose an update."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from app.extensions import db
from app.models_base import utcnow
from blueprints.email import tracking
from blueprints.email.models import EmailEvent, EmailMessage
from tests.blueprints.email import test_tracking
from tests.blueprints.email.test_tracking import _links, _sendgrid_post

# the signed-webhook settings and the sent message of the tracking tests
app_config = test_tracking.app_config
sent = test_tracking.sent

BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15"
)


def _sent_an_hour_ago(message: EmailMessage) -> EmailMessage:
    db.session.execute(
        update(EmailMessage)
        .where(EmailMessage.id == message.id)
        .values(sent_at=utcnow() - timedelta(hours=1))
    )
    db.session.commit()
    return db.session.get(EmailMessage, message.id)


def _events(kind: str) -> list[tuple[bool, str | None]]:
    rows = EmailEvent.query.filter_by(type=kind).order_by(EmailEvent.id).all()
    return [(e.machine, e.machine_reason) for e in rows]


def test_apple_proxy_open_is_machine_a_person_opening_is_human(client, sent):
    pixel = _links(sent, "t/o")[0]
    client.get(
        pixel, headers={"User-Agent": "Mozilla/5.0"}, environ_base={"REMOTE_ADDR": "17.58.1.2"}
    )
    client.get(pixel, headers={"User-Agent": BROWSER})
    m = db.session.get(EmailMessage, sent.id)
    db.session.refresh(m)
    assert (m.open_count, m.human_open_count) == (2, 1)
    assert _events("open") == [(True, "apple_mpp"), (False, None)]
    assert m.first_human_open_at is not None


def test_a_scanner_clicking_every_link_at_once_is_machine(client, sent):
    message = _sent_an_hour_ago(sent)
    link_a, link_b = _links(message, "t/c")
    third = link_a  # a third distinct link: the same message's pixel-less click on A again
    for link in (link_a, link_b):
        assert client.get(link, headers={"User-Agent": BROWSER}).status_code == 302
    # two links within the window are not yet a burst (a person may click two quickly)
    assert _events("click") == [(False, None), (False, None)]
    db.session.expire_all()
    assert db.session.get(EmailMessage, sent.id).human_click_count == 2
    app = client.application
    app.config["MACHINE_BURST_LINKS"] = 2  # the third distinct link would do it by default
    client.get(third, headers={"User-Agent": BROWSER})
    db.session.expire_all()
    m = db.session.get(EmailMessage, sent.id)
    assert all(machine for machine, _ in _events("click"))
    assert {reason for _, reason in _events("click")} == {"burst"}
    assert (m.click_count, m.human_click_count, m.first_human_click_at) == (3, 0, None)


def test_a_click_seconds_after_sending_is_a_scanner(client, sent):
    link = _links(sent, "t/c")[0]
    client.get(link, headers={"User-Agent": BROWSER})
    m = db.session.get(EmailMessage, sent.id)
    db.session.refresh(m)
    assert _events("click") == [(True, "too_soon")]
    assert (m.click_count, m.human_click_count) == (1, 0)
    # the open a click implies is the machine's too, not a person's
    assert (m.open_count, m.human_open_count) == (1, 0)


def test_a_persons_click_implies_a_human_open_after_a_proxy_open(client, sent):
    message = _sent_an_hour_ago(sent)
    client.get(_links(message, "t/o")[0], headers={"User-Agent": "Mozilla/5.0"})
    client.get(_links(message, "t/c")[0], headers={"User-Agent": BROWSER})
    m = db.session.get(EmailMessage, sent.id)
    db.session.refresh(m)
    assert (m.open_count, m.human_open_count, m.human_click_count) == (2, 1, 1)
    assert _events("open") == [(True, "apple_mpp"), (False, None)]


def test_head_requests_are_machine(client, sent):
    message = _sent_an_hour_ago(sent)
    assert client.head(_links(message, "t/c")[0]).status_code == 302
    assert _events("click") == [(True, "head_request")]


def test_sendgrids_machine_open_flag_is_kept(client, sent):
    now = int(time.time())
    base = {"email": sent.to_address, "sg_message_id": "x.1", "message_id": sent.public_id}
    events = [
        {**base, "event": "open", "sg_event_id": "o1", "timestamp": now, "sg_machine_open": True},
        {**base, "event": "open", "sg_event_id": "o2", "timestamp": now, "useragent": BROWSER},
    ]
    assert _sendgrid_post(client, events).status_code == 200
    m = db.session.get(EmailMessage, sent.id)
    db.session.refresh(m)
    assert (m.open_count, m.human_open_count) == (2, 1)
    assert _events("open") == [(True, "provider_flag"), (False, None)]


def test_counts_are_added_in_the_database_not_overwritten(app, sent):
    """An open and a click of the same message handled at once: each adds one. Before,
    the count was read into Python and written back, so one update was lost."""
    stale = db.session.get(EmailMessage, sent.id)
    assert stale.open_count == 0
    # another worker counts four opens meanwhile, behind this session's back
    with db.engine.begin() as conn:
        conn.execute(update(EmailMessage).where(EmailMessage.id == sent.id).values(open_count=4))
    tracking.record_engagement(stale, "open")
    db.session.expire_all()
    assert db.session.get(EmailMessage, sent.id).open_count == 5


@pytest.mark.parametrize("agent", ["python-requests/2.32", "Mimecast Security Scanner"])
def test_scanner_agents_on_the_pixel(client, sent, agent):
    client.get(_links(sent, "t/o")[0], headers={"User-Agent": agent})
    assert _events("open") == [(True, "scanner_agent")]
