"""The console adapter and the factory that builds adapters from settings."""

from __future__ import annotations

import logging

import pytest

from providers.email import build_email_provider
from providers.email.base import OutgoingEmail, SendResult
from providers.email.console import ConsoleEmailProvider
from providers.email.resend import ResendEmailProvider
from providers.email.sendgrid import SendGridEmailProvider
from providers.email.ses import SesEmailProvider
from providers.email.smtp import SmtpEmailProvider


def message(i: int = 1) -> OutgoingEmail:
    return OutgoingEmail(
        to=f"user{i}@example.test",
        from_email="news@decant.test",
        subject=f"Spring list {i}",
        html="<p>Hi</p>",
        text="Hi",
        headers={"List-Unsubscribe": "<https://decant.test/u/t>"},
    )


def test_console_hands_each_message_to_the_sink_and_logs_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    kept: list[OutgoingEmail] = []
    provider = build_email_provider("console", {"console_sink": kept.append})
    assert isinstance(provider, ConsoleEmailProvider)
    with caplog.at_level(logging.INFO, logger="providers.email.console"):
        result = provider.send(message(1))
        batch = provider.send_batch([message(2), message(3)])

    assert kept == [message(1), message(2), message(3)]
    ids = [result.provider_message_id] + [
        r.provider_message_id for r in batch if isinstance(r, SendResult)
    ]
    assert len(ids) == 3 and len(set(ids)) == 3
    assert all(i and i.startswith("console-") for i in ids)
    assert "user1@example.test" in caplog.text and "Spring list 1" in caplog.text


def test_console_without_a_sink_still_accepts() -> None:
    assert build_email_provider("console", {}).send(message()).provider_message_id


def test_factory_builds_each_adapter_from_settings() -> None:
    sendgrid = build_email_provider(
        "SendGrid",
        {
            "SENDGRID_API_KEY": "SG.x",
            "SENDGRID_BASE_URL": "http://127.0.0.1:9",
            "PROVIDER_TIMEOUT": "3",
        },
    )
    assert isinstance(sendgrid, SendGridEmailProvider)
    assert sendgrid.client.host == "http://127.0.0.1:9" and sendgrid.timeout == 3.0

    resend = build_email_provider("resend", {"RESEND_API_KEY": "re_x"})
    assert isinstance(resend, ResendEmailProvider)
    assert resend.base_url == "https://api.resend.com" and resend.http.timeout == 10.0

    ses = build_email_provider(
        "ses",
        {
            "AWS_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "AKIA",
            "AWS_SECRET_ACCESS_KEY": "secret",
            "SES_ENDPOINT_URL": "http://127.0.0.1:9",
        },
    )
    assert isinstance(ses, SesEmailProvider)
    assert ses.client.meta.region_name == "eu-west-1"
    assert ses.client.meta.endpoint_url == "http://127.0.0.1:9"

    smtp = build_email_provider(
        "smtp",
        {
            "SMTP_HOST": "mail.test",
            "SMTP_PORT": "2525",
            "SMTP_STARTTLS": "true",
            "SMTP_USERNAME": "u",
        },
    )
    assert isinstance(smtp, SmtpEmailProvider)
    assert (smtp.host, smtp.port, smtp.starttls, smtp.username) == ("mail.test", 2525, True, "u")
    assert build_email_provider("smtp", {"SMTP_HOST": "h", "SMTP_SSL": "1"}).port == 465  # type: ignore[attr-defined]


def test_factory_refuses_unknown_names_and_missing_settings() -> None:
    with pytest.raises(ValueError, match="mailgun"):
        build_email_provider("mailgun", {})
    with pytest.raises(ValueError, match="SENDGRID_API_KEY"):
        build_email_provider("sendgrid", {})
    with pytest.raises(ValueError, match="SMTP_HOST"):
        build_email_provider("smtp", {})


@pytest.mark.parametrize(
    "changes",
    [
        {"subject": "hi\r\nBcc: victim@example.test"},
        {"to": "a@example.test\nBcc: b@example.test"},
        {"headers": {"X-Bad": "a\nb"}},
        {"headers": {"Bad Name": "x"}},
        {"metadata": {"message_id": "has space"}},
    ],
)
def test_messages_refuse_header_injection_and_unportable_metadata(changes: dict) -> None:
    fields = {
        "to": "a@example.test",
        "from_email": "news@decant.test",
        "subject": "s",
        "html": "h",
        "text": "t",
        **changes,
    }
    with pytest.raises(ValueError):
        OutgoingEmail(**fields)
