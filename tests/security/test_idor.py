"""IDOR sweep: a North rep aims every id-taking route at the South territory's rows.

Walks ``app.url_map``: every rule with a ``<param>`` (API and pages, every method) is
called with the other territory's ids (and a plausible, valid body, so that only the id
can be the reason for refusing). Each call must answer 403/404, show none of the South's
data, and leave every table exactly as it was.
"""

from __future__ import annotations

import io
import itertools

from app.auth.access import is_public
from tests.conftest import csrf_from
from tests.security.conftest import concrete, diff, rule_params, snapshot

# Shared by design (not territory data): the catalogue, message templates (the team's
# library), job status (a random UUID answering only {id, status, error}) and browser
# libraries (app/vendor.py).
SHARED_PARAMS = {"sku_id", "template_id", "job_id", "name"}
ACTIONS = ["pause", "resume", "cancel", "send", "schedule", "report"]

API_BODIES = {
    "crm_api.patch_customer": {"json": {"name": "Hacked"}},
    "crm_contact_api.record_consent": {
        "json": {"channel": "email", "status": "opted_out", "method": "verbal"}
    },
    "crm_contact_api.put_contact_preferences": {"json": {"timezone": "UTC"}},
    "lists_api.patch_list": {"json": {"name": "Hacked"}},
    "lists_api.remove_members": {"json": {"customerIds": None}},  # filled in with South ids
    "lists_api.add_members": {"json": {"customerIds": None}},  # filled in with a North id
    "sms_api.reply": {"json": {"body": "hacked"}},
    "sms_api.review_message": {"json": {"decision": "opt_out"}},
    "sms_api.assign": {"json": {"userId": None}},
    "sms_api.link_customer": {"json": {"customerId": "cus_unknown"}},
    "mailchimp_api.schedule_campaign": {"json": {"scheduleTime": "2099-01-01T10:00:00Z"}},
    "repday_api.add_task": {"json": {"customerId": "cus_x", "title": "Hijack"}},
}


def _values(world, params: list[str]):
    ids = dict(world.ids)
    ids["action"] = ACTIONS
    ids["sync_id"] = ["syn_unknown"]
    ids["event_ref"] = ["1"]  # webhook events: admin only
    pools = [ids[p] for p in params]
    for combo in itertools.product(*pools):
        yield dict(zip(params, combo, strict=True))


def _id_rules(app):
    for rule in app.url_map.iter_rules():
        params = rule_params(rule.rule)
        if not params or is_public(app, rule.endpoint) or set(params) & SHARED_PARAMS:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield rule, params, method


def _body(endpoint: str, world, for_page: bool, csrf: str | None):
    if endpoint.endswith("import_csv"):
        data = {"file": (io.BytesIO(b"email\nnorth@example.com\n"), "x.csv")}
        if csrf:
            data["csrf_token"] = csrf
        return {"data": data, "content_type": "multipart/form-data"}
    if for_page:
        return {
            "data": {
                "csrf_token": csrf,
                "subject": "Hacked",
                "html": "<p>hacked</p>",
                "body": "hacked",
                "name": "Hacked",
            }
        }
    body = API_BODIES.get(endpoint)
    if body is None:
        return {}
    json = dict(body["json"])
    if endpoint == "lists_api.add_members":
        json["customerIds"] = [world.north_customer.public_id]
    elif endpoint == "lists_api.remove_members":
        json["customerIds"] = list(world.ids["customer_id"])
    return {"json": json}


SOUTH_MARKERS = ("South Cellar", "South Tavern", "South tasting", "Manager list")


def test_north_rep_cannot_reach_south_rows_through_any_route(
    app, client, api, world, rep, login, token_headers
):
    login(rep)
    csrf = csrf_from(client.get("/sales/customers").get_data(as_text=True))
    headers = token_headers(rep)
    client.get("/api/users/me", headers=headers)  # the token's first use is recorded now
    before = snapshot()
    problems: list[str] = []
    calls = 0
    for rule, params, method in _id_rules(app):
        is_api = rule.rule.startswith("/api/")
        for values in _values(world, params):
            url = concrete(rule.rule, values)
            kwargs = _body(rule.endpoint, world, not is_api, None if is_api else csrf)
            if is_api:
                response = client.open(url, method=method, headers=headers, **kwargs)
            else:
                response = client.open(url, method=method, **kwargs)
            calls += 1
            text = response.get_data(as_text=True)
            where = f"{method} {url} -> {response.status_code}"
            if response.status_code not in (403, 404):
                problems.append(f"{where}: {text[:200]}")
            if any(marker in text for marker in SOUTH_MARKERS):
                problems.append(f"{where}: shows South data")
            if is_api and response.is_json:
                assert set(response.get_json()) == {"error"}, where
            changed = diff(before, snapshot())
            if changed:
                problems.append(f"{where}: changed {changed}")
                before = snapshot()
    assert calls >= 40, calls
    assert not problems, "\n".join(problems)


def test_ids_in_bodies_are_refused(app, api, world, rep):
    south = world.south_customer
    rep_list, mgr_list = world.ids["list_id"]
    own = api(rep, "post", "/lists", json={"name": "North own"})
    assert own.status_code == 201
    own_list = own.get_json()["id"]
    before = snapshot()
    cases = [
        (
            "/email/send",
            {"to": south.email, "customerId": south.public_id, "subject": "x", "html": "<p>x</p>"},
            "customerId",
        ),
        ("/email/send", {"listId": rep_list, "subject": "x", "html": "<p>x</p>"}, "listId"),
        ("/email/send", {"listId": mgr_list, "subject": "x", "html": "<p>x</p>"}, "listId"),
        ("/sms/send", {"customerId": south.public_id, "body": "x"}, "customerId"),
        ("/sms/send", {"listId": rep_list, "body": "x"}, "listId"),
        ("/templates/preview", {"customerId": south.public_id, "html": "<p>x</p>"}, "customerId"),
        (f"/lists/{own_list}/members", {"customerIds": [south.public_id]}, "customerIds"),
        (f"/lists/{own_list}/members", {"emails": [south.email]}, "emails"),
    ]
    problems = []
    for path, body, field in cases:
        response = api(rep, "post", path, json=body)
        payload = response.get_json() or {}
        if response.status_code not in (404, 422):
            problems.append(f"{path} {body}: {response.status_code} {payload}")
            continue
        if response.status_code == 422:
            fields = payload["error"].get("fields") or {}
            if not any(key.startswith(field) for key in fields):
                problems.append(f"{path}: 422 not naming {field}: {payload}")
        if any(m in str(payload) for m in ("South Cellar", "South Tavern")):
            problems.append(f"{path}: error shows South data")
    assert not problems, "\n".join(problems)
    assert not diff(before, snapshot())
