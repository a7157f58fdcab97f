"""Bulk SMS to a list through the outbox: consent, quiet hours, rate limit, scoping."""

from __future__ import annotations

from datetime import time
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.crm.services import preference_for
from app.extensions import db
from app.messaging.models import Campaign
from blueprints.sms import outbound, settings
from blueprints.sms.models import SmsMessage


def make_list(call, user, customers) -> str:
    lst = call(user, "post", "/api/sales/marketing/lists", json={"name": "Texts"}).get_json()
    r = call(
        user,
        "post",
        f"/api/sales/marketing/lists/{lst['id']}/members",
        json={"customerIds": [c.public_id for c in customers]},
    )
    assert r.status_code == 200, r.get_json()
    return lst["id"]


def test_list_send_texts_only_opted_in_customers(call, manager, make_customer, opt_in, fake_twilio):
    a = make_customer(phone="+12125550130", name="Alpha")
    b = make_customer(phone="+12125550131", name="Beta")
    c = make_customer(phone="+12125550132")  # never opted in
    d = make_customer(phone="+12125550133")
    opt_in(a)
    opt_in(b)
    opt_in(d, "opted_out")
    list_id = make_list(call, manager, [a, b, c, d])
    r = call(manager, "post", "/send", json={"listId": list_id, "body": "Hi {{customer_name}}!"})
    assert r.status_code == 202, r.get_json()
    doc = call(manager, "get", f"/campaigns/{r.get_json()['id']}").get_json()
    assert doc["status"] == "sent" and doc["recipientsTotal"] == 4
    assert doc["counts"]["sent"] == 2 and doc["counts"]["suppressed"] == 2
    assert sorted(m.body for m in fake_twilio.received) == ["Hi Alpha!", "Hi Beta!"]
    rows = db.session.scalars(select(SmsMessage).where(SmsMessage.status == "sent")).all()
    assert all(r.activity_id and r.conversation_id for r in rows)


def test_send_time_opt_out_wins(app, call, manager, make_customer, opt_in, fake_twilio):
    from app.messaging import consent, delivery

    a = make_customer(phone="+12125550134")
    opt_in(a)
    campaign = Campaign(channel="sms", name="x", body="hello", audience_ref="-")
    db.session.add(campaign)
    db.session.commit()
    from app.crm.models import Customer

    outbound.materialize(campaign, select(Customer.id))
    campaign.status = "sending"
    db.session.commit()
    consent.opt_out("sms", a.phone, reason="STOP", source="test")
    delivery.send_campaign_batches(campaign.id)
    assert fake_twilio.received == []
    assert db.session.scalar(select(SmsMessage.status)) == "suppressed"


def test_quiet_hours_hold_campaign_rows(app, make_customer, opt_in):
    a = make_customer(phone="+12125550135")
    opt_in(a)
    pref = preference_for(a.id)
    pref.preferred_contact_start, pref.preferred_contact_end = time(9), time(17)
    pref.timezone = "America/New_York"
    db.session.commit()
    row = SmsMessage(campaign_id=None, customer_id=a.id, to_address=a.phone, body="x")
    db.session.add(row)
    db.session.flush()
    assert outbound.hold_until([row]) == {}  # single texts are never held
    from datetime import UTC, datetime

    late = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # 22:00 in New York
    when = outbound.next_window_start(late, time(9), time(17), "America/New_York")
    assert when == datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    inside = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    assert outbound.next_window_start(inside, time(9), time(17), "America/New_York") is None
    overnight = outbound.next_window_start(late, time(22, 30), time(6), "America/New_York")
    assert overnight == datetime(2026, 3, 2, 3, 30, tzinfo=UTC)


