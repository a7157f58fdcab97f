"""The email API contract: single and bulk sends, 422 naming fields, 409 opted out."""

from __future__ import annotations

import re

import pytest

from app.crm.models import Activity
from app.messaging.consent import opt_out
from app.messaging.models import Campaign
from blueprints.email.models import EmailMessage
from tests.blueprints.email.conftest import count, dev_messages

HTML = '<p>Hello {{ customer_name }}</p><p><a href="https://shop.example/wine?a=1&amp;b=2">Shop</a></p>'


def test_single_send_with_html(app, rep, make_customer, call):
    customer = make_customer("North", name="Bistro Nord", email="chef@nord.example")
    r = call(
        rep,
        "post",
        "/email/send",
        json={
            "to": "chef@nord.example",
            "customerId": customer.public_id,
            "subject": "Hi {{ customer_name }}",
            "html": HTML,
        },
    )
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["status"] == "sent" and body["provider"] == "console" and body["error"] is None
    assert body["id"].startswith("eml_") and body["subject"] == "Hi Bistro Nord"
    [dev] = dev_messages()
    assert dev.to == "chef@nord.example" and dev.customer_id == customer.id
    assert "Hello Bistro Nord" in dev.body
    assert "/email/t/c/" in dev.html and "shop.example" not in dev.html
    assert "/email/t/o/" in dev.html and "Unsubscribe" in dev.html
    headers = dev.meta["headers"]
    assert re.fullmatch(r"<http://localhost/email/unsubscribe/[^>]+>", headers["List-Unsubscribe"])
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [activity] = list(app.extensions and Activity.query.all())
    assert activity.type == "Email" and activity.subject == "Hi Bistro Nord"
    assert activity.user_id == rep.id and activity.customer_id == customer.id
    assert activity.direction == "sent"


def test_list_unsubscribe_offers_the_configured_mailto_too(app, rep, make_customer, call):
    app.config["EMAIL_UNSUBSCRIBE_MAILTO"] = "unsubscribe@decant.example"
    customer = make_customer("North", email="chef@nord.example")
    r = call(
        rep,
        "post",
        "/email/send",
        json={
            "to": customer.email,
            "customerId": customer.public_id,
            "subject": "Hi",
            "html": HTML,
        },
    )
    assert r.status_code == 201, r.get_json()
    [dev] = dev_messages()
    assert re.fullmatch(
        r"<http://localhost/email/unsubscribe/[^>]+>, "
        r"<mailto:unsubscribe@decant\.example\?subject=unsubscribe>",
        dev.meta["headers"]["List-Unsubscribe"],
    )


def test_single_send_with_template_and_personalization(app, manager, make_customer, call):
    customer = make_customer("South", custom_fields={"favourite": "Rioja"})
    templates = call(manager, "get", "/templates?type=email").get_json()
    assert templates["total"] == 5
    names = {t["name"] for t in templates["items"]}
    assert "Weekly Specials" in names and "Tasting Invitation" in names
    tid = next(t["id"] for t in templates["items"] if t["name"] == "Customer Check-in")
    r = call(
        manager,
        "post",
        "/email/send",
        json={
            "to": customer.email,
            "customerId": customer.public_id,
            "templateId": tid,
            "personalization": {"promo": "X1"},
        },
    )
    assert r.status_code == 201
    assert "some time ago" in dev_messages()[0].body  # fallback for a missing last order


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"to": "not-an-address", "subject": "s", "html": "<p>x</p>"}, "to"),
        ({"subject": "s", "html": "<p>x</p>"}, "customerId"),
        ({"to": "someone.else@example.com", "subject": "s", "html": "<p>x</p>"}, "to"),
        (
            {"to": "a@b.example", "customerId": "cus_nope", "subject": "s", "html": "<p>x</p>"},
            "customerId",
        ),
        ({"to": "a@b.example", "html": "<p>x</p>"}, "subject"),
        ({"to": "a@b.example", "subject": "s"}, "html"),
        ({"to": "a@b.example", "templateId": "tpl_nope"}, "templateId"),
        ({"to": "a@b.example", "subject": "{{ nope }}", "html": "<p>x</p>"}, "subject"),
        ({"to": "a@b.example", "subject": "s", "html": "{{ customer_name.__class__ }}"}, "html"),
        ({"listId": "lst_nope", "subject": "s", "html": "<p>x</p>"}, "listId"),
        ({"to": "a@b.example", "subject": "s", "html": "<p>x</p>", "bogus": 1}, "bogus"),
    ],
)
def test_send_422_names_the_field_and_writes_nothing(
    app, manager, make_customer, call, payload, field
):
    customer = make_customer("North")
    if "to" in payload and "customerId" not in payload:
        payload = {**payload, "customerId": customer.public_id}
    if payload.get("to") == "a@b.example":  # the customer's own address: valid
        payload["to"] = customer.email
    r = call(manager, "post", "/email/send", json=payload)
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["error"]["fields"]
    assert count(EmailMessage) == 0 and count(Campaign) == 0 and not dev_messages()


