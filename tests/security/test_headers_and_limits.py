"""Security headers on every page a manager can open, and the login rate limit per address."""

from __future__ import annotations

import itertools

from tests.conftest import csrf_from
from tests.security.conftest import concrete, rule_params


def _check_headers(response, url: str) -> list[str]:
    problems = []
    csp = response.headers.get("Content-Security-Policy", "")
    directives = {
        part.strip().split(" ")[0]: part.strip() for part in csp.split(";") if part.strip()
    }
    script = directives.get("script-src") or directives.get("default-src", "")
    if "'self'" not in script or "unsafe-inline" in script or "unsafe-eval" in script:
        problems.append(f"{url}: script-src {script!r}")
    if directives.get("frame-ancestors") != "frame-ancestors 'none'":
        problems.append(f"{url}: frame-ancestors {directives.get('frame-ancestors')!r}")
    if response.headers.get("X-Content-Type-Options") != "nosniff":
        problems.append(f"{url}: X-Content-Type-Options")
    if response.headers.get("X-Frame-Options") != "DENY":
        problems.append(f"{url}: X-Frame-Options")
    return problems


def test_every_get_page_sends_the_security_headers(app, client, login, manager, world):
    login(manager)
    problems: list[str] = []
    pages = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()) or "static" in rule.endpoint:
            continue
        if "oauth" in rule.rule or "<name>" in rule.rule:
            continue
        params = rule_params(rule.rule)
        values = {**world.ids, "job_id": ["job-x"], "sku_id": ["sku_x"], "template_id": ["x"]}
        values.update(token=["not-a-token"], sync_id=["syn_x"], secret=["nope"], number=["0"])
        for combo in itertools.product(*(values[p] for p in params)):
            url = concrete(rule.rule, dict(zip(params, combo, strict=True)))
            response = client.get(url)
            response.get_data()  # a streamed export must finish before the next request
            response.close()
            assert response.status_code < 500, url
            problems += _check_headers(response, url)
            pages += 1
    # and the answers nobody is meant to see: 404s, 405s, the login page, the docs
    for url in ("/no/such/page", "/logout", "/login", "/api/docs", "/api/openapi.json"):
        problems += _check_headers(client.get(url), url)
    assert pages >= 30, pages
    assert not problems, "\n".join(problems)


def _fail_login(client, email: str, token: str, address: str, **kwargs):
    return client.post(
        "/login",
        data={"email": email, "password": "nope" * 3, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
        **kwargs,
    )


def test_login_limit_is_per_address_and_answers_the_envelope_to_json(client, manager):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    codes = [_fail_login(client, manager.email, token, "10.0.0.1").status_code for _ in range(11)]
    assert codes[-1] == 429 and 429 not in codes[:10], codes
    # another address is not locked out by the first one's failures
    assert _fail_login(client, manager.email, token, "10.0.0.2").status_code == 401
    limited = _fail_login(
        client, manager.email, token, "10.0.0.1", headers={"Accept": "application/json"}
    )
    assert limited.status_code == 429
    body = limited.get_json()
    assert body and body["error"]["code"] and body["error"]["message"], body
    assert limited.headers.get("Retry-After")
