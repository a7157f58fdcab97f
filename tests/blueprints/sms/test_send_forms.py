"""SMS forms keep what was typed and say what is wrong: the customer page's send box and
the inbox reply; a template and typed text together are never resolved silently."""

from __future__ import annotations

import html as html_lib
import re

from sqlalchemy import select

from app.extensions import db
from app.messaging import templates as tpl
from app.messaging.models import Template
from blueprints.sms.models import SmsMessage
from tests.conftest import csrf_from

SEND = "/sales/marketing/sms/customers/{}/send"


def _textarea(html: str, testid: str) -> str:
    found = re.search(rf'<textarea[^>]*data-testid="{testid}"[^>]*>(.*?)</textarea>', html, re.S)
    assert found, f"no {testid} textarea"
    return html_lib.unescape(found.group(1)).strip()


def _error(html: str, field: str) -> str:
    found = re.search(rf'data-testid="error-{field}">([^<]*)<', html)
    return found.group(1) if found else ""


def _outbound() -> list[SmsMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(SmsMessage).where(SmsMessage.direction == "outbound")))


def _page(client, customer) -> str:
    return client.get(f"/sales/customers/{customer.public_id}").get_data(as_text=True)


def test_a_refused_text_keeps_what_was_typed(client, login, manager, make_customer, opt_in):
    customer = make_customer(phone="+12125550160")
    opt_in(customer)
    login(manager)
    page = _page(client, customer)
    too_long = "Our autumn list is in. " * 80  # 1,840 GSM characters: 13 segments
    response = client.post(
        SEND.format(customer.public_id), data={"csrf_token": csrf_from(page), "body": too_long}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "segments" in _error(html, "body")
    assert _textarea(html, "sms-body") == too_long.strip()
    assert _outbound() == []


def test_a_text_to_a_customer_without_consent_says_so_and_keeps_it(
    client, login, manager, make_customer, opt_in, fake_twilio
):
    customer = make_customer(phone="+12125550161")
    opt_in(customer, "opted_out")
    login(manager)
    page = _page(client, customer)
    response = client.post(
        SEND.format(customer.public_id),
        data={"csrf_token": csrf_from(page), "body": "Two cases left"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert 'data-testid="sms-form-errors"' in html
    assert _textarea(html, "sms-body") == "Two cases left"
    assert fake_twilio.received == []


def test_a_failed_text_keeps_what_was_typed(
    client, login, manager, make_customer, opt_in, fake_twilio
):
    customer = make_customer(phone="+12125550162")
    opt_in(customer)
    fake_twilio.fail_for("+12125550162", 21408, message="Permission to send an SMS has not been")
    login(manager)
    page = _page(client, customer)
    response = client.post(
        SEND.format(customer.public_id),
        data={"csrf_token": csrf_from(page), "body": "Barolo arrived"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r'data-testid="sms-form-errors">\s*<div>Text failed', html)
    assert _textarea(html, "sms-body") == "Barolo arrived"
    assert [m.status for m in _outbound()] == ["failed"]


def test_typed_text_and_a_template_are_not_resolved_silently(
    client, login, manager, make_customer, opt_in, fake_twilio
):
    """The template used to win and the typed text was dropped without a word."""
    customer = make_customer(phone="+12125550163", name="Cave Nord")
    opt_in(customer)
    tpl.ensure_defaults()
    template = db.session.scalar(
        select(Template).where(Template.type == "sms", Template.name == "Customer Check-in")
    )
    login(manager)
    page = _page(client, customer)
    # the page's script gets each template's text to load into the box
    assert "data-sms-templates=" in page and "just checking in" in page
    token = csrf_from(page)
    both = client.post(
        SEND.format(customer.public_id),
        data={"csrf_token": token, "body": "My own words", "template_id": template.public_id},
    )
    html = both.get_data(as_text=True)
    assert both.status_code == 422
    assert "keep one of them" in _error(html, "template_id")
    assert _textarea(html, "sms-body") == "My own words"
    assert re.search(rf'<option value="{template.public_id}" selected>', html)
    assert fake_twilio.received == []
    # the template's own text in the box (loaded by the picker) sends the template
    loaded = client.post(
        SEND.format(customer.public_id),
        data={"csrf_token": token, "body": template.body, "template_id": template.public_id},
    )
    assert loaded.status_code == 302
    assert fake_twilio.received[-1].body.startswith("Hi Cave Nord, just checking in")
    assert _outbound()[-1].template_id == template.id


def test_a_refused_or_failed_reply_keeps_what_was_typed(
    client, login, manager, make_customer, opt_in, inbound, fake_twilio
):
    customer = make_customer(phone="+12125550164")
    opt_in(customer)
    inbound("+12125550164", "Any Chablis left?")
    login(manager)
    inbox = client.get("/sales/marketing/sms").get_data(as_text=True)
    link = inbox.split('href="/sales/marketing/sms/')[1].split('"')[0]
    thread = client.get(f"/sales/marketing/sms/{link}").get_data(as_text=True)
    too_long = "Chablis " * 250
    refused = client.post(
        f"/sales/marketing/sms/{link}/reply",
        data={"body": too_long, "csrf_token": csrf_from(thread)},
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "segments" in _error(html, "body")
    assert _textarea(html, "reply-body") == too_long.strip()
    fake_twilio.fail_for("+12125550164", 21408, message="Permission to send an SMS")
    failed = client.post(
        f"/sales/marketing/sms/{link}/reply",
        data={"body": "Six bottles", "csrf_token": csrf_from(thread)},
    )
    html = failed.get_data(as_text=True)
    assert failed.status_code == 200
    assert re.search(r'data-testid="sms-reply-errors">\s*<div>Not delivered', html)
    assert _textarea(html, "reply-body") == "Six bottles"
