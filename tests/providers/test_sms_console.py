"""The console SMS adapter and the factory."""

from __future__ import annotations

import logging
import re

import pytest

from providers.sms import OutgoingSms, build_sms_provider
from providers.sms.console import ConsoleSmsProvider


def test_console_returns_sent_and_feeds_the_sink(caplog: pytest.LogCaptureFixture) -> None:
    outbox: list[OutgoingSms] = []
    provider = ConsoleSmsProvider(sink=outbox.append)
    message = OutgoingSms(to="+15551234567", body="Hello €", from_number="+15550000000")
    with caplog.at_level(logging.INFO, logger="providers.sms.console"):
        first = provider.send(message)
        second = provider.send(message)
    assert re.fullmatch(r"console-[0-9a-f-]{36}", first.provider_message_id)
    assert first.provider_message_id != second.provider_message_id
    assert first.status == "sent"
    assert outbox == [message, message]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "+15551234567" in lines[0] and "1 segment(s) GSM-7" in lines[0]
    assert "\n" not in lines[0]


def test_console_without_sink() -> None:
    assert ConsoleSmsProvider().send(OutgoingSms(to="+15551234567", body="x")).status == "sent"


def test_factory_builds_console_with_sink() -> None:
    outbox: list[OutgoingSms] = []
    provider = build_sms_provider("console", {"console_sink": outbox.append})
    assert provider.name == "console"
    provider.send(OutgoingSms(to="+15551234567", body="hi"))
    assert [m.body for m in outbox] == ["hi"]


def test_factory_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="carrier-pigeon"):
        build_sms_provider("carrier-pigeon", {})


def test_factory_requires_twilio_credentials() -> None:
    with pytest.raises(ValueError, match="TWILIO_AUTH_TOKEN"):
        build_sms_provider("twilio", {"TWILIO_ACCOUNT_SID": "AC123"})