def test_rep_cannot_send_to_hidden_customer(app, rep, make_customer, call):
    south = make_customer("South")
    r = call(
        rep,
        "post",
        "/email/send",
        json={"to": south.email, "customerId": south.public_id, "subject": "s", "html": "<p>x</p>"},
    )
    assert r.status_code == 422 and "customerId" in r.get_json()["error"]["fields"]


def test_opted_out_is_409(app, manager, make_customer, call):
    customer = make_customer("North")
    opt_out("email", customer.email, reason="unsubscribe", source="test", customer_id=customer.id)
    r = call(
        manager,
        "post",
        "/email/send",
        json={
            "to": customer.email,
            "customerId": customer.public_id,
            "subject": "s",
            "html": "<p>x</p>",
        },
    )
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "opted_out"
    assert count(EmailMessage) == 0 and not dev_messages()


def test_bulk_send_to_list(app, manager, make_customer, make_list, call):
    customers = [make_customer("North") for _ in range(4)] + [make_customer("North", email=None)]
    opt_out("email", customers[0].email, reason="bounce", source="test")
    list_id = make_list(manager, customers)
    r = call(
        manager,
        "post",
        "/email/send",
        json={"listId": list_id, "subject": "News for {{ customer_name }}", "html": HTML},
    )
    assert r.status_code == 202, r.get_json()
    campaign = r.get_json()
    assert campaign["status"] == "sent" and campaign["recipientsTotal"] == 4
    assert campaign["counts"]["sent"] == 3 and campaign["counts"]["suppressed"] == 1
    assert {d.to for d in dev_messages()} == {c.email for c in customers[1:4]}
    acts = Activity.query.filter_by(type="Email Campaign").all()
    assert len(acts) == 3 and all(a.user_id == manager.id for a in acts)
    assert {a.subject for a in acts} == {f"News for {c.name}" for c in customers[1:4]}
    # Campaign message ids: one stamp, then ascending with the rows, then 56 random bits.
    rows = EmailMessage.query.order_by(EmailMessage.id).all()
    assert all(re.fullmatch(r"eml_[0-9a-f]{28}", m.public_id) for m in rows)
    assert len({m.public_id[4:12] for m in rows}) == 1
    assert [m.public_id[12:18] for m in rows] == [f"{n:06x}" for n in range(1, len(rows) + 1)]
    assert len({m.public_id[18:] for m in rows}) == len(rows)
    assert {a.public_id[4:] for a in acts} == {m.public_id[4:] for m in rows if m.status == "sent"}
    listed = call(manager, "get", "/campaigns").get_json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == campaign["id"]
    detail = call(manager, "get", f"/campaigns/{campaign['id']}").get_json()
    assert detail["stats"]["sent"] == 3 and len(detail["timeline"]["opens"]) == 24
    page = call(manager, "get", f"/sales/marketing/campaigns/{campaign['id']}")
    assert page.status_code in (200, 302)


