"""The designer and code-view pages of MJML templates, and "Send a test to me"."""

from __future__ import annotations

import html as html_lib
import re

from sqlalchemy import func, select

from app.dev.models import DevMessage
from app.extensions import db
from app.messaging import templates as tpl
from app.messaging.models import Template
from tests.app.templates_admin.test_mjml_api import WINE_NEWS
from tests.conftest import csrf_from

PAGES = "/sales/marketing/templates"
DESIGNER = f"{PAGES}/designer"


def _design(user, name: str = "Autumn") -> Template:
    return tpl.create_template(
        user,
        {"type": "email", "name": name, "subject": "For {{ customer_name }}", "mjml": WINE_NEWS},
    )


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(Template))


def test_the_designer_saves_a_design_and_a_refusal_keeps_it_naming_the_line(client, login, manager):
    login(manager)
    page = client.get(DESIGNER)
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "style-src 'self' 'unsafe-inline'" in csp
    text = page.get_data(as_text=True)
    assert "/vendor/grapes.js" in text and "/vendor/grapesjs-mjml.js" in text
    before = _count()
    broken = WINE_NEWS.replace("</mj-column>", "")
    refused = client.post(
        DESIGNER,
        data={"csrf_token": csrf_from(text), "name": "Autumn", "subject": "Hi", "mjml": broken},
    )
    assert refused.status_code == 422
    shown = refused.get_data(as_text=True)
    assert "MJML: line 8: &lt;mj-column&gt; is never closed" in shown
    kept = re.search(r'id="designer-mjml"[^>]*value="([^"]*)"', shown) or re.search(
        r'value="([^"]*)"[^>]*id="designer-mjml"', shown
    )
    assert kept and html_lib.unescape(kept.group(1)) == broken  # back in the editor
    assert _count() == before

    saved = client.post(
        DESIGNER,
        data={"csrf_token": csrf_from(text), "name": "Autumn", "subject": "Hi", "mjml": WINE_NEWS},
    )
    assert saved.status_code == 302
    template = db.session.scalar(select(Template).where(Template.name == "Autumn"))
    assert saved.headers["Location"].endswith(f"{DESIGNER}?id={template.public_id}")
    assert template.format == "mjml" and template.mjml_source == WINE_NEWS
    assert "Hello {{ customer_name }}," in template.html


def test_html_templates_open_in_the_code_view_and_designs_show_their_mjml(client, login, manager):
    login(manager)
    tpl.ensure_defaults()
    html_one = db.session.scalar(select(Template).where(Template.type == "email"))
    moved = client.get(f"{DESIGNER}?id={html_one.public_id}")
    assert moved.status_code == 302
    assert moved.headers["Location"].endswith(f"{PAGES}?id={html_one.public_id}")

    design = _design(manager)
    listing = client.get(PAGES).get_data(as_text=True)
    assert f"{DESIGNER}?id={design.public_id}" in listing  # a design opens in the designer
    code = client.get(f"{PAGES}?id={design.public_id}").get_data(as_text=True)
    assert 'name="mjml"' in code and 'name="html"' not in code
    changed = WINE_NEWS.replace("Reserve", "Reserve now")
    response = client.post(
        f"{PAGES}?id={design.public_id}",
        data={"csrf_token": csrf_from(code), "name": "Autumn", "subject": "Hi", "mjml": changed},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert design.mjml_source == changed and "Reserve now" in design.html
    refused = client.post(
        f"{PAGES}?id={design.public_id}",
        data={"csrf_token": csrf_from(code), "name": "Autumn", "subject": "Hi", "mjml": ""},
    )
    assert refused.status_code == 422
    assert 'data-testid="error-mjml"' in refused.get_data(as_text=True)


def test_a_rep_sees_a_shared_design_read_only(client, login, rep, manager):
    design = _design(manager)
    login(rep)
    page = client.get(f"{DESIGNER}?id={design.public_id}").get_data(as_text=True)
    assert 'data-testid="template-shared"' in page and 'data-testid="designer-save"' not in page
    posted = client.post(
        f"{DESIGNER}?id={design.public_id}",
        data={"csrf_token": csrf_from(page), "name": "Mine", "mjml": WINE_NEWS},
    )
    assert posted.status_code == 403
    db.session.expire_all()
    assert design.name == "Autumn"


def test_send_a_test_to_me_renders_for_the_chosen_customer_into_the_dev_outbox(
    client, login, rep, manager, make_customer
):
    customer = make_customer("North", name="Harbour Wines", email="buyer@harbour.example")
    design = _design(manager)
    login(rep)  # a shared template may be tested by anyone; it goes to the rep alone
    page = client.get(f"{DESIGNER}?id={design.public_id}").get_data(as_text=True)
    response = client.post(
        f"{PAGES}/{design.public_id}/test",
        data={"csrf_token": csrf_from(page), "customer_id": customer.public_id},
    )
    assert response.status_code == 302
    kept = db.session.scalars(select(DevMessage)).all()
    assert [(m.to, m.subject, m.user_id) for m in kept] == [
        (rep.email, "[Test] For Harbour Wines", rep.id)
    ]
    assert "Hello Harbour Wines," in kept[0].html
    back = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Test of “Autumn” sent to {rep.email}." in back
    outbox = client.get("/dev/outbox").get_data(as_text=True)
    assert "[Test] For Harbour Wines" in outbox  # the rep finds it in their outbox


def test_a_test_needs_an_email_template_and_the_form(client, login, manager):
    tpl.ensure_defaults()
    sms = db.session.scalar(select(Template).where(Template.type == "sms"))
    login(manager)
    page = client.get(f"{PAGES}?id={sms.public_id}").get_data(as_text=True)
    assert 'data-testid="send-test"' not in page
    refused = client.post(f"{PAGES}/{sms.public_id}/test", data={"csrf_token": csrf_from(page)})
    assert refused.status_code == 302
    assert "only an email template has a test" in client.get(refused.headers["Location"]).get_data(
        as_text=True
    )
    no_csrf = client.post(f"{PAGES}/{sms.public_id}/test", data={})
    assert no_csrf.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(DevMessage)) == 0
