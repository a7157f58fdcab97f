"""Custom-field tokens: a template may use a key some customer has, and no other."""

from __future__ import annotations

import pytest

from app.errors import DomainError
from app.messaging import templates


def test_only_keys_some_customer_has_are_tokens(app, make_customer):
    make_customer(custom_fields={"wine_club": True, "tier": None})
    make_customer(custom_fields={"region": "coast"})
    with app.app_context():
        asked = {"wine_club", "tier", "region", "nobody", "not an identifier"}
        assert templates.custom_field_keys(asked) == {"wine_club", "tier", "region"}
        assert templates.custom_field_keys(set()) == set()


def test_templates_are_checked_against_the_keys_in_use(app, make_customer):
    make_customer(custom_fields={"wine_club": "gold"})
    with app.app_context():
        subject, html = templates.check_email_parts(
            "Hi {{ customer_name }}", "<p>{{ wine_club }}</p>"
        )
        assert "wine_club" in html
        with pytest.raises(DomainError) as refused:
            templates.check_email_parts("Hi", "<p>{{ cellar_size }}</p>")
        assert refused.value.fields == {"html": "unknown token {{cellar_size}}"}
        templates.check_sms_body("{{ wine_club|default('member') }} tasting")
        with pytest.raises(DomainError):
            templates.check_sms_body("{{ cellar_size }}")
