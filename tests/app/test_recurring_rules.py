"""Recurring rules keep their wall-clock time across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.errors import Invalid
from app.recurring.rules import occurrences


def test_every_tuesday_nine_stays_nine_in_new_york_across_the_fall_change():
    start = datetime(2026, 10, 20, 9, 0)
    after = datetime(2026, 10, 19, tzinfo=UTC)
    got = list(occurrences("FREQ=WEEKLY;BYDAY=TU", start, "America/New_York", after, count=3))
    # EDT (UTC-4) until 1 November 2026, then EST (UTC-5): 13:00 UTC, then 14:00 UTC
    assert got == [
        datetime(2026, 10, 20, 13, 0, tzinfo=UTC),
        datetime(2026, 10, 27, 13, 0, tzinfo=UTC),
        datetime(2026, 11, 3, 14, 0, tzinfo=UTC),
    ]


def test_first_monday_of_the_month_in_paris_across_the_spring_change():
    start = datetime(2027, 2, 1, 9, 0)
    after = datetime(2027, 1, 31, tzinfo=UTC)
    got = list(occurrences("FREQ=MONTHLY;BYDAY=1MO", start, "Europe/Paris", after, count=3))
    assert got == [
        datetime(2027, 2, 1, 8, 0, tzinfo=UTC),  # CET
        datetime(2027, 3, 1, 8, 0, tzinfo=UTC),
        datetime(2027, 4, 5, 7, 0, tzinfo=UTC),  # CEST since 28 March
    ]


def test_a_wall_time_skipped_by_spring_forward_moves_on():
    start = datetime(2027, 3, 14, 2, 30)  # 02:30 does not exist in New York that day
    got = list(
        occurrences("FREQ=DAILY", start, "America/New_York", datetime(2027, 3, 13, tzinfo=UTC), 2)
    )
    assert got[0] == datetime(2027, 3, 14, 7, 30, tzinfo=UTC)  # 03:30 EDT
    assert got[1] == datetime(2027, 3, 15, 6, 30, tzinfo=UTC)  # 02:30 EDT


@pytest.mark.parametrize(
    ("rule", "tz", "field"),
    [
        ("FREQ=SOMETIMES", "UTC", "rule"),
        ("", "UTC", "rule"),
        ("FREQ=DAILY", "Mars/Olympus", "timezone"),
    ],
)
def test_bad_rules_and_zones_name_the_field(rule, tz, field):
    with pytest.raises(Invalid) as caught:
        list(occurrences(rule, datetime(2027, 1, 1, 9), tz, datetime(2027, 1, 1, tzinfo=UTC)))
    assert field in caught.value.fields
