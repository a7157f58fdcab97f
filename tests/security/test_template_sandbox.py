"""Template sandbox: escapes and resource bombs are refused through the API, naming the
field, with nothing saved; data that looks like a template is never evaluated."""

from __future__ import annotations

import pytest

from tests.security.conftest import diff, snapshot

ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ customer_name|attr('__class__') }}",
    "{{ customer_name|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "{{ customer_name['__class__'] }}",
    "{{ '{0.__class__.__mro__}'.format(customer_name) }}",
    "{{ '%s'|format(customer_name.__class__) }}",
    "{{ customer_name|format(customer_name.__init__) }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ config.items() }}",
    "{{ self._TemplateReference__context }}",
    "{{ request.application }}",
    "{% set x = namespace() %}",
    "{% import 'os' as os %}",
    "{% include '/etc/passwd' %}",
    "{{ 9 ** 9 ** 9 ** 9 }}",
    "{{ 'x' * 1000000000 }}",
    "{{ customer_name * 9999 * 9999 }}",
    "{{ customer_name|center(1000000000) }}",
    "{% for a in customer_name %}{% for b in customer_name %}{{ b }}{% endfor %}{% endfor %}",
    "{% if %}",
]


@pytest.fixture
def setup(api, manager, make_customer):
    customer = make_customer("North")
    made = api(
        manager,
        "post",
        "/templates",
        json={"type": "email", "name": "Safe", "subject": "Hi", "html": "<p>Hello</p>"},
    )
    assert made.status_code == 201, made.get_json()
    return customer, made.get_json()["id"]


def _refused(response, field: str) -> str | None:
    if response.status_code != 422:
        return f"{response.status_code}: {response.get_data(as_text=True)[:200]}"
    fields = response.get_json()["error"].get("fields") or {}
    if field not in fields:
        return f"422 without naming {field}: {fields}"
    return None


@pytest.mark.parametrize("payload", ESCAPES)
def test_sandbox_escapes_are_refused_everywhere_a_template_is_taken(api, manager, setup, payload):
    customer, template_id = setup
    before = snapshot()
    cases = [
        (
            "post",
            "/templates",
            {"type": "email", "name": "x", "subject": "s", "html": payload},
            "html",
        ),
        (
            "post",
            "/templates",
            {"type": "email", "name": "x", "subject": payload, "html": "<p/>"},
            "subject",
        ),
        ("post", "/templates", {"type": "sms", "name": "x", "body": payload}, "body"),
        ("patch", f"/templates/{template_id}", {"html": payload}, "html"),
        ("patch", f"/templates/{template_id}", {"subject": payload}, "subject"),
        (
            "post",
            "/templates/preview",
            {"customerId": customer.public_id, "subject": "s", "html": payload},
            "html",
        ),
        (
            "post",
            "/email/send",
            {
                "to": customer.email,
                "customerId": customer.public_id,
                "subject": "s",
                "html": payload,
            },
            "html",
        ),
        (
            "post",
            "/email/send",
            {
                "to": customer.email,
                "customerId": customer.public_id,
                "subject": payload,
                "html": "<p>x</p>",
            },
            "subject",
        ),
    ]
    problems = []
    for method, path, body, field in cases:
        problem = _refused(api(manager, method, path, json=body), field)
        if problem:
            problems.append(f"{method} {path} {field}: {problem}")
    assert not problems, "\n".join(problems)
    assert not diff(before, snapshot())


def test_sms_sends_refuse_escapes_in_the_body(api, manager, make_customer):
    """A text body is a template rendered per customer, bulk or single: escapes refused."""
    from app.extensions import db
    from app.messaging.consent import record

    customer = make_customer("North")
    record("sms", customer.phone, "opted_in", source="test", customer_id=customer.id)
    db.session.commit()
    own = api(manager, "post", "/lists", json={"name": "Texts"})
    list_id = own.get_json()["id"]
    api(manager, "post", f"/lists/{list_id}/members", json={"customerIds": [customer.public_id]})
    before = snapshot()
    problems = []
    for payload in ESCAPES:
        response = api(manager, "post", "/sms/send", json={"listId": list_id, "body": payload})
        problem = _refused(response, "body")
        if problem:
            problems.append(f"{payload}: {problem}")
    assert not problems, "\n".join(problems)
    assert not diff(before, snapshot())
    # A typed single text is rendered like a bulk one, so it is checked the same way.
    single = api(
        manager, "post", "/sms/send", json={"customerId": customer.public_id, "body": ESCAPES[0]}
    )
    assert _refused(single, "body") is None
    assert not diff(before, snapshot())


def test_values_that_look_like_templates_are_printed_not_run(api, manager, make_customer):
    sly = "{{ ''.__class__.__mro__ }}"
    customer = make_customer("North", name=sly, custom_fields={"club": "{{ cycler }}"})
    response = api(
        manager,
        "post",
        "/templates/preview",
        json={
            "customerId": customer.public_id,
            "subject": "For {{ customer_name }}",
            "html": "<p>{{ customer_name }} {{ club }} {{ motto }}</p>",
            "personalization": {"motto": "{{ config }}"},
        },
    )
    assert response.status_code == 200, response.get_json()
    out = response.get_json()
    assert out["subject"] == f"For {sly}"
    assert "object" not in out["html"] and "{{" in out["html"] and "cycler" in out["html"]
