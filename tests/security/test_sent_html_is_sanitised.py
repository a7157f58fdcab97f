"""What is sent is sanitised, not only what was typed: a customer's value cannot become
markup, a template's expression cannot make a ``javascript:`` link, and an inbound MMS
URL is linked in the inbox only when it is http(s) (tests/blueprints/sms). Checked on what
reached the dev outbox (the console provider), on single sends and campaigns."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.dev.models import DevMessage
from app.extensions import db
from app.messaging.models import Template

HOSTILE_NAME = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def _sent_html() -> list[str]:
    db.session.expire_all()
    return [m.html or "" for m in db.session.scalars(select(DevMessage).order_by(DevMessage.id))]


class _Markup(HTMLParser):
    """The tags and attributes a mail client would act on (text is only text)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "object", "embed"):
            self.problems.append(tag)
        for name, value in attrs:
            url = re.sub(r"[\x00-\x20]", "", value or "").lower()
            if name.startswith("on") or url.startswith(("javascript:", "vbscript:", "data:")):
                self.problems.append(f"{tag} {name}={value!r}")


def _assert_clean(html: str) -> None:
    parser = _Markup()
    parser.feed(html)
    parser.close()
    assert not parser.problems, html


@pytest.fixture
def hostile(make_customer):
    return make_customer(
        "North",
        name=HOSTILE_NAME,
        custom_fields={"website": " JaVaScript:alert(3)", "rest": "script:alert(4)"},
    )


@pytest.mark.parametrize(
    "html",
    [
        '<p>Hi {{ customer_name }}</p><a href="{{ website }}">site</a>',
        "<p>{{ customer_name|upper }}</p><a href=\"{{ 'javascript:alert(1)' }}\">x</a>",
        '<p>{{ customer_name ~ "" }}</p><a href="java{{ rest }}">x</a>',
        "{% if customer_name %}<a href=\"{{ 'java' ~ 'script:alert(5)' }}\">x</a>{% endif %}",
        '<img src="{{ website }}"><p title="{{ customer_name }}">x</p>',
    ],
)
def test_single_sends_carry_no_script_whatever_the_template_did(api, manager, hostile, html):
    response = api(
        manager,
        "post",
        "/email/send",
        json={"to": hostile.email, "customerId": hostile.public_id, "subject": "Hi", "html": html},
    )
    assert response.status_code == 201, response.get_json()
    (sent,) = _sent_html()
    _assert_clean(sent)
    assert "&lt;script&gt;" in sent.lower() or "x" in sent  # the name is shown, as text


def test_safe_and_autoescape_are_refused_on_save(api, manager):
    for html, words in (
        ("<p>{{ customer_name|safe }}</p>", "safe"),
        ("{% filter safe %}{{ customer_name }}{% endfilter %}", "safe"),
        ("{% autoescape false %}{{ customer_name }}{% endautoescape %}", "autoescape"),
    ):
        response = api(
            manager,
            "post",
            "/templates",
            json={"type": "email", "name": "x", "subject": "s", "html": html},
        )
        assert response.status_code == 422, response.get_json()
        assert words in response.get_json()["error"]["fields"]["html"]


def test_a_template_saved_with_safe_before_the_fix_is_refused_and_escapes(api, manager, hostile):
    """A template stored before ``|safe`` was refused: sending it anew is refused naming
    the filter, and a campaign already holding it renders the value escaped."""
    stored = Template(
        type="email",
        name="Old",
        subject="For {{ customer_name }}",
        html="<p>Dear {{ customer_name|safe }}</p>",
    )
    db.session.add(stored)
    db.session.commit()
    single = api(
        manager,
        "post",
        "/email/send",
        json={"to": hostile.email, "customerId": hostile.public_id, "templateId": stored.public_id},
    )
    assert single.status_code == 422
    assert "safe" in single.get_json()["error"]["fields"]["html"]
    from blueprints.email import sending

    row = SimpleNamespace(id=1)
    out = sending.render_for(row, stored.subject, stored.html, {"customer_name": HOSTILE_NAME})
    _assert_clean(out.html)
    assert "&lt;script&gt;" in out.html


def test_campaign_messages_are_sanitised_after_rendering(api, manager, hostile, make_customer):
    """A campaign body with expressions is rendered per recipient and sanitised again."""
    other = make_customer(
        "North", name="Plain Bistro", custom_fields={"website": "https://ok.example"}
    )
    made = api(manager, "post", "/lists", json={"name": "Both"})
    list_id = made.get_json()["id"]
    added = api(
        manager,
        "post",
        f"/lists/{list_id}/members",
        json={"customerIds": [hostile.public_id, other.public_id]},
    )
    assert added.status_code == 200, added.get_json()
    html = (
        "<p>{{ customer_name|title }}</p>"
        "<p><a href=\"{{ website|default('https://example.com') }}\">site</a></p>"
    )
    response = api(
        manager, "post", "/email/send", json={"listId": list_id, "subject": "News", "html": html}
    )
    assert response.status_code == 202, response.get_json()
    sent = _sent_html()
    assert len(sent) == 2
    for body in sent:
        _assert_clean(body)
    assert any("ok.example" in body or "/email/t/c/" in body for body in sent)
