"""Tracking and unsubscribe tokens: tampered, swapped, foreign-key or forged tokens do
nothing (404, or the pixel with no count), and a click only ever redirects to a link
that was in the message."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from itsdangerous import URLSafeSerializer

from app.messaging import signing
from blueprints.email.models import EmailMessage
from tests.security.conftest import diff, snapshot

LINKS = ["https://shop.example/a", "https://shop.example/b?x=1&y=2"]
HTML = f'<p>Hi</p><a href="{LINKS[0]}">A</a> <a href="{html_lib.escape(LINKS[1])}">B</a>'
KEY = "test-secret-key-not-for-production"
ROUTES = {
    "open": "/email/t/o/{}.gif",
    "click": "/email/t/c/{}",
    "unsubscribe": "/email/unsubscribe/{}",
    "preferences": "/email/preferences/{}",
}


@pytest.fixture
def message(app, api, manager, make_customer) -> EmailMessage:
    customer = make_customer("North", email="ann@shop.example")
    response = api(
        manager,
        "post",
        "/email/send",
        json={"to": customer.email, "customerId": customer.public_id, "subject": "S", "html": HTML},
    )
    assert response.status_code == 201, response.get_json()
    return EmailMessage.query.one()


def _tokens(message: EmailMessage) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for purpose, route in ROUTES.items():
        token = r"([A-Za-z0-9_.\-]++)(?!/)" if purpose == "click" else r"([A-Za-z0-9_.\-]+)"
        pattern = re.escape(route).replace(r"\{\}", token)
        found[purpose] = re.findall(pattern, message.html or "")
    return found


def _numbered_links(message: EmailMessage) -> list[tuple[str, str]]:
    """The message's click links: (its tracking token, the link's number)."""
    return re.findall(r"/email/t/c/([A-Za-z0-9_.\-]+)/(\d+)", message.html or "")


B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _flip(token: str, at: int) -> str:
    """Change the character's top bit (the low bits of a last base64 character may be
    padding, which decodes to the same bytes: not a forgery, just another spelling)."""
    ch = token[at]
    new = B64[B64.index(ch) ^ 32] if ch in B64 else "A"
    return token[:at] + new + token[at + 1 :]


def _bad_tokens(message: EmailMessage, purpose: str) -> list[str]:
    good = _tokens(message)
    mine = good[purpose][0] if good[purpose] else signing.sign(purpose, message.id)
    others = [t for p, ts in good.items() if p != purpose for t in ts]
    foreign = URLSafeSerializer("another-secret-key", salt=f"decant-{purpose}")
    payload = [message.id, "https://evil.example/"] if purpose == "click" else message.id
    return [
        _flip(mine, 0),
        _flip(mine, len(mine) // 2),
        _flip(mine, len(mine) - 1),
        mine[:-4],
        mine + "x",
        mine.split(".")[0] + ".",
        "." + mine.split(".")[-1],
        *others,  # every other purpose's genuine token
        foreign.dumps(payload),  # right salt, another SECRET_KEY
        URLSafeSerializer(KEY).dumps(payload),  # our key, no salt
        *(  # our key, another purpose's salt
            URLSafeSerializer(KEY, salt=f"decant-{other}").dumps(payload)
            for other in signing.PURPOSES
            if other != purpose
        ),
        "x" * 4000,
        "%00",
    ]


def test_the_message_carries_one_token_of_each_purpose(message):
    tokens = _tokens(message)
    assert tokens["open"] and tokens["unsubscribe"] and tokens["preferences"]
    # Its links carry its tracking token (the pixel's) and their number; no click token.
    assert _numbered_links(message) == [(tokens["open"][0], "0"), (tokens["open"][0], "1")]
    assert not tokens["click"]


@pytest.mark.parametrize("purpose", list(ROUTES))
def test_tampered_swapped_and_foreign_tokens_do_nothing(client, message, purpose):
    before = snapshot()
    for bad in _bad_tokens(message, purpose):
        url = ROUTES[purpose].format(bad)
        for method in ("GET", "POST") if purpose in ("unsubscribe", "preferences") else ("GET",):
            response = client.open(url, method=method, data={"action": "unsubscribe"})
            if purpose == "open":
                assert response.status_code in (200, 404), (url, response.status_code)
            else:
                assert response.status_code in (400, 404), (method, url, response.status_code)
            assert "Location" not in response.headers, url
    assert not diff(before, snapshot())


def test_clicks_redirect_only_to_the_messages_own_links(client, message):
    targets = []
    for token, number in _numbered_links(message):
        response = client.get(f"/email/t/c/{token}/{number}")
        assert response.status_code == 302
        targets.append(response.headers["Location"])
    assert sorted(targets) == sorted(LINKS)
    token = _tokens(message)["open"][0]
    for bad in (f"{token}/2", f"{token}/-1", f"{_flip(token, 0)}/0", f"{token}/99999999999"):
        assert client.get(f"/email/t/c/{bad}").status_code == 404, bad
    # A click token of mail sent before links were numbered still reaches its link.
    legacy = signing.sign("click", [message.id, LINKS[1]])
    assert client.get(ROUTES["click"].format(legacy)).headers["Location"] == LINKS[1]
    db_message = EmailMessage.query.one()
    assert db_message.click_count == 3


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "//evil.example/", "data:text/html,x", "ftp://x/", ""]
)
def test_even_a_signed_click_refuses_non_http_urls(client, message, url):
    token = signing.sign("click", [message.id, url])
    response = client.get(ROUTES["click"].format(token))
    assert response.status_code == 404 and "Location" not in response.headers


@pytest.mark.parametrize(
    "payload", [None, "1", True, [None, "https://shop.example/a"], {"id": 1}, [1], 10**12]
)
def test_well_signed_but_odd_payloads_are_404_not_500(client, message, payload):
    for purpose in ("click", "unsubscribe", "preferences"):
        response = client.get(ROUTES[purpose].format(signing.sign(purpose, payload)))
        assert response.status_code in (400, 404), (purpose, payload, response.status_code)
