"""A provider's batch of events applied set-based: counted once each, whatever batches
run side by side, with the kinds that are not batched (bounces...) still applied, and a
replay changing nothing."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import func, select, update

from app.crm.models import Activity
from app.extensions import db
from app.messaging.consent import is_suppressed
from app.models_base import utcnow
from blueprints.email.models import EmailEvent, EmailMessage
from blueprints.webhooks.models import WebhookEvent
from tests.blueprints.email import test_tracking
from tests.blueprints.email.test_machine_engagement import BROWSER
from tests.blueprints.email.test_tracking import _sendgrid_post

app_config = test_tracking.app_config
sent = test_tracking.sent


def _messages(n: int) -> list[EmailMessage]:
    rows = [
        EmailMessage(
            to_address=f"batch{i}@shop.example",
            status="sent",
            sent_at=utcnow() - timedelta(hours=1),
            provider_message_id=f"sg{i}",
            open_count=0,
            click_count=0,
        )
        for i in range(n)
    ]
    db.session.add_all(rows)
    db.session.commit()
    return rows


def _event(message: EmailMessage, kind: str, n: int, at: int, **extra) -> dict:
    return {
        "email": message.to_address,
        "timestamp": at,
        "event": kind,
        "sg_event_id": f"{kind}-{message.id}-{n}",
        "sg_message_id": f"{message.provider_message_id}.filter0001",
        "message_id": message.public_id,
        "useragent": BROWSER,
        **extra,
    }


def _counts(ids: list[int]) -> list[tuple[int, int, int, int, int]]:
    """(open_count, click_count, open events, implied opens, click events) per message."""
    db.session.expire_all()
    out = []
    for message_id in ids:
        m = db.session.get(EmailMessage, message_id)
        opens, implied, clicks = db.session.execute(
            select(
                func.count().filter(EmailEvent.type == "open"),
                func.count().filter(EmailEvent.type == "open", EmailEvent.implied),
                func.count().filter(EmailEvent.type == "click"),
            ).where(EmailEvent.message_id == message_id)
        ).one()
        out.append((m.open_count, m.click_count, opens, implied, clicks))
    return out


def test_open_and_click_batches_side_by_side_count_each_once(app):
    messages = _messages(30)
    ids = [m.id for m in messages]
    now = int(time.time()) - 60
    opens = [_event(m, "open", 0, now) for m in messages]
    clicks = [_event(m, "click", 0, now + 30, url="https://shop.example/a") for m in messages]
    answers: list[int] = []

    def post(events: list[dict]) -> None:
        answers.append(_sendgrid_post(app.test_client(), events).status_code)

    threads = [threading.Thread(target=post, args=(batch,)) for batch in (opens, clicks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert answers == [200, 200]
    assert _counts(ids) == [(1, 1, 1, 0, 1)] * len(ids)


def test_a_batch_applies_every_kind_once_and_a_replay_nothing(client, sent, caplog):
    (other,) = _messages(1)
    now = int(time.time()) - 120
    events = [
        _event(sent, "delivered", 0, now),
        _event(sent, "click", 0, now + 60, url="https://shop.example/a"),
        _event(sent, "open", 0, now + 30),  # arrives after its click: replaces the implied one
        _event(other, "open", 0, now, sg_machine_open=True),
        _event(other, "bounce", 0, now + 1, type="bounce"),
        {**_event(sent, "open", 1, now), "message_id": "eml-unknown", "sg_message_id": "zz.1"},
        _event(sent, "click", 0, now + 60, url="https://shop.example/a"),  # the same event id
    ]
    r = _sendgrid_post(client, events)
    assert r.status_code == 200 and r.get_json() == {"received": 7, "new": 6}
    assert "one event at a time" not in caplog.text  # applied as a batch, no fallback
    assert _counts([sent.id, other.id]) == [(1, 1, 1, 0, 1), (1, 0, 1, 0, 0)]
    m = db.session.get(EmailMessage, sent.id)
    assert m.delivered_at is not None and m.first_opened_at.timestamp() == now + 30
    assert db.session.get(Activity, m.activity_id).notes.startswith("Opened 1×")
    assert db.session.get(EmailMessage, other.id).human_open_count == 0  # SendGrid's flag
    assert is_suppressed("email", other.to_address)  # the hard bounce, one by one
    assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == 6
    done = select(func.count()).where(WebhookEvent.status == "done")
    assert db.session.scalar(done) == 6
    again = _sendgrid_post(client, events)
    assert again.status_code == 200 and again.get_json()["new"] == 0
    assert _counts([sent.id, other.id]) == [(1, 1, 1, 0, 1), (1, 0, 1, 0, 0)]


def test_a_scanners_burst_inside_one_batch_is_machine(app, client, sent):
    app.config["MACHINE_BURST_LINKS"] = 2
    db.session.execute(
        update(EmailMessage)
        .where(EmailMessage.id == sent.id)
        .values(sent_at=utcnow() - timedelta(hours=1))
    )
    db.session.commit()
    now = int(time.time()) - 60
    events = [
        _event(sent, "click", n, now, url=f"https://shop.example/{n}", ip="203.0.113.7")
        for n in range(3)
    ]
    assert _sendgrid_post(client, events).status_code == 200
    db.session.expire_all()
    m = db.session.get(EmailMessage, sent.id)
    labels = db.session.execute(
        select(EmailEvent.machine, EmailEvent.machine_reason).where(EmailEvent.type == "click")
    ).all()
    assert all(machine for machine, _ in labels) and {r for _, r in labels} == {"burst"}
    assert (m.click_count, m.human_click_count) == (3, 0)


def test_a_persons_click_in_a_providers_batch_enters_a_click_flow(
    app, client, token_headers, manager, make_customer, caplog
):
    """Clicks SendGrid reports in a batch start flows as the redirect's do (the batch
    path announces them together, with the campaign clicked)."""
    from app.flows.models import FlowRun
    from app.messaging.models import Campaign

    campaign = Campaign(name="Specials", channel="email", status="sent")
    db.session.add(campaign)
    db.session.commit()
    headers = token_headers(manager)
    flows = "/api/sales/marketing/flows"
    flow = client.post(
        flows,
        json={
            "name": "Clicked the specials",
            "trigger": {"type": "clicked", "campaignId": campaign.public_id},
            "steps": [{"type": "tag", "tag": "clicked-specials"}],
        },
        headers=headers,
    )
    assert flow.status_code == 201, flow.get_json()
    activated = client.post(f"{flows}/{flow.get_json()['id']}/activate", headers=headers)
    assert activated.status_code == 200, activated.get_json()
    fan, reader = make_customer(), make_customer()
    messages = []
    for n, customer in enumerate((fan, reader)):
        message = EmailMessage(
            customer_id=customer.id,
            campaign_id=campaign.id if customer is fan else None,
            to_address=customer.email,
            status="sent",
            sent_at=utcnow() - timedelta(hours=1),
            provider_message_id=f"sgflow{n}",
            open_count=0,
            click_count=0,
        )
        db.session.add(message)
        messages.append(message)
    db.session.commit()
    now = int(time.time()) - 60
    events = [_event(m, "click", 0, now, url="https://shop.example/a") for m in messages]
    assert _sendgrid_post(client, events).status_code == 200
    assert "one event at a time" not in caplog.text  # the batch path, no fallback
    db.session.expire_all()
    entered = db.session.scalars(select(FlowRun.customer_id)).all()
    assert entered == [fan.id]


def test_a_batch_costs_the_same_statements_whatever_its_size(app):
    """Set-based: a batch of 3 messages' events and one of 60 run the same statements;
    new event rows go in done (no UPDATE of the webhook rows after applying them)."""
    from sqlalchemy import event as sa_event

    seen: list[str] = []

    def note(_conn, _cursor, statement, _params, _context, _many) -> None:
        seen.append(statement)

    costs = []
    now = int(time.time()) - 120
    for size in (1, 3, 60):  # the first warms what the app reads once
        messages = _messages(size)
        events = [
            _event(m, kind, size, now + step * 30, url="https://shop.example/a")
            for m in messages
            for step, kind in enumerate(("delivered", "open", "click"))
        ]
        seen.clear()
        sa_event.listen(db.engine, "before_cursor_execute", note)
        try:
            r = _sendgrid_post(app.test_client(), events)
        finally:
            sa_event.remove(db.engine, "before_cursor_execute", note)
        assert r.status_code == 200 and r.get_json()["new"] == size * 3
        costs.append(len(seen))
        assert not [s for s in seen if s.lstrip().upper().startswith("UPDATE WEBHOOK_EVENT")]
        assert _counts([m.id for m in messages]) == [(1, 1, 1, 0, 1)] * size
    assert costs[1] == costs[2] <= 16, costs
    done = select(func.count()).where(WebhookEvent.status == "done")
    assert db.session.scalar(done) == 64 * 3
