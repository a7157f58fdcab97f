"""Issue 20 item 3 end to end, through Twilio's signed webhook: revocation in any
reasonable words, HELP?, and texts that only mention stopping flagged for a person, who
resolves them in one click from the inbox (CSRF) or the API."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.crm.models import ConsentChange
from app.extensions import db
from app.messaging import consent
from app.messaging.models import Suppression
from blueprints.sms.models import SmsConversation, SmsMessage
from tests.conftest import csrf_from

ISSUE_WORDINGS = [
    "STOP?",
    "Stop,",
    "'STOP'",
    "STOP 🛑",
    "ＳＴＯＰ",
    "STOP\u200b",
    "Stop please",
    "please stop",
    "Stop texting me",
    "Opt out",
    "OPT-OUT",
]
BAROLO = "I can't stop drinking your Barolo"


def flagged_message() -> SmsMessage:
    return db.session.scalar(select(SmsMessage).where(SmsMessage.direction == "inbound"))


@pytest.mark.parametrize("wording", ISSUE_WORDINGS)
def test_every_wording_in_the_issue_opts_out(inbound, make_customer, opt_in, wording):
    customer = make_customer(phone="+12125550140")
    opt_in(customer)
    answer = inbound("+12125550140", wording)
    assert answer.status_code == 200 and "<Message>" not in answer.get_data(as_text=True)
    assert consent.is_suppressed("sms", "+12125550140")
    assert consent.status_of("sms", customer.phone) == "opted_out"
    change = db.session.scalar(select(ConsentChange).order_by(ConsentChange.id.desc()))
    assert change.status == "opted_out" and change.source.startswith("sms:")
    assert flagged_message().review is None  # decided by the words, nobody has to look


def test_help_with_punctuation_gets_the_help_reply(app, inbound):
    app.config["SMS_HELP_REPLY"] = "Decant: call 555-0100. Reply STOP to stop."
    body = inbound("+12125550141", "HELP?").get_data(as_text=True)
    assert "<Message>Decant: call 555-0100. Reply STOP to stop.</Message>" in body
    assert not consent.is_suppressed("sms", "+12125550141")


def test_a_mention_in_a_sentence_is_flagged_not_an_opt_out(inbound, make_customer, opt_in):
    customer = make_customer(phone="+12125550142")
    opt_in(customer)
    assert inbound("+12125550142", BAROLO).status_code == 200
    assert not consent.is_suppressed("sms", "+12125550142")
    assert consent.status_of("sms", customer.phone) == "opted_in"
    assert flagged_message().review == "pending"


def test_flag_shown_in_inbox_and_treated_as_opt_out_from_the_page(
    client, login, manager, make_customer, opt_in, inbound
):
    customer = make_customer(phone="+12125550143")
    opt_in(customer)
    inbound("+12125550143", BAROLO)
    conversation = db.session.scalar(select(SmsConversation))
    message = flagged_message()
    login(manager)
    inbox = client.get("/sales/marketing/sms").get_data(as_text=True)
    assert 'data-testid="needs-review"' in inbox
    page = client.get(f"/sales/marketing/sms/{conversation.public_id}").get_data(as_text=True)
    assert 'data-review="pending"' in page and "Treat as opt-out" in page
    url = f"/sales/marketing/sms/{conversation.public_id}/messages/{message.public_id}/review"
    # without the CSRF token: refused, nothing recorded
    assert client.post(url, data={"decision": "opt_out"}).status_code == 400
    assert not consent.is_suppressed("sms", "+12125550143")
    done = client.post(url, data={"decision": "opt_out", "csrf_token": csrf_from(page)})
    assert done.status_code == 302
    assert consent.is_suppressed("sms", "+12125550143")
    db.session.expire_all()
    assert flagged_message().review == "opt_out" and flagged_message().reviewed_by_id == manager.id
    assert db.session.scalar(select(Suppression.source)) == "sms:review"
    after = client.get(f"/sales/marketing/sms/{conversation.public_id}").get_data(as_text=True)
    assert "Treated as an opt-out" in after and 'data-testid="needs-review"' not in after


def test_not_an_opt_out_from_the_page_clears_the_flag(
    client, login, manager, make_customer, opt_in, inbound
):
    customer = make_customer(phone="+12125550144")
    opt_in(customer)
    inbound("+12125550144", BAROLO)
    conversation = db.session.scalar(select(SmsConversation))
    login(manager)
    # the customer page's SMS panel shows the same two buttons
    page = client.get(f"/sales/customers/{customer.public_id}").get_data(as_text=True)
    assert 'data-review="pending"' in page
    action = re.search(r'action="([^"]+/review)"', page).group(1)
    assert conversation.public_id in action
    done = client.post(action, data={"decision": "not_opt_out", "csrf_token": csrf_from(page)})
    assert done.status_code == 302
    db.session.expire_all()
    assert flagged_message().review == "not_opt_out"
    assert not consent.is_suppressed("sms", "+12125550144")


def test_review_through_the_api(call, manager, rep, make_customer, opt_in, inbound):
    north = make_customer("North", phone="+12125550145")
    south = make_customer("South", phone="+12125550146")
    opt_in(north)
    opt_in(south)
    inbound("+12125550145", BAROLO)
    inbound("+12125550146", "Please cancel my order")
    listed = call(manager, "get", "/conversations?needsReview=true").get_json()
    assert listed["total"] == 2 and all(c["needsReview"] for c in listed["items"])
    north_msg, south_msg = db.session.scalars(
        select(SmsMessage).where(SmsMessage.direction == "inbound").order_by(SmsMessage.id)
    ).all()
    path = f"/messages/{north_msg.public_id}/review"
    bad = call(rep, "post", path, json={"decision": "maybe"})
    assert bad.status_code == 422 and "decision" in bad.get_json()["error"]["fields"]
    # a rep of the North cannot decide on a South customer's text
    assert (
        call(
            rep, "post", f"/messages/{south_msg.public_id}/review", json={"decision": "opt_out"}
        ).status_code
        == 404
    )
    assert not consent.is_suppressed("sms", "+12125550146")
    done = call(rep, "post", path, json={"decision": "opt_out"})
    assert done.status_code == 200 and done.get_json()["review"] == "opt_out"
    assert consent.is_suppressed("sms", "+12125550145")
    # an opt-out once recorded is not undone by calling it "not an opt-out"
    undo = call(rep, "post", path, json={"decision": "not_opt_out"})
    assert undo.status_code == 409
    assert consent.is_suppressed("sms", "+12125550145")
    after = call(manager, "get", "/conversations?needsReview=true").get_json()
    assert after["total"] == 1
    assert db.session.scalar(select(func.count()).select_from(Suppression)) == 1
