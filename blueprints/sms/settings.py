"""The SMS channel's settings, read with defaults (the environment wins, by prefix)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app

from app.config import Setting

DEFAULTS: dict[str, Any] = {
    "SMS_RATE_LIMIT": "1/1",  # messages / seconds per sender (long code ~1/s)
    "SMS_BATCH_SIZE": 50,
    "SMS_MAX_SEGMENTS": 10,
    "SMS_HELP_REPLY": "Decant wine marketing: reply STOP to opt out, START to opt back in.",
    "SMS_AUTO_REPLIES": "",  # JSON {"HOURS": "We are open 9-5"}
    "SMS_BUSINESS_HOURS": "",  # "09:00-17:00"
    "SMS_BUSINESS_TZ": "UTC",
    "SMS_AWAY_MESSAGE": "",
    "SMS_AWAY_MESSAGE_HOURS": 12,  # at most one away message per conversation this often
    "SMS_SWEEP_SECONDS": 300,
    "SMS_INBOX_POLL_SECONDS": 5,
}

DOCS = {
    "SMS_RATE_LIMIT": "Texts per window per sender, messages/seconds (1/1: a US long code).",
    "SMS_BATCH_SIZE": "Campaign rows claimed per batch.",
    "SMS_MAX_SEGMENTS": "Longest text, in segments.",
    "SMS_HELP_REPLY": "The answer to HELP.",
    "SMS_AUTO_REPLIES": 'JSON keyword -> reply, e.g. {"HOURS": "We are open 9-5"}.',
    "SMS_BUSINESS_HOURS": "Business hours, e.g. 09:00-17:00 (empty: always open).",
    "SMS_BUSINESS_TZ": "Time zone of the business hours.",
    "SMS_AWAY_MESSAGE": "Answer outside business hours (empty: none).",
    "SMS_AWAY_MESSAGE_HOURS": "At most one away message per conversation this often.",
    "SMS_SWEEP_SECONDS": "How often single texts left queued or lost in flight are re-sent.",
    "SMS_INBOX_POLL_SECONDS": "How often an open inbox asks for new texts (htmx polling).",
}
#: Declared on the channel: the core reads and types them (environment, instance config).
SETTINGS = tuple(Setting(name, type(value), value, DOCS[name]) for name, value in DEFAULTS.items())


def get(name: str) -> Any:
    return current_app.config.get(name, DEFAULTS.get(name))


@dataclass(frozen=True)
class Rate:
    limit: int
    window: float


def rate_limit() -> Rate:
    """SMS_RATE_LIMIT as ``messages/seconds`` ("1/1", "100/1"); a bad value means 1/1."""
    raw = str(get("SMS_RATE_LIMIT") or "1/1")
    count, _, seconds = raw.partition("/")
    try:
        limit, window = max(1, int(count)), float(seconds or 1)
    except ValueError:
        return Rate(1, 1.0)
    return Rate(limit, window if window > 0 else 1.0)


def auto_replies() -> dict[str, str]:
    """SMS_AUTO_REPLIES (JSON object or dict) keyed by upper-case keyword."""
    raw = get("SMS_AUTO_REPLIES")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except ValueError:
            current_app.logger.warning("SMS_AUTO_REPLIES is not JSON; ignored")
            return {}
    if not isinstance(raw, dict):
        return {}
    return {str(k).strip().upper(): str(v) for k, v in raw.items() if v}


def parse_window(raw: str | None) -> tuple[time, time] | None:
    """ "09:00-17:00" -> (09:00, 17:00); None when unset or malformed."""
    if not raw or "-" not in raw:
        return None
    start, _, end = raw.partition("-")
    try:
        return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
    except ValueError:
        return None


def in_window(now: time, start: time, end: time) -> bool:
    """Whether ``now`` is within [start, end); a window may cross midnight."""
    if start == end:
        return True
    if start < end:
        return start <= now < end
    return now >= start or now < end


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except Exception:  # unknown or malformed zone name: fall back to UTC
        return ZoneInfo("UTC")


def outside_business_hours(now: datetime) -> bool:
    window = parse_window(get("SMS_BUSINESS_HOURS"))
    if window is None:
        return False
    local = now.astimezone(zone(get("SMS_BUSINESS_TZ")))
    return not in_window(local.time(), *window)