def test_campaign_rows_outside_their_window_are_held_till_it_opens(app, make_customer, opt_in):
    from datetime import UTC, datetime, timedelta

    from app.crm.models import Customer

    now = datetime.now(UTC)
    own_zone = make_customer(phone="+12125550140")  # its own zone: UTC
    by_territory = make_customer("South", phone="+12125550141")  # no zone: its territory's
    anytime = make_customer(phone="+12125550142")  # no window at all
    inside = make_customer(phone="+12125550143")  # window open now
    by_territory.territory.timezone = "Asia/Tokyo"
    tokyo = now.astimezone(ZoneInfo("Asia/Tokyo"))
    windows = {
        own_zone.id: ((now + timedelta(hours=2)).time(), (now + timedelta(hours=3)).time(), "UTC"),
        by_territory.id: (
            (tokyo + timedelta(hours=4)).time(),
            (tokyo + timedelta(hours=5)).time(),
            None,
        ),
        inside.id: ((now - timedelta(hours=1)).time(), (now + timedelta(hours=1)).time(), "UTC"),
    }
    for customer in (own_zone, by_territory, anytime, inside):
        opt_in(customer)
        if customer.id in windows:
            pref = preference_for(customer.id)
            pref.preferred_contact_start, pref.preferred_contact_end, pref.timezone = windows[
                customer.id
            ]
    campaign = Campaign(channel="sms", name="x", body="hello", audience_ref="-")
    db.session.add(campaign)
    db.session.commit()
    outbound.materialize(campaign, select(Customer.id))
    rows = db.session.scalars(select(SmsMessage).order_by(SmsMessage.id)).all()
    holds = outbound.hold_until(rows)
    by_customer = {r.customer_id: holds.get(r.id) for r in rows}
    assert by_customer[anytime.id] is None and by_customer[inside.id] is None
    assert abs(by_customer[own_zone.id] - (now + timedelta(hours=2))) < timedelta(seconds=5)
    assert abs(by_customer[by_territory.id] - (now + timedelta(hours=4))) < timedelta(seconds=5)


def test_rate_limit_setting(app):
    assert settings.rate_limit() == settings.Rate(1000, 1.0)
    app.config["SMS_RATE_LIMIT"] = "100/1"
    assert outbound.rate_limit(None).limit == 100
    app.config["SMS_RATE_LIMIT"] = "garbage"
    assert settings.rate_limit() == settings.Rate(1, 1.0)
    app.config.pop("SMS_RATE_LIMIT")
    assert settings.rate_limit() == settings.Rate(1, 1.0)
    assert outbound.rate_limit(None).key == "sms:+15005550006"


def test_bulk_validation(call, manager, make_customer):
    r = call(manager, "post", "/send", json={"listId": "lst_nope", "body": "hi"})
    assert r.status_code == 422 and "listId" in r.get_json()["error"]["fields"]


def test_reps_see_only_their_territory_conversations(call, rep, manager, make_customer, inbound):
    make_customer("South", phone="+12125550136")
    make_customer("North", phone="+12125550137")
    inbound("+12125550136", "south here")
    inbound("+12125550137", "north here")
    inbound("+14155550138", "stranger")
    assert call(manager, "get", "/conversations").get_json()["total"] == 3
    page = call(rep, "get", "/conversations").get_json()
    assert [c["phone"] for c in page["items"]] == ["+12125550137"]
    others = [
        c["id"]
        for c in call(manager, "get", "/conversations").get_json()["items"]
        if c["phone"] != "+12125550137"
    ]
    for cid in others:
        assert call(rep, "get", f"/conversations/{cid}").status_code == 404
        assert (
            call(rep, "post", f"/conversations/{cid}/messages", json={"body": "hi"}).status_code
            == 404
        )


def test_reply_in_a_thread(call, manager, make_customer, opt_in, inbound, fake_twilio):
    customer = make_customer(phone="+12125550139")
    opt_in(customer)
    inbound("+12125550139", "Do you have the 2019?")
    [conv] = call(manager, "get", "/conversations?unread=true").get_json()["items"]
    assert conv["unreadCount"] == 1
    r = call(manager, "post", f"/conversations/{conv['id']}/messages", json={"body": "Yes, 6 left"})
    assert r.status_code == 201 and r.get_json()["status"] == "sent"
    thread = call(manager, "get", f"/conversations/{conv['id']}").get_json()
    assert [m["direction"] for m in thread["messages"]] == ["inbound", "outbound"]
    assert thread["unreadCount"] == 0 and fake_twilio.received[-1].body == "Yes, 6 left"


