"""Provider webhooks under random input: random bodies (binary, JSON, form, large) with
random or missing signatures always answer 4xx (never 5xx) and write nothing."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.extensions import db
from tests.conftest import app_settings
from tests.security.conftest import diff, snapshot

HOOKS = "/api/sales/marketing/webhooks"
EXAMPLES = min(int(os.environ.get("WEBHOOK_FUZZ_EXAMPLES", "50")), 50)
MC_SECRET = "a" * 40
_KEY = ec.generate_private_key(ec.SECP256R1())
SENDGRID_PUBLIC = base64.b64encode(
    _KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()

ENDPOINTS = {
    "sendgrid": f"{HOOKS}/sendgrid",
    "resend": f"{HOOKS}/resend",
    "ses": f"{HOOKS}/ses",
    "twilio": f"{HOOKS}/twilio",
    "twilio-status": f"{HOOKS}/twilio/status",
    "mailchimp": f"{HOOKS}/mailchimp/{{secret}}",
}
SIGNATURE_HEADERS = [
    "X-Twilio-Email-Event-Webhook-Signature",
    "X-Twilio-Email-Event-Webhook-Timestamp",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "webhook-id",
    "webhook-signature",
    "X-Twilio-Signature",
    "x-amz-sns-message-type",
]


@pytest.fixture
def app_config(database_url: str) -> dict[str, Any]:
    return app_settings(
        database_url,
        SENDGRID_WEBHOOK_PUBLIC_KEY=SENDGRID_PUBLIC,
        RESEND_WEBHOOK_SECRET="whsec_" + base64.b64encode(b"k" * 32).decode(),
        TWILIO_AUTH_TOKEN="t" * 32,
        TWILIO_ACCOUNT_SID="AC" + "0" * 32,
        SES_TOPIC_ARN="arn:aws:sns:us-east-1:123456789012:decant",
        PUBLIC_BASE_URL="https://decant.example",
    )


@pytest.fixture
def mailchimp_connected(app, manager):
    from blueprints.mailchimp.models import MailchimpConnection

    db.session.add(
        MailchimpConnection(
            auth_type="api_key",
            secret_encrypted="x",
            data_center="us21",
            webhook_secret=MC_SECRET,
            connected_by_id=manager.id,
        )
    )
    db.session.commit()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=20), inner),
    max_leaves=20,
)
# Shapes the providers really send, with random values: parsers see plausible keys.
sns_like = st.fixed_dictionaries(
    {
        "Type": st.sampled_from(["Notification", "SubscriptionConfirmation", "x"]),
        "Message": st.text(max_size=80) | json_values.map(json.dumps),
        "SignatureVersion": st.sampled_from(["1", "2", "x"]),
        "Signature": st.text(max_size=40),
        "SigningCertURL": st.sampled_from(
            [
                "https://sns.us-east-1.amazonaws.com/cert.pem",
                "https://evil.example/cert.pem",
                "http://sns.us-east-1.amazonaws.com/cert.pem",
                "",
            ]
        ),
        "TopicArn": st.sampled_from(["arn:aws:sns:us-east-1:123456789012:decant", "x"]),
        "SubscribeURL": st.text(max_size=40),
    }
)
sendgrid_like = st.lists(
    st.fixed_dictionaries(
        {"event": st.text(max_size=12), "email": st.text(max_size=20), "sg_event_id": st.text()}
    ),
    max_size=3,
)
twilio_form = st.dictionaries(
    st.sampled_from(["From", "To", "Body", "MessageSid", "MessageStatus", "AccountSid", "x"]),
    st.text(max_size=40),
)
mailchimp_form = st.dictionaries(
    st.sampled_from(["type", "fired_at", "data[email]", "data[list_id]", "data[reason]"]),
    st.sampled_from(["unsubscribe", "subscribe", "cleaned", "x"]) | st.text(max_size=30),
)


@st.composite
def requests(draw, provider: str):
    kind = draw(st.sampled_from(["binary", "json", "shaped", "form", "large", "empty"]))
    headers: dict[str, str] = {}
    data: Any
    if kind == "binary":
        data = draw(st.binary(max_size=2000))
        headers["Content-Type"] = draw(
            st.sampled_from(["application/octet-stream", "application/json", "text/plain"])
        )
    elif kind == "json":
        data = json.dumps(draw(json_values)).encode()
        headers["Content-Type"] = "application/json"
    elif kind == "shaped":
        shaped = {"ses": sns_like, "sendgrid": sendgrid_like, "resend": json_values}
        if provider in shaped:
            data = json.dumps(draw(shaped[provider])).encode()
            headers["Content-Type"] = "application/json"
        else:
            data = draw(mailchimp_form if provider == "mailchimp" else twilio_form)
    elif kind == "form":
        data = draw(st.dictionaries(st.text(max_size=20), st.text(max_size=60), max_size=8))
    elif kind == "large":
        data = draw(st.sampled_from([b"x", b"\x00", b"[", b"{}"])) * draw(
            st.integers(100_000, 2_000_000)
        )
        headers["Content-Type"] = "application/json"
    else:
        data = b""
    for name in draw(st.lists(st.sampled_from(SIGNATURE_HEADERS), max_size=4, unique=True)):
        headers[name] = draw(
            st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=120)
        )
    secret = draw(st.sampled_from(["", "x", "a" * 39, "a" * 41, "A" * 40, "%00", "..%2f"]))
    return data, headers, secret


@pytest.mark.parametrize("provider", list(ENDPOINTS))
def test_webhooks_refuse_random_input_without_writing(
    app, client, provider, mailchimp_connected, monkeypatch
):
    import blueprints.webhooks.email as hooks

    def no_network(url: str) -> bytes:  # an SNS cert fetch must fail closed, offline
        raise OSError(f"offline: {url}")

    monkeypatch.setattr(hooks, "fetch_cert", no_network)
    before = snapshot()
    seen: list[str] = []

    @given(request=requests(provider))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(request) -> None:
        data, headers, secret = request
        url = ENDPOINTS[provider].format(secret=secret or "none")
        response = client.post(url, data=data, headers=headers)
        seen.append(str(response.status_code))
        assert 400 <= response.status_code < 500, (
            url,
            headers,
            str(data)[:200],
            response.status_code,
        )

    run()
    assert not diff(before, snapshot())
    assert len(seen) >= min(EXAMPLES, 20)
