"""Email adapters and the factory the app builds them with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers.email.base import (
    MESSAGE_ID_KEY,
    BatchOutcome,
    EmailProvider,
    OutgoingEmail,
    SendResult,
)

__all__ = [
    "MESSAGE_ID_KEY",
    "BatchOutcome",
    "EmailProvider",
    "OutgoingEmail",
    "SendResult",
    "build_email_provider",
]

PROVIDER_NAMES = ("sendgrid", "resend", "ses", "smtp", "console")
_TRUE = {"1", "true", "yes", "on"}


def build_email_provider(name: str, settings: Mapping[str, Any]) -> EmailProvider:
    """The adapter called ``name``, configured from ``settings`` (app config keys).

    sendgrid: SENDGRID_API_KEY, SENDGRID_BASE_URL (default https://api.sendgrid.com).
    resend: RESEND_API_KEY, RESEND_BASE_URL (default https://api.resend.com).
    ses: AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (else boto3's usual chain),
    SES_ENDPOINT_URL, SES_CONFIGURATION_SET (optional).
    smtp: SMTP_HOST, SMTP_PORT (default 587, 465 with SMTP_SSL), SMTP_USERNAME,
    SMTP_PASSWORD, SMTP_STARTTLS, SMTP_SSL (booleans; "true"/"1"/"yes"/"on").
    All: PROVIDER_TIMEOUT (seconds, default 10). console: console_sink (optional callable).
    """
    key = (name or "").strip().lower()
    timeout = float(settings.get("PROVIDER_TIMEOUT") or 10)
    if key == "console":
        from providers.email.console import ConsoleEmailProvider

        return ConsoleEmailProvider(sink=settings.get("console_sink"))
    if key == "sendgrid":
        from providers.email.sendgrid import DEFAULT_BASE_URL, SendGridEmailProvider

        _require(key, settings, "SENDGRID_API_KEY")
        return SendGridEmailProvider(
            settings["SENDGRID_API_KEY"],
            base_url=settings.get("SENDGRID_BASE_URL") or DEFAULT_BASE_URL,
            timeout=timeout,
        )
    if key == "resend":
        from providers.email.resend import DEFAULT_BASE_URL as RESEND_URL
        from providers.email.resend import ResendEmailProvider

        _require(key, settings, "RESEND_API_KEY")
        return ResendEmailProvider(
            settings["RESEND_API_KEY"],
            base_url=settings.get("RESEND_BASE_URL") or RESEND_URL,
            timeout=timeout,
        )
    if key == "ses":
        from providers.email.ses import SesEmailProvider

        _require(key, settings, "AWS_REGION")
        return SesEmailProvider(
            region=settings["AWS_REGION"],
            access_key_id=settings.get("AWS_ACCESS_KEY_ID") or None,
            secret_access_key=settings.get("AWS_SECRET_ACCESS_KEY") or None,
            endpoint_url=settings.get("SES_ENDPOINT_URL") or None,
            configuration_set=settings.get("SES_CONFIGURATION_SET") or None,
            timeout=timeout,
        )
    if key == "smtp":
        from providers.email.smtp import SmtpEmailProvider

        _require(key, settings, "SMTP_HOST")
        use_ssl = _flag(settings.get("SMTP_SSL"))
        return SmtpEmailProvider(
            settings["SMTP_HOST"],
            int(settings.get("SMTP_PORT") or (465 if use_ssl else 587)),
            username=settings.get("SMTP_USERNAME") or None,
            password=settings.get("SMTP_PASSWORD") or None,
            starttls=_flag(settings.get("SMTP_STARTTLS")),
            use_ssl=use_ssl,
            timeout=timeout,
        )
    raise ValueError(
        f"unknown email provider {name!r} (expected one of: {', '.join(PROVIDER_NAMES)})"
    )


def _require(name: str, settings: Mapping[str, Any], *keys: str) -> None:
    missing = [k for k in keys if not settings.get(k)]
    if missing:
        raise ValueError(f"email provider {name!r} needs {', '.join(missing)}")


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in _TRUE
    return bool(value)
