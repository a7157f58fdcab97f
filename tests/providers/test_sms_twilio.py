"""The Twilio adapter: the real SDK over HTTP against tests.fakes.twilio."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from providers.errors import AuthenticationError, PermanentError, TransientError
from providers.sms import OutgoingSms, build_sms_provider
from providers.sms.twilio import TwilioSmsProvider, parse_retry_after, verify_twilio_signature
from tests.fakes.twilio import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    SIGNATURE_HEADER,
    FakeTwilio,
    signed_inbound_request,
)

SENDER = "+15017122661"
TO = "+15558675310"


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio(max_hang=3.0) as server:
        yield server


@pytest.fixture
def provider(fake: FakeTwilio) -> Iterator[TwilioSmsProvider]:
    with TwilioSmsProvider(
        DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, from_number=SENDER, base_url=fake.url, timeout=2
    ) as adapter:
        yield adapter


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[Request]]]:
    """A local HTTP endpoint recording the webhooks POSTed to it."""
    seen: list[Request] = []

    def app(environ, start_response):  # type: ignore[no-untyped-def]
        request = Request(environ)
        request.form  # noqa: B018 - read the body before the request ends
        seen.append(request)
        return Response("<Response/>", content_type="text/xml")(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/webhooks/twilio/status", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def sms(to: str = TO, **kwargs: object) -> OutgoingSms:
    return OutgoingSms(to=to, body=kwargs.pop("body", "Tasting on Friday!"), **kwargs)  # type: ignore[arg-type]


# -- sending ---------------------------------------------------------------------------


def test_send_posts_every_field_and_returns_the_sid(
    fake: FakeTwilio, provider: TwilioSmsProvider
) -> None:
    media = ["https://example.com/a.jpg", "https://example.com/b.png"]
    result = provider.send(
        sms(media_urls=media, status_callback="https://decant.test/webhooks/twilio/status")
    )
    assert re.fullmatch(r"SM[0-9a-f]{32}", result.provider_message_id)
    assert result.status == "queued"
    [got] = fake.received
    assert got.sid == result.provider_message_id
    assert got.account_sid == DEFAULT_ACCOUNT_SID
    assert (got.to, got.from_, got.body) == (TO, SENDER, "Tasting on Friday!")
    assert got.media_urls == media
    assert got.form["MediaUrl"] == media
    assert got.status_callback == "https://decant.test/webhooks/twilio/status"
    assert "MessagingServiceSid" not in got.form


def test_message_values_override_defaults_and_unicode_survives(
    fake: FakeTwilio, provider: TwilioSmsProvider
) -> None:
    provider.send(sms(body="Santé 🍷 €5", from_number="+15550001111"))
    [got] = fake.received
    assert (got.from_, got.body) == ("+15550001111", "Santé 🍷 €5")
    assert "StatusCallback" not in got.form and "MediaUrl" not in got.form


def test_messaging_service_is_sent_and_accepted(fake: FakeTwilio) -> None:
    service = "MG" + "1" * 32
    with TwilioSmsProvider(
        DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, messaging_service_sid=service, base_url=fake.url
    ) as adapter:
        result = adapter.send(sms())
    assert result.status == "accepted"
    [got] = fake.received
    assert got.messaging_service_sid == service
    assert "From" not in got.form


def test_no_sender_fails_before_calling_twilio(fake: FakeTwilio) -> None:
    adapter = TwilioSmsProvider(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, base_url=fake.url)
    with adapter, pytest.raises(PermanentError) as caught:
        adapter.send(sms())
    assert not caught.value.suppress
    assert fake.request_count == 0


def test_factory_builds_a_working_twilio_adapter(fake: FakeTwilio) -> None:
    settings = {
        "TWILIO_ACCOUNT_SID": DEFAULT_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": DEFAULT_AUTH_TOKEN,
        "TWILIO_PHONE_NUMBER": SENDER,
        "TWILIO_BASE_URL": fake.url,
        "PROVIDER_TIMEOUT": "3",
    }
    adapter = build_sms_provider("Twilio", settings)
    try:
        assert adapter.name == "twilio"
        assert adapter.send(sms()).provider_message_id == fake.received[0].sid
    finally:
        adapter.close()


def test_edge_and_region_from_the_environment_do_not_move_the_host(
    fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    monkeypatch.setenv("TWILIO_REGION", "au1")
    with TwilioSmsProvider(
        DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, from_number=SENDER, base_url=fake.url
    ) as adapter:
        adapter.send(sms())
    assert len(fake.received) == 1


# -- errors ----------------------------------------------------------------------------


def test_unsubscribed_recipient_is_permanent_stop(
    fake: FakeTwilio, provider: TwilioSmsProvider
) -> None:
    fake.fail_for(TO, 21610)
    with pytest.raises(PermanentError) as caught:
        provider.send(sms())
    error = caught.value
    assert not isinstance(error, AuthenticationError)
    assert (error.suppress, error.reason, error.code) == (True, "STOP", "21610")
    assert error.provider == "twilio"
    assert fake.received == []


@pytest.mark.parametrize("code", [21211, 21614])
def test_bad_number_is_permanent_bounce(
    fake: FakeTwilio, provider: TwilioSmsProvider, code: int
) -> None:
    fake.fail_for(TO, code)
    with pytest.raises(PermanentError) as caught:
        provider.send(sms())
    assert (caught.value.suppress, caught.value.reason, caught.value.code) == (
        True,
        "bounce",
        str(code),
    )


def test_malformed_number_is_rejected_by_twilio_as_21211(provider: TwilioSmsProvider) -> None:
    with pytest.raises(PermanentError) as caught:
        provider.send(sms(to="555-CALL-NOW"))
    assert (caught.value.code, caught.value.reason) == ("21211", "bounce")


@pytest.mark.parametrize("code", [21612, 21606, 21408])
def test_sender_side_rejections_are_permanent_without_suppression(
    fake: FakeTwilio, provider: TwilioSmsProvider, code: int
) -> None:
    fake.fail_for(TO, code)
    with pytest.raises(PermanentError) as caught:
        provider.send(sms())
    assert not caught.value.suppress and caught.value.reason is None
    assert caught.value.code == str(code)


def test_rate_limit_is_transient_with_retry_after(
    fake: FakeTwilio, provider: TwilioSmsProvider
) -> None:
    fake.fail_next(status=429, retry_after=7)
    with pytest.raises(TransientError) as caught:
        provider.send(sms())
    assert (caught.value.code, caught.value.retry_after) == ("20429", 7.0)
    assert provider.send(sms()).status == "queued"  # only the next call was scripted


def test_unavailable_is_transient_without_retry_after(
    fake: FakeTwilio, provider: TwilioSmsProvider
) -> None:
    fake.fail_next(status=503)
    with pytest.raises(TransientError) as caught:
        provider.send(sms())
    assert (caught.value.code, caught.value.retry_after) == ("20503", None)
    assert fake.received == []


def test_queue_full_is_transient(fake: FakeTwilio, provider: TwilioSmsProvider) -> None:
    fake.fail_next(status=400, code=21611)
    with pytest.raises(TransientError) as caught:
        provider.send(sms())
    assert caught.value.code == "21611"


def test_bad_credentials_raise_authentication_error(fake: FakeTwilio) -> None:
    with (
        TwilioSmsProvider(
            DEFAULT_ACCOUNT_SID, "wrong-token", from_number=SENDER, base_url=fake.url
        ) as adapter,
        pytest.raises(AuthenticationError) as caught,
    ):
        adapter.send(sms())
    assert caught.value.code == "20003"
    assert not caught.value.suppress
    assert fake.received == []


def test_hanging_api_times_out_as_transient(fake: FakeTwilio) -> None:
    fake.hang_next(seconds=3)
    with TwilioSmsProvider(
        DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, from_number=SENDER, base_url=fake.url, timeout=0.3
    ) as adapter:
        started = time.monotonic()
        with pytest.raises(TransientError, match="timed out"):
            adapter.send(sms())
    assert time.monotonic() - started < 2


def test_connection_refused_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    adapter = TwilioSmsProvider(
        DEFAULT_ACCOUNT_SID,
        DEFAULT_AUTH_TOKEN,
        from_number=SENDER,
        base_url=f"http://127.0.0.1:{port}",
    )
    with adapter, pytest.raises(TransientError, match="failed"):
        adapter.send(sms())


def test_random_failures_are_seeded_and_transient() -> None:
    def run() -> list[str]:
        outcomes = []
        with (
            FakeTwilio(failure_rate=0.4, seed=7) as flaky,
            TwilioSmsProvider(
                DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, from_number=SENDER, base_url=flaky.url
            ) as adapter,
        ):
            for _ in range(25):
                try:
                    adapter.send(sms())
                    outcomes.append("ok")
                except TransientError as exc:
                    outcomes.append(exc.code or "")
            assert len(flaky.received) == outcomes.count("ok")
        return outcomes

    first = run()
    assert first == run()
    assert "ok" in first and set(first) - {"ok"} <= {"20429", "20500", "20503"}
    assert len(set(first)) > 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30", 30.0),
        (" 1.5 ", 1.5),
        ("Wed, 21 Oct 2015 07:28:40 GMT", 40.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("soon", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(value, now=now) == expected


# -- webhook signatures ----------------------------------------------------------------


def test_status_callback_is_signed_and_verifies(
    fake: FakeTwilio, provider: TwilioSmsProvider, receiver: tuple[str, list[Request]]
) -> None:
    url, seen = receiver
    sid = provider.send(sms(status_callback=url)).provider_message_id
    answer = fake.deliver_status(sid, "undelivered", error_code=30003)
    assert answer.status_code == 200
    [request] = seen
    assert request.form["MessageSid"] == sid
    assert request.form["MessageStatus"] == "undelivered"
    assert request.form["ErrorCode"] == "30003"
    signature = request.headers.get(SIGNATURE_HEADER)
    assert verify_twilio_signature(DEFAULT_AUTH_TOKEN, url, request.form, signature)
    assert not verify_twilio_signature("other-token", url, request.form, signature)
    assert fake.messages[sid].status == "undelivered"


def test_inbound_signature_valid_and_tampered() -> None:
    url = "https://decant.test/webhooks/twilio/inbound?tenant=1"
    params, headers = signed_inbound_request(
        DEFAULT_AUTH_TOKEN, url, {"From": TO, "To": SENDER, "Body": "STOP"}
    )
    signature = headers[SIGNATURE_HEADER]
    assert params["MessageSid"].startswith("SM") and params["NumMedia"] == "0"
    assert verify_twilio_signature(DEFAULT_AUTH_TOKEN, url, params, signature)
    assert verify_twilio_signature(DEFAULT_AUTH_TOKEN, url, MultiDict(params), signature)
    # Twilio's signature is checked with and without the default port
    with_port = url.replace("decant.test", "decant.test:443")
    assert verify_twilio_signature(DEFAULT_AUTH_TOKEN, with_port, params, signature)

    assert not verify_twilio_signature(
        DEFAULT_AUTH_TOKEN, url, {**params, "Body": "START"}, signature
    )
    assert not verify_twilio_signature(DEFAULT_AUTH_TOKEN, url, {**params, "Extra": "1"}, signature)
    assert not verify_twilio_signature(DEFAULT_AUTH_TOKEN, url + "2", params, signature)
    assert not verify_twilio_signature(
        DEFAULT_AUTH_TOKEN, url.replace("https", "http"), params, signature
    )
    assert not verify_twilio_signature(DEFAULT_AUTH_TOKEN, url, params, None)
    assert not verify_twilio_signature(DEFAULT_AUTH_TOKEN, url, params, "")
    assert not verify_twilio_signature("", url, params, signature)


def test_repeated_form_fields_are_all_signed() -> None:
    url = "https://decant.test/hook"
    form = MultiDict([("MediaUrl", "https://a.test/1"), ("MediaUrl", "https://a.test/2")])
    signature = RequestValidator(DEFAULT_AUTH_TOKEN).compute_signature(url, form)
    assert verify_twilio_signature(DEFAULT_AUTH_TOKEN, url, form, signature)
    dropped = MultiDict([("MediaUrl", "https://a.test/1")])
    assert not verify_twilio_signature(DEFAULT_AUTH_TOKEN, url, dropped, signature)
