"""Tracking tokens: what signs them, and that links from older emails still work."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from itsdangerous import Signer, URLSafeSerializer

from app.messaging import signing

PAYLOADS = [7, 10**9, [12, "https://shop.example/a?x=1&y=é"], {"k": "v"}, "text", None]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize("purpose", signing.PURPOSES)
@pytest.mark.parametrize("payload", PAYLOADS)
def test_tokens_round_trip(app, purpose, payload):
    with app.app_context():
        assert signing.unsign(purpose, signing.sign(purpose, payload)) == payload


def test_a_new_token_is_a_plain_hmac_sha1_signer_token_an_independent_computation_confirms(
    app,
):
    """Recomputed here from the secret by hand: SHA-1 key derivation as itsdangerous'
    django-concat does it, then HMAC-SHA1 over the payload part."""
    with app.app_context():
        token = signing.sign("click", [3, "https://shop.example/"])
        secret = app.config["SECRET_KEY"].encode()
    payload, _, tag = token.partition(".")
    key = hashlib.sha1(b"decant-click-v2" + b"signer" + secret).digest()
    expected = hmac.new(key, payload.encode(), hashlib.sha1).digest()
    assert tag == _b64(expected)
    assert json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))) == [
        3,
        "https://shop.example/",
    ]


def _blake2b_token(secret: str, purpose: str, payload: object) -> str:
    """A token of the December 2026 format (keyed BLAKE2b, salt -v3), made by hand."""
    data = _b64(json.dumps(payload, separators=(",", ":")).encode())
    key = hashlib.sha256(f"decant-{purpose}-v3".encode() + b"signer" + secret.encode()).digest()
    return f"{data}.{_b64(hashlib.blake2b(data.encode(), key=key, digest_size=20).digest())}"


@pytest.mark.parametrize("purpose", signing.PURPOSES)
def test_tokens_of_every_format_ever_issued_are_still_accepted(app, purpose):
    """Emails sent before a format change carry the older tokens; they must keep working."""
    secret = app.config["SECRET_KEY"]
    payload = [5, "https://shop.example/b"] if purpose == "click" else 5
    data = _b64(json.dumps(payload, separators=(",", ":")).encode())
    hmac_token = Signer(secret, salt=f"decant-{purpose}-v2").sign(data).decode()
    serializer_token = URLSafeSerializer(secret, salt=f"decant-{purpose}").dumps(payload)
    with app.app_context():
        assert signing.unsign(purpose, hmac_token) == payload
        assert signing.unsign(purpose, serializer_token) == payload
        assert signing.unsign(purpose, _blake2b_token(secret, purpose, payload)) == payload
        assert signing.unsign(purpose, _blake2b_token("another-key", purpose, payload)) is None


@pytest.mark.parametrize("purpose", signing.PURPOSES)
def test_a_token_is_good_for_its_own_purpose_and_key_only(app, purpose):
    with app.app_context():
        token = signing.sign(purpose, 9)
        for other in signing.PURPOSES:
            if other != purpose:
                assert signing.unsign(other, token) is None
        payload, _, tag = token.partition(".")
        assert signing.unsign(purpose, f"{payload}.{tag[:-2]}") is None
        hmac_other_key = Signer("another-key", salt=f"decant-{purpose}-v2").sign(payload)
        assert signing.unsign(purpose, hmac_other_key.decode()) is None
