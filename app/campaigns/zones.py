"""Time zones: times are stored in UTC and shown in each user's zone; a schedule is
entered in the manager's zone; a campaign may go out at the same wall-clock time in each
recipient's own zone (the customer's contact time zone, where it is known)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from app.errors import Invalid

DEFAULT_ZONE = "UTC"


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """Every IANA zone this machine knows (for the settings picker), sorted."""
    return tuple(sorted(n for n in available_timezones() if "/" in n or n == "UTC"))


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def check_zone(name: str, field: str = "timeZone") -> str:
    """An IANA zone name, or Invalid naming ``field``."""
    if name not in zone_names():
        raise Invalid(
            "unknown time zone", {field: f"{name!r} is not a time zone (e.g. Europe/Paris)"}
        )
    return name


def user_zone(user: Any) -> str:
    return getattr(user, "time_zone", None) or DEFAULT_ZONE


def as_utc(when: datetime, zone_name: str | None) -> datetime:
    """A time typed without an offset means the given zone's wall clock."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone(zone_name))
    return when.astimezone(UTC)


def local(when: datetime | None, zone_name: str | None) -> datetime | None:
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(zone(zone_name))


def show(when: datetime | None, zone_name: str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """``2026-05-01 09:00 CEST`` in the reader's zone, or an em dash."""
    moment = local(when, zone_name)
    return f"{moment:{fmt}} {moment.tzname()}" if moment else "—"


def wall_clock_in(when: datetime, from_zone: str | None, to_zone: str | None) -> datetime:
    """The instant at which ``to_zone`` shows the wall-clock time ``when`` has in
    ``from_zone`` (09:00 in Paris -> 09:00 in New York, as UTC)."""
    wall = local(when, from_zone)
    assert wall is not None
    return wall.replace(tzinfo=zone(to_zone)).astimezone(UTC)
