"""Preview and pre-flight of an email: each check through the API and the page, links
checked against a real local HTTP server, the spam score from the real SpamAssassin."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.preflight import checks
from tests.conftest import app_settings, csrf_from, need_service

API = "/api/sales/marketing"


class _Site(BaseHTTPRequestHandler):
    """/ok answers 200, /gone 404, /moved redirects to /gone, /nohead refuses HEAD."""

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == "/nohead":
            self.send_response(405)
        elif self.path == "/moved":
            self.send_response(301)
            self.send_header("Location", "/gone")
        else:
            self.send_response(200 if self.path == "/ok" else 404)
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200 if self.path in ("/ok", "/nohead") else 404)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        return None


@pytest.fixture
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def app_config(database_url):
    return app_settings(database_url, FETCH_PRIVATE_ADDRESSES=True)


@pytest.fixture
def call(client, token_headers):
    def do(user, method, path, **kwargs):
        return getattr(client, method)(API + path, headers=token_headers(user), **kwargs)

    return do


def _template(call, user, html, subject="Hello {{ customer_name }}") -> str:
    created = call(
        user,
        "post",
        "/templates",
        json={"type": "email", "name": "T", "subject": subject, "html": html},
    )
    assert created.status_code == 201, created.get_json()
    return created.get_json()["id"]


def _findings(answer) -> dict[str, dict]:
    return {f["check"]: f for f in answer["report"]["findings"]}


def need_spamassassin() -> None:
    if shutil.which("spamassassin") is None:
        need_service("SpamAssassin is not installed (.ci/run installs it)")


def test_each_problem_is_reported(app, manager, make_customer, call, site):
    customer = make_customer("North", name="Bistro Lapin")
    html = (
        f'<p>Hi {{{{ customer_name }}}}</p><img src="{site}/ok">'
        f'<a href="{site}/ok">fine</a> <a href="{site}/gone">broken</a>'
        f' <a href="{site}/moved">moved away</a> <a href="{site}/nohead">no HEAD</a>'
        '<a href="mailto:a@example.com">mail</a>'
    )
    tid = _template(call, manager, html)
    answer = call(
        manager, "post", f"/templates/{tid}/preflight", json={"customerId": customer.public_id}
    )
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["preview"]["subject"] == "Hello Bistro Lapin"
    assert body["preview"]["customerId"] == customer.public_id
    found = _findings(body)
    assert set(found) == {"unsubscribe", "alt", "links"}
    assert found["alt"]["items"] == [f"{site}/ok"]
    broken = found["links"]["items"]
    assert any(item.startswith(f"{site}/gone: answers 404") for item in broken)
    assert any(item.startswith(f"{site}/moved: answers 404") for item in broken)  # followed
    assert len(broken) == 2  # /ok and /nohead (GET after a 405) answer well; mailto skipped
    assert body["report"]["linksChecked"] == 4
    assert body["report"]["ok"] is True  # warnings only


def test_a_clean_design_has_no_findings(app, manager, call):
    html = '<p>Hi</p><img src="cid:logo" alt="Logo"><a href="{{ unsubscribe_url }}">Leave</a>'
    tid = _template(call, manager, html, subject="Our list")
    body = call(manager, "post", f"/templates/{tid}/preflight", json={}).get_json()
    assert body["report"]["findings"] == []
    assert body["preview"]["customerId"] is None  # sample values


def test_over_gmails_clipping_size_is_an_error(app, manager, call):
    tid = _template(call, manager, "<p>{{ customer_name }}</p>" + "<p>wine</p>" * 11_000)
    body = call(manager, "post", f"/templates/{tid}/preflight", json={}).get_json()
    size = _findings(body)["size"]
    assert size["level"] == "error" and "102 KB" in size["message"]
    assert body["report"]["sizeBytes"] > checks.GMAIL_CLIP_BYTES and body["report"]["ok"] is False


def test_unsaved_content_is_checked_as_sent(app, manager, call):
    tid = _template(call, manager, "<p>saved</p>")
    body = call(
        manager,
        "post",
        f"/templates/{tid}/preflight",
        json={"html": "<p>unsaved {{ unsubscribe_url }}</p>", "subject": "New"},
    ).get_json()
    assert "unsaved" in body["preview"]["html"] and body["preview"]["subject"] == "New"
    own = {"subject": "Ours", "html": "<p>a campaign's own</p>"}
    content = call(manager, "post", "/preflight", json=own)
    assert content.status_code == 200 and "unsubscribe" in _findings(content.get_json())
    no_subject = call(manager, "post", "/preflight", json={"html": "<p>x</p>"})
    assert no_subject.status_code == 422 and "subject" in no_subject.get_json()["error"]["fields"]


def test_tokens_without_a_value_for_part_of_a_list(app, manager, make_customer, call):
    with_rep = make_customer("North", custom_fields={"wine_club": "gold"}, rep=manager)
    without = make_customer("North")
    made = call(manager, "post", "/lists", json={"name": "Club"})
    list_id = made.get_json()["id"]
    ids = [with_rep.public_id, without.public_id]
    assert (
        call(manager, "post", f"/lists/{list_id}/members", json={"customerIds": ids}).status_code
        == 200
    )
    html = (
        "<p>{{ rep_name }} {{ wine_club }} {{ territory }} "
        "{{ last_order_date|default('soon') }} {{ unsubscribe_url }}</p>"
    )
    tid = _template(call, manager, html)
    body = call(manager, "post", f"/templates/{tid}/preflight", json={"listId": list_id}).get_json()
    tokens = _findings(body)["tokens"]["items"]
    assert tokens == [
        '{{ rep_name }}: no value for 1 of 2 (they see "your rep")',
        "{{ wine_club }}: no value for 1 of 2 (they see nothing)",
    ]  # territory is set for both; last_order_date has the template's own fallback


@pytest.mark.parametrize(
    ("payload", "field", "status"),
    [
        ({"customerId": "cus_unknown"}, "customerId", 422),
        ({"listId": "lst_unknown"}, "listId", 422),
        ({"checkLinks": "maybe"}, "checkLinks", 422),
        ({"surprise": 1}, "surprise", 422),
    ],
)
def test_bad_input_names_the_field(app, manager, call, payload, field, status):
    tid = _template(call, manager, "<p>x</p>")
    answer = call(manager, "post", f"/templates/{tid}/preflight", json=payload)
    assert answer.status_code == status
    assert field in answer.get_json()["error"]["fields"]


def test_unknown_template_is_404_and_a_token_is_needed(app, manager, call, client):
    assert call(manager, "post", "/templates/tpl_nope/preflight", json={}).status_code == 404
    assert client.post(f"{API}/preflight", json={"html": "<p>x</p>"}).status_code == 401


def test_a_rep_cannot_render_for_another_territorys_customer(
    app, manager, make_user, make_customer, call
):
    south = make_customer("South")
    rep = make_user("rep", territory="North")
    tid = _template(call, manager, "<p>x</p>")
    answer = call(rep, "post", f"/templates/{tid}/preflight", json={"customerId": south.public_id})
    assert answer.status_code == 422 and "customerId" in answer.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1/x", "http://10.1.2.3/x", "http://169.254.169.254/latest/meta-data"]
)
def test_private_addresses_are_never_fetched_by_default(app, url):
    from app.preflight.checks import _link_problem

    with checks.requests.Session() as session:
        assert _link_problem(url, session, allow_private=False).startswith("not checked:")


def test_the_spam_score_comes_from_spamassassin(app, manager, call):
    need_spamassassin()
    tid = _template(call, manager, "<p>FREE MONEY!!! Click here to WIN $$$ now</p>", "WIN NOW")
    spam = call(manager, "post", f"/templates/{tid}/preflight", json={}).get_json()["report"]
    spam = spam["spam"]
    assert spam["available"] is True and spam["required"] == 5.0
    assert isinstance(spam["score"], float) and spam["rules"]
    assert all(rule["rule"].isupper() and rule["description"] for rule in spam["rules"])


def test_without_spamassassin_the_report_says_so(app, manager, call):
    app.config["SPAMASSASSIN_COMMAND"] = "/nonexistent/spamassassin"
    tid = _template(call, manager, "<p>x</p>")
    spam = call(manager, "post", f"/templates/{tid}/preflight", json={}).get_json()["report"]
    assert spam["spam"] == {
        "available": False,
        "score": None,
        "required": None,
        "rules": [],
        "note": "SpamAssassin is not installed on the server",
    }


RECORDED = """X-Spam-Status: No, score=2.8 required=5.0 tests=HTML_IMAGE_ONLY_04,
\tHTML_MESSAGE autolearn=no version=4.0.1

