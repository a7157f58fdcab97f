"""Inbound texts at /webhooks/twilio: signatures, threads, keywords, auto-replies."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.crm.models import Activity, ConsentChange
from app.extensions import db
from app.messaging import consent
from app.messaging.models import Suppression
from blueprints.sms import keywords
from blueprints.sms.models import SmsConversation, SmsMessage
from blueprints.webhooks.models import WebhookEvent
from tests.blueprints.sms.conftest import INBOUND, PUBLIC
from tests.fakes.twilio import sign

STOP_WORDS = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"]
START_WORDS = ["START", "UNSTOP", "YES"]


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_signed_inbound_is_filed_under_its_customer(inbound, make_customer):
    customer = make_customer(phone="+12125550110")
    r = inbound("+12125550110", "Can I get 3 cases of the Rioja?")
    assert r.status_code == 200 and r.mimetype == "application/xml"
    assert "<Response" in r.get_data(as_text=True) and "<Message>" not in r.get_data(as_text=True)
    conversation = db.session.scalar(select(SmsConversation))
    assert conversation.customer_id == customer.id and conversation.unread_count == 1
    message = db.session.scalar(select(SmsMessage))
    assert message.direction == "inbound" and message.status == "received"
    activity = db.session.get(Activity, message.activity_id)
    assert activity.type == "SMS" and activity.direction == "received"
    assert activity.body == "Can I get 3 cases of the Rioja?"


def test_unknown_number_gets_an_unknown_contact_conversation(inbound):
    assert (
        inbound(
            "+14155550111", "who is this?", NumMedia="1", MediaUrl0="https://m.example/1"
        ).status_code
        == 200
    )
    conversation = db.session.scalar(select(SmsConversation))
    assert conversation.customer_id is None and conversation.phone == "+14155550111"
    assert db.session.scalar(select(SmsMessage)).media_urls == ["https://m.example/1"]
    assert count(Activity) == 0


def test_repeated_message_sid_changes_nothing(inbound, make_customer):
    make_customer(phone="+12125550112")
    assert inbound("+12125550112", "hello", MessageSid="SM" + "a" * 32).status_code == 200
    assert inbound("+12125550112", "hello", MessageSid="SM" + "a" * 32).status_code == 200
    assert count(SmsMessage) == 1 and count(Activity) == 1 and count(WebhookEvent) == 1
    assert db.session.scalar(select(SmsConversation)).unread_count == 1


def test_unsigned_wrong_or_unconfigured_signatures_are_refused(app, client, inbound):
    params = {
        "From": "+12125550113",
        "To": "+15005550006",
        "Body": "hi",
        "MessageSid": "SM" + "b" * 32,
    }
    assert client.post(INBOUND, data=params).status_code == 403
    bad = {"X-Twilio-Signature": sign("wrong-token", PUBLIC + INBOUND, params)}
    assert client.post(INBOUND, data=params, headers=bad).status_code == 403
    # signed for the proxied URL instead of the public one
    local = {
        "X-Twilio-Signature": sign(
            app.config["TWILIO_AUTH_TOKEN"], "http://localhost" + INBOUND, params
        )
    }
    assert client.post(INBOUND, data=params, headers=local).status_code == 403
    assert inbound("+12125550113", "hi", token="wrong-token").status_code == 403
    app.config["TWILIO_AUTH_TOKEN"] = None
    good = {"X-Twilio-Signature": sign("anything", PUBLIC + INBOUND, params)}
    assert client.post(INBOUND, data=params, headers=good).status_code == 403
    assert count(SmsMessage) == 0 and count(WebhookEvent) == 0


@pytest.mark.parametrize("word", STOP_WORDS)
def test_each_opt_out_keyword(inbound, make_customer, opt_in, word):
    customer = make_customer(phone="+12125550114")
    opt_in(customer)
    r = inbound("+12125550114", f"  {word.lower().capitalize()} ")
    assert "<Message>" not in r.get_data(as_text=True)
    assert (
        db.session.scalar(select(Suppression.reason).where(Suppression.address == "+12125550114"))
        == "STOP"
    )
    assert consent.status_of("sms", customer.phone) == "opted_out"
    change = db.session.scalar(select(ConsentChange).order_by(ConsentChange.id.desc()))
    assert change.status == "opted_out" and change.source.startswith("sms:")


@pytest.mark.parametrize("word", START_WORDS)
def test_each_opt_in_keyword(inbound, make_customer, opt_in, word):
    customer = make_customer(phone="+12125550115")
    opt_in(customer)
    inbound("+12125550115", "stop")
    inbound("+12125550115", word.lower())
    assert count(Suppression) == 0
    assert consent.status_of("sms", customer.phone) == "opted_in"


@pytest.mark.parametrize("word", ["HELP", "info", " Help "])
def test_help_keywords_get_the_help_reply(app, inbound, word):
    app.config["SMS_HELP_REPLY"] = "Decant: call 555-0100. Reply STOP to stop."
    body = inbound("+12125550116", word).get_data(as_text=True)
    assert "<Message>Decant: call 555-0100. Reply STOP to stop.</Message>" in body


def test_keywords_are_single_words_only(inbound, make_customer, opt_in):
    customer = make_customer(phone="+12125550117")
    opt_in(customer)
    inbound("+12125550117", "please don't stop sending")
    assert count(Suppression) == 0


def test_twilio_opt_out_type_is_honoured(inbound, make_customer, opt_in):
    customer = make_customer(phone="+12125550118")
    opt_in(customer)
    inbound("+12125550118", "arrêt", OptOutType="STOP")
    assert count(Suppression) == 1


def test_classify():
    assert keywords.classify(" stop\n") == "opt_out"
    assert keywords.classify("Stop.") == "opt_out"
    assert keywords.classify("stop it") is None
    assert keywords.classify("yes") == "opt_in"
    assert keywords.classify("hello", "START") == "opt_in"


def test_auto_replies_and_away_message(app, inbound, make_customer):
    app.config["SMS_AUTO_REPLIES"] = '{"hours": "We are open 9-5"}'
    assert "<Message>We are open 9-5</Message>" in inbound("+12125550119", "Hours").get_data(
        as_text=True
    )
    app.config["SMS_BUSINESS_HOURS"] = "00:00-00:01"
    app.config["SMS_BUSINESS_TZ"] = "Pacific/Kiritimati"
    app.config["SMS_AWAY_MESSAGE"] = "We're closed; back tomorrow."
    from blueprints.sms import settings

    away = settings.outside_business_hours(__import__("app.models_base").models_base.utcnow())
    body = inbound("+12125550119", "anyone there?").get_data(as_text=True)
    assert ("back tomorrow" in body) == away
    thread = db.session.scalars(select(SmsMessage).order_by(SmsMessage.id)).all()
    assert [m.direction for m in thread][:3] == ["inbound", "outbound", "inbound"]


def test_no_auto_reply_to_an_opted_out_number(app, inbound):
    app.config["SMS_AUTO_REPLIES"] = {"HOURS": "We are open 9-5"}
    inbound("+12125550120", "STOP")
    assert "<Message>" not in inbound("+12125550120", "hours").get_data(as_text=True)


def test_away_message_once_per_conversation(app, inbound):
    from datetime import timedelta

    from app.models_base import utcnow

    later = utcnow() + timedelta(hours=2)
    app.config["SMS_BUSINESS_HOURS"] = f"{later:%H}:00-{later + timedelta(hours=1):%H}:00"
    app.config["SMS_BUSINESS_TZ"] = "UTC"
    app.config["SMS_AWAY_MESSAGE"] = "We're closed; back tomorrow."

    answers = [inbound("+12125550131", f"hello {n}").get_data(as_text=True) for n in range(3)]
    assert ["back tomorrow" in a for a in answers] == [True, False, False]
    assert "back tomorrow" in inbound("+12125550132", "hi").get_data(as_text=True)
    away = select(SmsMessage).where(SmsMessage.body == "We're closed; back tomorrow.")
    assert len(db.session.scalars(away).all()) == 2

    app.config["SMS_AWAY_MESSAGE_HOURS"] = 0  # throttle off: every text answered
    assert "back tomorrow" in inbound("+12125550131", "again").get_data(as_text=True)
