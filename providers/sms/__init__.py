"""SMS adapters and the factory the app builds them with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers.sms.base import MAX_BODY_CHARACTERS, OutgoingSms, SmsProvider, SmsResult
from providers.sms.segments import SegmentInfo, segment_info

__all__ = [
    "MAX_BODY_CHARACTERS",
    "OutgoingSms",
    "SegmentInfo",
    "SmsProvider",
    "SmsResult",
    "build_sms_provider",
    "segment_info",
]

PROVIDER_NAMES = ("twilio", "console")


def build_sms_provider(name: str, settings: Mapping[str, Any]) -> SmsProvider:
    """The adapter called ``name``, configured from ``settings`` (app config keys).

    twilio: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN (required), TWILIO_PHONE_NUMBER,
    TWILIO_MESSAGING_SERVICE_SID, TWILIO_BASE_URL (default https://api.twilio.com),
    PROVIDER_TIMEOUT (seconds, default 10). console: console_sink (optional callable).
    """
    key = (name or "").strip().lower()
    if key == "console":
        from providers.sms.console import ConsoleSmsProvider

        return ConsoleSmsProvider(sink=settings.get("console_sink"))
    if key == "twilio":
        from providers.sms.twilio import DEFAULT_BASE_URL, TwilioSmsProvider

        missing = [k for k in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN") if not settings.get(k)]
        if missing:
            raise ValueError(f"SMS provider 'twilio' needs {', '.join(missing)}")
        return TwilioSmsProvider(
            settings["TWILIO_ACCOUNT_SID"],
            settings["TWILIO_AUTH_TOKEN"],
            from_number=settings.get("TWILIO_PHONE_NUMBER") or None,
            messaging_service_sid=settings.get("TWILIO_MESSAGING_SERVICE_SID") or None,
            base_url=settings.get("TWILIO_BASE_URL") or DEFAULT_BASE_URL,
            timeout=float(settings.get("PROVIDER_TIMEOUT") or 10),
        )
    raise ValueError(
        f"unknown SMS provider {name!r} (expected one of: {', '.join(PROVIDER_NAMES)})"
    )
