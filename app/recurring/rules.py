"""When a recurring campaign's occurrences go out: an iCalendar RRULE in a time zone.

"Every Tuesday 09:00" means 09:00 on the wall clock where it is read, summer and winter
alike, so occurrences are computed in the zone's local time by dateutil's ``rrulestr``
(RFC 5545) and only then turned into UTC: across a daylight-saving change the UTC hour
moves and the local hour stays. A local time that does not exist that day (spring
forward) is moved forward by the gap; an ambiguous one (fall back) takes its first
instance.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr

from app.errors import Invalid

MAX_COUNT = 1_000


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Invalid("Unknown time zone", {"timezone": f"unknown time zone {name!r}"}) from exc


def parse(rule: str, start_local: datetime) -> object:
    """The rule (``FREQ=WEEKLY;BYDAY=TU``), anchored at a naive local start."""
    if not rule or len(rule) > 500:
        raise Invalid("Bad rule", {"rule": "an RRULE such as FREQ=WEEKLY;BYDAY=TU"})
    try:
        return rrulestr(rule.removeprefix("RRULE:"), dtstart=start_local)
    except (ValueError, TypeError) as exc:
        raise Invalid("Bad rule", {"rule": f"not a valid RRULE: {exc}"}) from exc


def _to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    aware = local.replace(tzinfo=tz, fold=0)
    # a wall time skipped by spring-forward does not survive the round trip: move it on
    if aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != local:
        aware = (local + timedelta(hours=1)).replace(tzinfo=tz, fold=0)
    return aware.astimezone(UTC)


def occurrences(
    rule: str, start_local: datetime, timezone: str, after: datetime, count: int = 10
) -> Iterator[datetime]:
    """The next ``count`` occurrences after ``after`` (aware), in UTC."""
    tz = zone(timezone)
    parsed = parse(rule, start_local.replace(tzinfo=None))
    after_local = after.astimezone(tz).replace(tzinfo=None)
    produced = 0
    current = parsed.after(after_local - timedelta(seconds=1), inc=True)  # type: ignore[attr-defined]
    while current is not None and produced < min(count, MAX_COUNT):
        when = _to_utc(current, tz)
        if when > after:
            yield when
            produced += 1
        current = parsed.after(current)  # type: ignore[attr-defined]
