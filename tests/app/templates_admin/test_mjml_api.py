"""MJML templates through the API: compiled on the server by MRML, stored with their
source; a compile error is a 422 naming the line, and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.messaging.models import Template

API = "/api/sales/marketing/templates"

WINE_NEWS = """<mjml lang="en">
  <mj-head>
    <mj-title>Autumn allocations</mj-title>
    <mj-preview>Three wines for {{ customer_name }}</mj-preview>
  </mj-head>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text font-size="18px">Hello {{ customer_name }},</mj-text>
        <mj-button href="https://shop.example/allocations?t={{ territory }}">Reserve</mj-button>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>"""


@pytest.fixture
def call(client, token_headers):
    def do(user: Any, method: str, path: str = "", **kwargs: Any):
        return client.open(API + path, method=method.upper(), headers=token_headers(user), **kwargs)

    return do


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(Template))


def test_an_mjml_template_is_compiled_and_keeps_its_source(call, manager, make_customer):
    made = call(
        manager,
        "post",
        json={
            "type": "email",
            "name": "Autumn",
            "subject": "For {{ customer_name }}",
            "format": "mjml",
            "mjml": WINE_NEWS,
        },
    )
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["format"] == "mjml" and body["mjml"] == WINE_NEWS
    # MRML's output: the text and button of the design, as tables, tokens kept
    assert "Hello {{ customer_name }}," in body["html"]
    assert "Reserve" in body["html"] and "<table" in body["html"]
    assert "<mj-" not in body["html"]

    customer = make_customer("North", name="Harbour Wines", email="b@harbour.example")
    shown = call(
        manager,
        "post",
        "/preview",
        json={"customerId": customer.public_id, "templateId": body["id"]},
    )
    assert shown.status_code == 200, shown.get_json()
    assert "Hello Harbour Wines," in shown.get_json()["html"]

    # a name change leaves the design alone; HTML typed over it makes it an HTML template
    renamed = call(manager, "patch", f"/{body['id']}", json={"name": "Autumn 2"}).get_json()
    assert renamed["format"] == "mjml" and renamed["mjml"] == WINE_NEWS
    plain = call(manager, "patch", f"/{body['id']}", json={"html": "<p>Hi {{ customer_name }}</p>"})
    assert plain.status_code == 200
    assert plain.get_json()["format"] == "html" and plain.get_json()["mjml"] is None


def test_a_compile_error_is_a_422_naming_the_line_and_writes_nothing(call, manager):
    before = _count()
    broken = WINE_NEWS.replace('<mj-text font-size="18px">', "<mj-text font-size=18px>")
    refused = call(
        manager,
        "post",
        json={"type": "email", "name": "Broken", "subject": "Hi", "format": "mjml", "mjml": broken},
    )
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert error["code"] == "validation_error"
    assert error["fields"]["mjml"].startswith("line 9: "), error
    assert _count() == before


@pytest.mark.parametrize(
    ("change", "line", "says"),
    [
        # an element left open: the line it was opened on
        (lambda s: s.replace("</mj-column>", ""), 8, "<mj-column> is never closed"),
        # an element MJML does not take where it stands: MRML's own position
        (lambda s: s.replace("<mj-title>", "<mj-wine/><mj-title>"), 3, "<mj-wine>"),
        # no file or URL is ever read
        (lambda s: s.replace("<mj-section>", '<mj-include path="/etc/passwd" />'), 7, "mj-include"),
    ],
)
def test_each_kind_of_compile_error_names_its_line(call, manager, change, line, says):
    template = call(
        manager,
        "post",
        json={
            "type": "email",
            "name": "News",
            "subject": "Hi",
            "format": "mjml",
            "mjml": WINE_NEWS,
        },
    ).get_json()
    before = db.session.get(
        Template, db.session.scalar(select(Template.id).where(Template.public_id == template["id"]))
    ).html
    refused = call(manager, "patch", f"/{template['id']}", json={"mjml": change(WINE_NEWS)})
    assert refused.status_code == 422
    message = refused.get_json()["error"]["fields"]["mjml"]
    assert message.startswith(f"line {line}: ") and says in message, message
    db.session.expire_all()
    stored = db.session.scalar(select(Template).where(Template.public_id == template["id"]))
    assert stored.html == before and stored.mjml_source == WINE_NEWS


def test_mjml_is_for_email_and_needs_a_source(call, manager):
    sms = call(manager, "post", json={"type": "sms", "name": "T", "body": "Hi", "mjml": WINE_NEWS})
    assert sms.status_code == 422
    assert "format" in sms.get_json()["error"]["fields"]
    empty = call(
        manager, "post", json={"type": "email", "name": "T", "subject": "Hi", "format": "mjml"}
    )
    assert empty.status_code == 422
    assert empty.get_json()["error"]["fields"] == {"mjml": "an MJML document is required"}
    both = call(
        manager,
        "post",
        json={"type": "email", "name": "T", "subject": "S", "html": "<p>x</p>", "mjml": WINE_NEWS},
    )
    assert both.status_code == 422 and "html" in both.get_json()["error"]["fields"]


def test_a_draft_in_mjml_previews_without_saving(call, manager, make_customer):
    customer = make_customer("North", name="Cave Nord", email="c@nord.example")
    before = _count()
    shown = call(
        manager,
        "post",
        "/preview",
        json={"customerId": customer.public_id, "subject": "Hi", "mjml": WINE_NEWS},
    )
    assert shown.status_code == 200, shown.get_json()
    assert "Hello Cave Nord," in shown.get_json()["html"]
    broken = call(
        manager,
        "post",
        "/preview",
        json={"customerId": customer.public_id, "subject": "Hi", "mjml": "<mjml><mj-body>"},
    )
    assert broken.status_code == 422 and "mjml" in broken.get_json()["error"]["fields"]
    assert _count() == before
