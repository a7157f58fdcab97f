"""In Debian's Chromium: a manager edits a template and saves it; a rep picking an SMS
template over typed text is asked first."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.messaging import templates as tpl
from app.messaging.models import Template
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def _log_in(page, live_server, user) -> None:
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/sales/customers")


def test_manager_edits_and_saves_a_template(live_server, page, manager, make_customer):
    make_customer("North", name="Harbour Wines", email="buyer@harbour.example")
    tpl.ensure_defaults()
    check_in = db.session.scalar(
        select(Template).where(Template.type == "email", Template.name == "Customer Check-in")
    )
    _log_in(page, live_server, manager)
    page.goto(f"{live_server}/sales/marketing/templates")
    page.click(f"a[href$='id={check_in.public_id}']")
    assert page.locator("[data-testid=template-type]").input_value() == "Email"

    page.fill("input[name=name]", "Customer Check-in (autumn)")
    page.fill("textarea[name=html]", "<p>Hello {{ customer_name }}, autumn is here.</p>")
    page.wait_for_selector("[data-testid=preview-subject]:has-text('Harbour Wines')")
    page.click("[data-testid=template-save]")
    page.wait_for_selector("text=Template “Customer Check-in (autumn)” saved.")
    assert page.locator("input[name=name]").input_value() == "Customer Check-in (autumn)"

    db.session.expire_all()
    saved = db.session.get(Template, check_in.id)
    assert saved.name == "Customer Check-in (autumn)" and saved.type == "email"
    assert "autumn is here" in saved.html

    # an invalid change is refused beside its field, with the typed name kept
    page.fill("input[name=name]", "")
    page.click("[data-testid=template-save]")
    page.wait_for_selector("[data-testid=error-name]")
    assert page.locator("[data-testid=error-name]").inner_text() == "This field is required."


def test_picking_an_sms_template_asks_before_replacing_typed_text(
    live_server, page, rep, make_customer
):
    customer = make_customer("North", name="Cave Nord", phone="+12125550170")
    tpl.ensure_defaults()
    check_in = db.session.scalar(
        select(Template).where(Template.type == "sms", Template.name == "Customer Check-in")
    )
    _log_in(page, live_server, rep)
    page.goto(f"{live_server}/sales/customers/{customer.public_id}")
    body = page.locator("[data-testid=sms-body]")
    picker = page.locator("[data-testid=sms-template]")

    picker.select_option(check_in.public_id)  # nothing typed: loaded without asking
    assert body.input_value() == check_in.body

    page.fill("[data-testid=sms-body]", "My own words")
    assert picker.input_value() == ""  # edited: the text is now the rep's own
    asked: list[str] = []

    def decline(dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", decline)
    picker.select_option(check_in.public_id)
    assert asked and "Replace the text you typed" in asked[0]
    assert body.input_value() == "My own words" and picker.input_value() == ""

    page.once("dialog", lambda dialog: dialog.accept())
    picker.select_option(check_in.public_id)
    assert body.input_value() == check_in.body
    assert picker.input_value() == check_in.public_id