@pytest.mark.parametrize(
    ("subject", "html"),
    [
        ("Your {{ club|default('house') }} picks", "<p>Hi {{ customer_name }}</p>"),
        ("Your picks", "<p>Hi {{ customer_name }}, {{ club|default('house') }} member</p>"),
    ],
)
def test_campaign_fills_custom_field_tokens(
    app, manager, make_customer, make_list, call, subject, html
):
    """A campaign reads the customers' custom fields only when its subject or body uses
    one: both places count."""
    member = make_customer("North", custom_fields={"club": "Gold"})
    other = make_customer("North")
    list_id = make_list(manager, [member, other])
    r = call(
        manager, "post", "/email/send", json={"listId": list_id, "subject": subject, "html": html}
    )
    assert r.status_code == 202, r.get_json()
    sent = {d.to: (d.subject or "") + " " + (d.body or "") for d in dev_messages()}
    assert "Gold" in sent[member.email] and "house" not in sent[member.email]
    assert "house" in sent[other.email] and "Gold" not in sent[other.email]


def test_bulk_with_template_scheduled_then_cancel(app, manager, make_customer, make_list, call):
    list_id = make_list(manager, [make_customer("North")])
    tid = call(manager, "get", "/templates?type=email").get_json()["items"][0]["id"]
    r = call(
        manager,
        "post",
        "/email/send",
        json={"listId": list_id, "templateId": tid, "scheduledAt": "2099-01-01T09:00:00Z"},
    )
    assert r.status_code == 202 and r.get_json()["status"] == "scheduled"
    cid = r.get_json()["id"]
    assert call(manager, "post", f"/campaigns/{cid}/pause").get_json()["status"] == "paused"
    assert call(manager, "post", f"/campaigns/{cid}/cancel").get_json()["status"] == "cancelled"
    assert call(manager, "post", f"/campaigns/{cid}/resume").status_code == 409
    assert not dev_messages()


def test_templates_crud_and_checks(app, manager, make_customer, call):
    make_customer("North", custom_fields={"wine_club": "gold"})
    r = call(
        manager,
        "post",
        "/templates",
        json={
            "type": "email",
            "name": "Club",
            "subject": "Hi {{ customer_name }}",
            "html": '<p onclick="x()">{{ wine_club|default("none") }}</p><script>alert(1)</script>',
        },
    )
    assert r.status_code == 201, r.get_json()
    t = r.get_json()
    assert "script" not in t["html"] and "onclick" not in t["html"] and "wine_club" in t["html"]
    bad = call(manager, "patch", f"/templates/{t['id']}", json={"html": "{{ unknown_token }}"})
    assert bad.status_code == 422 and "html" in bad.get_json()["error"]["fields"]
    evil = call(
        manager,
        "post",
        "/templates",
        json={"type": "sms", "name": "x", "body": "{{ ''.__class__.__mro__ }}"},
    )
    assert evil.status_code == 422 and "body" in evil.get_json()["error"]["fields"]
    assert call(manager, "get", f"/templates/{t['id']}").get_json()["html"] == t["html"]
    ok = call(manager, "patch", f"/templates/{t['id']}", json={"name": "Club 2"})
    assert ok.get_json()["name"] == "Club 2"
    sms = call(manager, "get", "/templates?type=sms").get_json()
    assert sms["total"] == 5 and all(i["body"] for i in sms["items"])
    assert call(manager, "delete", f"/templates/{t['id']}").status_code == 204
    assert call(manager, "get", f"/templates/{t['id']}").status_code == 404


def test_template_preview(app, manager, make_customer, call):
    customer = make_customer("North", name="Cave Bleue")
    r = call(
        manager,
        "post",
        "/templates/preview",
        json={
            "customerId": customer.public_id,
            "subject": "Hi {{ customer_name }}",
            "html": "<style>p{color:red}</style><p>{{ territory }}</p>",
        },
    )
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    assert (
        out["subject"] == "Hi Cave Bleue"
        and 'style="color: red' in out["html"]
        and "North" in out["text"]
    )
    assert (
        call(
            manager,
            "post",
            "/templates/preview",
            json={"customerId": "cus_x", "subject": "s", "html": "x"},
        ).status_code
        == 422
    )


def test_seed_cli_is_idempotent(app):
    runner = app.test_cli_runner()
    assert "added 10" in runner.invoke(args=["email", "seed-templates"]).output
    assert "added 0" in runner.invoke(args=["email", "seed-templates"]).output
