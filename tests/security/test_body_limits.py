"""Request bodies are bounded per endpoint and smart-list criteria by count and depth: the
audit's megabyte of nested criteria took 50 s to preview; now every such body answers a
4xx naming the problem at once."""

from __future__ import annotations

import io
import json
import time

import pytest

from app.api.limits import SMALL_BODY, TEMPLATE_BODY
from blueprints.lists import criteria as cr
from tests.security.conftest import diff, snapshot

LEAF = {"type": "high_value", "minRevenue": 1}


def _nested(depth: int) -> str:
    return '{"criteria": ' + '{"all": [' * depth + json.dumps(LEAF) + "]}" * depth + "}"


def _wide(per_level: int, levels: int) -> dict:
    node: dict = LEAF
    for _ in range(levels):
        node = {"any": [node] * per_level}
    return {"criteria": node}


def _post(api, user, path: str, body: str, method: str = "post"):
    headers = {"Content-Type": "application/json"}
    started = time.monotonic()
    response = api(user, method, path, data=body, headers=headers)
    return response, time.monotonic() - started


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (_nested(cr.MAX_DEPTH + 1), 422, "deeper than"),
        (_nested(3_000), 400, ""),  # past the JSON parser's own recursion limit
        (_nested(100_000), 413, "at most"),  # the audit's megabyte
        (json.dumps(_wide(8, 3)), 422, "more than 50 conditions"),
        (json.dumps(_wide(25, 5)), 413, "at most"),
    ],
)
def test_criteria_bodies_that_would_be_costly_are_refused_at_once(
    api, manager, body, status, words
):
    for path, method in (("/lists/preview", "post"), ("/lists", "post")):
        payload = body
        if method == "post" and path == "/lists":
            payload = body.replace('{"criteria": ', '{"name": "x", "criteria": ', 1)
        before = snapshot()
        response, took = _post(api, manager, path, payload, method)
        assert response.status_code == status, response.get_data(as_text=True)[:300]
        error = response.get_json()["error"]
        if status == 422:
            assert words in error["fields"]["criteria"]
        else:
            assert words in error["message"]
        assert took < 3.0, took
        assert not diff(before, snapshot())


def test_criteria_within_the_bounds_still_work(api, manager, make_customer):
    make_customer("North", lifetime_revenue=100)
    body = {"criteria": {"any": [{"all": [LEAF] * 6}] * 7}}  # 7 + 42 + 1 = 50 conditions
    response = api(manager, "post", "/lists/preview", json=body)
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/lists/preview", SMALL_BODY),
        ("/sms/send", SMALL_BODY),
        ("/templates/preview", TEMPLATE_BODY),
        ("/email/send", TEMPLATE_BODY),
    ],
)
def test_each_endpoint_takes_what_it_needs_and_no_more(api, manager, path, limit):
    big = json.dumps({"padding": "x" * limit})
    response, took = _post(api, manager, path, big)
    assert response.status_code == 413, response.get_data(as_text=True)[:300]
    assert response.get_json()["error"]["code"] == "payload_too_large"
    assert took < 3.0
    # Without a Content-Length (chunked), reading stops at the limit all the same.
    streamed = api(
        manager,
        "post",
        path,
        input_stream=io.BytesIO(big.encode()),
        headers={"Content-Type": "application/json"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert streamed.status_code == 413, streamed.get_data(as_text=True)[:300]


def test_a_large_legitimate_template_fits(api, manager, make_customer):
    customer = make_customer("North")
    html = "<p>" + "Wine list. " * 15_000 + "{{ customer_name }}</p>"  # 165,000 characters
    response = api(
        manager,
        "post",
        "/templates/preview",
        json={"customerId": customer.public_id, "subject": "Hi", "html": html},
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
