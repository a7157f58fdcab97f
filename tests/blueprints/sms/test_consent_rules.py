"""A text goes only to the customer's own number, and only with consent on that number."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app.extensions import db
from app.messaging import consent
from app.models_base import utcnow
from blueprints.sms.models import SmsConversation, SmsMessage


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(SmsMessage))


def test_a_stop_number_cannot_be_reached_through_another_customers_id(
    call, manager, make_customer, opt_in, fake_twilio, inbound
):
    stopped = make_customer(phone="+12125550170")
    opt_in(stopped)
    inbound(stopped.phone, "STOP")
    mine = make_customer(phone="+12125550171")
    opt_in(mine)
    before = _count()
    r = call(
        manager,
        "post",
        "/send",
        json={"customerId": mine.public_id, "to": stopped.phone, "body": "hi"},
    )
    assert r.status_code == 422 and "to" in r.get_json()["error"]["fields"]
    assert _count() == before and fake_twilio.received == []


def test_a_number_with_no_consent_record_is_not_texted(call, manager, make_customer, fake_twilio):
    customer = make_customer(phone="+12125550172")
    r = call(manager, "post", "/send", json={"customerId": customer.public_id, "body": "hi"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "opted_out"
    assert "opt-in" in r.get_json()["error"]["message"]
    assert fake_twilio.received == []


def test_another_territorys_number_cannot_be_reached_through_an_own_customer(
    call, rep, make_customer, opt_in, fake_twilio
):
    south = make_customer("South", phone="+12125550173")
    opt_in(south)
    north = make_customer("North", phone="+12125550174")
    opt_in(north)
    r = call(
        rep, "post", "/send", json={"customerId": north.public_id, "to": south.phone, "body": "x"}
    )
    assert r.status_code == 422
    assert fake_twilio.received == []
    ok = call(
        rep,
        "post",
        "/send",
        json={"customerId": north.public_id, "to": "(212) 555-0174", "body": "x"},
    )
    assert ok.status_code == 201, ok.get_json()
    assert [m.to for m in fake_twilio.received] == [north.phone]


def test_a_reply_to_a_number_that_just_texted_needs_no_recorded_opt_in(
    call, manager, inbound, fake_twilio
):
    inbound("+12125550175", "Do you have the Barolo?")
    conversation = db.session.scalar(select(SmsConversation))
    r = call(
        manager, "post", f"/conversations/{conversation.public_id}/messages", json={"body": "Yes!"}
    )
    assert r.status_code == 201, r.get_json()
    assert [m.to for m in fake_twilio.received] == ["+12125550175"]
    # A day later the conversation has gone quiet: no consent, no text.
    db.session.execute(
        db.update(SmsMessage)
        .where(SmsMessage.direction == "inbound")
        .values(created_at=utcnow() - timedelta(hours=25))
    )
    db.session.commit()
    late = call(
        manager, "post", f"/conversations/{conversation.public_id}/messages", json={"body": "?"}
    )
    assert late.status_code == 409
    assert len(fake_twilio.received) == 1


def test_a_reply_never_reaches_a_number_that_said_stop(call, manager, inbound, fake_twilio):
    inbound("+12125550176", "Do you deliver on Sundays?")
    inbound("+12125550176", "STOP")
    conversation = db.session.scalar(select(SmsConversation))
    r = call(
        manager, "post", f"/conversations/{conversation.public_id}/messages", json={"body": "ok"}
    )
    assert r.status_code == 409
    assert fake_twilio.received == []
    assert consent.status_of("sms", "+12125550176") == "opted_out"


def test_typed_single_text_is_personalised_and_checked(
    call, manager, make_customer, opt_in, fake_twilio
):
    customer = make_customer(name="Bistro Lapin", phone="+12125550177")
    opt_in(customer)
    r = call(
        manager,
        "post",
        "/send",
        json={"customerId": customer.public_id, "body": "Hi {{ customer_name }}, new Barolo in!"},
    )
    assert r.status_code == 201, r.get_json()
    assert fake_twilio.received[-1].body == "Hi Bistro Lapin, new Barolo in!"
    bad = call(
        manager, "post", "/send", json={"customerId": customer.public_id, "body": "Hi {{ nope }}"}
    )
    assert bad.status_code == 422 and "body" in bad.get_json()["error"]["fields"]
    assert len(fake_twilio.received) == 1


def test_an_inbox_reply_is_personalised(call, manager, make_customer, opt_in, inbound, fake_twilio):
    customer = make_customer(name="Cave Madeleine", phone="+12125550178")
    opt_in(customer)
    inbound(customer.phone, "hello")
    conversation = db.session.scalar(select(SmsConversation))
    r = call(
        manager,
        "post",
        f"/conversations/{conversation.public_id}/messages",
        json={"body": "Thanks {{ customer_name }}!"},
    )
    assert r.status_code == 201, r.get_json()
    assert fake_twilio.received[-1].body == "Thanks Cave Madeleine!"
