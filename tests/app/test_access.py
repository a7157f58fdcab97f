"""Auth on every route: a walk over app.url_map proves the login wall has no holes."""

from __future__ import annotations

import re

import pytest

from app.auth.access import is_public

# Routes that are public on purpose. Anything else must refuse an anonymous caller.
PUBLIC_RULES = {"/login", "/api/openapi.json", "/api/docs", "/api/docs/assets/<name>"}
PUBLIC_PREFIXES = ("/static/", "/bootstrap/static/")


def _concrete(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"x-\1", rule)


def test_every_non_public_route_refuses_anonymous_callers(app, client):
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PUBLIC_PREFIXES):
            continue
        public = is_public(app, rule.endpoint)
        provider_hook = "/webhooks/" in rule.rule and not rule.rule.startswith("/settings/")
        declared_public = rule.rule in PUBLIC_RULES or provider_hook
        declared_public = declared_public or getattr(
            app.view_functions[rule.endpoint], "decant_public", False
        )
        assert public == declared_public, f"{rule.rule} public={public}"
        if public:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            response = client.open(_concrete(rule.rule), method=method)
            if rule.rule.startswith("/api/"):
                assert response.status_code == 401, (method, rule.rule, response.status_code)
                assert response.get_json()["error"]["code"] == "unauthorized"
            else:
                assert response.status_code == 302, (method, rule.rule, response.status_code)
                assert "/login" in response.headers["Location"]
            checked += 1
    assert checked >= 15


def test_public_routes_are_few_and_named(app):
    public = {r.rule for r in app.url_map.iter_rules() if is_public(app, r.endpoint)}
    unexpected = {
        r
        for r in public
        if r not in PUBLIC_RULES
        and not r.startswith(PUBLIC_PREFIXES)
        and "/webhooks/" not in r
        and not getattr(app.view_functions.get(_endpoint(app, r)), "decant_public", False)
    }
    assert not unexpected


def _endpoint(app, rule_text):
    for rule in app.url_map.iter_rules():
        if rule.rule == rule_text:
            return rule.endpoint
    return None


def test_login_then_pages_open(client, login, manager):
    login(manager)
    assert client.get("/sales/customers").status_code == 200


def test_wrong_password_is_refused_without_saying_which_part(client, manager):
    from tests.conftest import csrf_from

    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"email": manager.email, "password": "wrong wrong", "csrf_token": token}
    )
    assert response.status_code == 401
    assert "Email or password is not right" in response.get_data(as_text=True)


def test_login_form_requires_csrf(client, manager):
    response = client.post("/login", data={"email": manager.email, "password": "x" * 12})
    assert response.status_code == 400


def test_login_is_rate_limited(client, manager, app):
    from tests.conftest import csrf_from

    token = csrf_from(client.get("/login").get_data(as_text=True))
    codes = [
        client.post(
            "/login", data={"email": manager.email, "password": "nope" * 3, "csrf_token": token}
        ).status_code
        for _ in range(12)
    ]
    assert codes[:10] == [401] * 10
    assert codes[10:] == [429, 429]


def test_login_redirects_only_to_local_paths(client, manager):
    from tests.conftest import PASSWORD, csrf_from

    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login?next=https://evil.example/",
        data={"email": manager.email, "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/sales/customers"


def test_logout_needs_post_with_csrf(client, login, manager):
    login(manager)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no CSRF token
    from tests.conftest import csrf_from

    token = csrf_from(client.get("/sales/customers").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/sales/customers").status_code == 302


def test_session_api_writes_need_csrf_but_tokens_do_not(client, login, manager, token_headers):
    login(manager)
    body = {"name": "Csrf Bistro"}
    assert client.post("/api/sales/customers", json=body).status_code == 400
    response = client.post("/api/sales/customers", json=body, headers=token_headers(manager))
    assert response.status_code == 201


@pytest.mark.parametrize("header", ["Bearer nope", "Bearer dct_forged", "Bearer "])
def test_bad_tokens_are_401(client, header):
    response = client.get("/api/sales/customers", headers={"Authorization": header})
    assert response.status_code == 401


def test_tokens_are_stored_hashed_and_revocable(app, client, manager, token_headers):
    from sqlalchemy import select

    from app.auth.models import ApiToken
    from app.extensions import db
    from app.models_base import utcnow

    headers = token_headers(manager)
    raw = headers["Authorization"].split()[1]
    row = db.session.scalar(select(ApiToken))
    assert raw not in (row.token_hash, row.hint) and len(row.token_hash) == 64
    assert client.get("/api/users/me", headers=headers).get_json()["email"] == manager.email
    row.revoked_at = utcnow()
    db.session.commit()
    assert client.get("/api/users/me", headers=headers).status_code == 401


def test_password_hashes_are_slow_by_default(app):
    from app.config import Defaults

    assert Defaults.PASSWORD_HASH_METHOD == "scrypt"


def test_roles_guard_user_creation(client, rep, admin, token_headers):
    body = {"email": "new@decant.example", "name": "New", "role": "manager", "password": "x" * 12}
    assert client.post("/api/users", json=body, headers=token_headers(rep)).status_code == 403
    response = client.post("/api/users", json=body, headers=token_headers(admin))
    assert response.status_code == 201
    assert response.get_json()["role"] == "manager"