def test_a_text_too_long_once_personalised_fails_that_recipient_only(
    app, call, manager, make_customer, opt_in, fake_twilio
):
    """Twilio takes 1,600 characters at most (error 21617): checked per recipient after
    personalisation, so a long name fails its own row, with the reason, and no other."""
    app.config["SMS_MAX_SEGMENTS"] = 20  # the character limit is the one under test
    short = make_customer(phone="+12125550150", name="Ann")
    long = make_customer(phone="+12125550151", name="Château " + "Grand Cru " * 12)
    for customer in (short, long):
        opt_in(customer)
    body = "Hi {{ customer_name }}! " + "New vintages are in. " * 73  # 1,533 characters
    list_id = make_list(call, manager, [short, long])
    r = call(manager, "post", "/send", json={"listId": list_id, "body": body})
    assert r.status_code == 202, r.get_json()
    doc = call(manager, "get", f"/campaigns/{r.get_json()['id']}").get_json()
    assert doc["counts"]["sent"] == 1 and doc["counts"]["failed"] == 1, doc
    [sent] = fake_twilio.received
    assert sent.to == short.phone and len(sent.body) <= 1600
    assert fake_twilio.request_count == 1  # the long one never went to Twilio
    failed = db.session.scalar(select(SmsMessage).where(SmsMessage.status == "failed"))
    assert failed.customer_id == long.id and failed.error_code == "21617"
    assert "characters once personalised" in failed.error_message
    assert len(failed.body) > 1600


def test_a_number_shared_by_customers_is_texted_once(
    app, call, manager, make_customer, opt_in, fake_twilio
):
    first = make_customer(phone="+12125550152", name="First")
    second = make_customer(phone="+12125550152", name="Second")
    for customer in (first, second):
        opt_in(customer)
    list_id = make_list(call, manager, [first, second])
    r = call(manager, "post", "/send", json={"listId": list_id, "body": "Hi {{customer_name}}"})
    assert r.status_code == 202, r.get_json()
    assert [m.body for m in fake_twilio.received] == ["Hi First"]
    duplicate = db.session.scalar(select(SmsMessage).where(SmsMessage.customer_id == second.id))
    assert (duplicate.status, duplicate.error_message) == ("suppressed", "duplicate address")


def test_a_list_nobody_can_be_texted_from_is_a_422(call, manager, make_customer, opt_in):
    never_opted_in = make_customer(phone="+12125550153")
    no_phone = make_customer(phone=None)
    opted_out = make_customer(phone="+12125550155")
    opt_in(opted_out, "opted_out")
    list_id = make_list(call, manager, [never_opted_in, no_phone, opted_out])
    r = call(manager, "post", "/send", json={"listId": list_id, "body": "Hi"})
    assert r.status_code == 422, r.get_json()
    assert "nobody on this list can be texted" in r.get_json()["error"]["fields"]["listId"]
    assert db.session.scalar(select(Campaign)) is None


def test_a_past_send_time_is_a_422(call, manager, make_customer, opt_in, fake_twilio):
    customer = make_customer(phone="+12125550154")
    opt_in(customer)
    list_id = make_list(call, manager, [customer])
    r = call(
        manager,
        "post",
        "/send",
        json={"listId": list_id, "body": "Hi", "scheduledAt": "2020-01-01T09:00:00Z"},
    )
    assert r.status_code == 422 and "in the past" in r.get_json()["error"]["fields"]["scheduledAt"]
    assert db.session.scalar(select(Campaign)) is None and fake_twilio.received == []