Content analysis details:   (2.8 points, 5.0 required)

 pts rule name              description
---- ---------------------- --------------------------------------------------
-0.0 NO_RECEIVED            Informational: message has no Received headers
 1.7 HTML_IMAGE_ONLY_04     BODY: HTML: images with 0-400 bytes of words
 1.0 TO_NO_BRKTS_HTML_ONLY  To: lacks brackets and HTML only and this
                            description wraps

"""


def test_spamassassin_output_is_read_rule_by_rule():
    score = checks.parse_spamassassin(RECORDED)
    assert (score.score, score.required) == (2.8, 5.0)
    assert [r["rule"] for r in score.rules] == [
        "NO_RECEIVED",
        "HTML_IMAGE_ONLY_04",
        "TO_NO_BRKTS_HTML_ONLY",
    ]
    assert score.rules[2]["description"].endswith("and this description wraps")


def test_the_page_shows_both_widths_and_runs_the_report(
    app, client, login, manager, make_customer, call
):
    customer = make_customer("North", name="Bistro Lapin")
    tid = _template(call, manager, "<p>Hello {{ customer_name }}</p><img src='cid:x'>")
    login(manager)
    page = client.get(f"/sales/marketing/templates/{tid}/preview?customer={customer.public_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-testid="preview-desktop"' in html and 'data-testid="preview-phone"' in html
    assert "Hello Bistro Lapin" in html and 'data-testid="preflight-report"' not in html
    ran = client.post(
        f"/sales/marketing/templates/{tid}/preview",
        data={"customer": customer.public_id, "csrf_token": csrf_from(html)},
    )
    report = ran.get_data(as_text=True)
    assert ran.status_code == 200 and 'data-testid="preflight-report"' in report
    assert 'data-check="alt"' in report and 'data-check="unsubscribe"' in report
    refused = client.post(f"/sales/marketing/templates/{tid}/preview", data={})
    assert refused.status_code == 400  # no CSRF token


def test_the_preview_frames_show_the_design_with_its_own_styles(
    app, client, login, manager, make_customer, call
):
    customer = make_customer("North", name="Bistro Lapin")
    html = "<style>p { color: #7b1e3a }</style><p style='font-size:18px'>Hi {{ customer_name }}</p>"
    tid = _template(call, manager, html)
    login(manager)
    frame = client.get(
        f"/sales/marketing/templates/{tid}/preview.html?customer={customer.public_id}"
    )
    assert frame.status_code == 200 and "Hi Bistro Lapin" in frame.get_data(as_text=True)
    policy = frame.headers["Content-Security-Policy"]
    assert "style-src * 'unsafe-inline'" in policy and "sandbox" in policy
    assert "script-src" not in policy and "default-src 'none'" in policy  # no script runs
    assert frame.headers["X-Frame-Options"] == "SAMEORIGIN"
    page = client.get(f"/sales/marketing/templates/{tid}/preview").get_data(as_text=True)
    assert f"/sales/marketing/templates/{tid}/preview.html" in page
