"""CSRF: every session-authenticated write refuses a request without a token, and every
form the pages render carries one."""

from __future__ import annotations

import itertools
import re

from app.auth.access import is_public
from tests.security.conftest import concrete, rule_params

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
ACTIONS = ["pause", "cancel"]


def _first_ids(world) -> dict[str, str]:
    values = {name: ids[0] for name, ids in world.ids.items()}
    values.update(action="pause", sync_id="syn_unknown", template_id="tpl_unknown")
    values.update(job_id="job", sku_id="sku_unknown", event_ref="1")
    return values


def _write_rules(app):
    for rule in app.url_map.iter_rules():
        if is_public(app, rule.endpoint):
            continue  # webhooks, unsubscribe, preferences, login: exempt or tested apart
        for method in sorted((rule.methods or set()) & WRITE_METHODS):
            yield rule, method


def test_every_page_write_refuses_a_logged_in_post_without_token(
    app, client, login, manager, world
):
    login(manager)
    values = _first_ids(world)
    checked = []
    for rule, method in _write_rules(app):
        if rule.rule.startswith("/api/"):
            continue
        url = concrete(rule.rule, values)
        response = client.open(url, method=method, data={"name": "x", "body": "x"})
        assert response.status_code == 400, (method, url, response.status_code)
        bad = client.open(url, method=method, data={"csrf_token": "forged.token.value"})
        assert bad.status_code == 400, (method, url, bad.status_code)
        checked.append(url)
    assert len(checked) >= 15, checked
    assert client.get("/sales/customers").status_code == 200  # still logged in


def test_every_api_write_with_a_session_cookie_needs_a_token(app, client, login, manager, world):
    login(manager)
    values = _first_ids(world)
    checked = 0
    for rule, method in _write_rules(app):
        if not rule.rule.startswith("/api/"):
            continue
        url = concrete(rule.rule, values)
        response = client.open(url, method=method, json={})
        assert response.status_code == 400, (method, url, response.status_code)
        error = response.get_json()["error"]
        assert "csrf" in (error["code"] + error["message"]).lower(), (url, error)
        checked += 1
    assert checked >= 25


def _get_pages(app, values):
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()) or rule.rule.startswith("/api/"):
            continue
        if is_public(app, rule.endpoint) or "oauth" in rule.rule:
            continue
        params = rule_params(rule.rule)
        pools = [
            values[p] if isinstance(values[p], list) else [values[p]] for p in params
        ]  # every id of each kind, so both channels' campaigns render
        for combo in itertools.product(*pools):
            yield concrete(rule.rule, dict(zip(params, combo, strict=True)))


FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)


def test_every_post_form_on_the_pages_carries_a_csrf_token(app, client, login, admin, world):
    login(admin)  # an admin sees every page a manager does, and the admin-only ones
    values: dict[str, object] = dict(world.ids)
    forms = 0
    pages = 0
    for url in _get_pages(app, values):
        response = client.get(url)
        if response.status_code == 404 and any(
            part in url for part in ("campaign", "/tokens/", "/preview")
        ):
            continue  # an SMS campaign id on the email campaign page, a token of another
            # user, the SMS template on the email preview page
        assert response.status_code == 200, (url, response.status_code)
        pages += 1
        for attrs, body in FORM.findall(response.get_data(as_text=True)):
            if not re.search(r"method\s*=\s*['\"]?post", attrs, re.I):
                continue
            forms += 1
            assert re.search(r'name="csrf_token"[^>]*value="[^"]+"', body) or re.search(
                r'value="[^"]+"[^>]*name="csrf_token"', body
            ), (url, attrs)
    assert pages >= 10 and forms >= 8, (pages, forms)
