"""The engine finds an order's touches by bisection over the customer's sorted touches:
the same touches, in the same order, as reading every touch (checked on random books)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from app.attribution.engine import CustomerTouches, Timed
from app.attribution.touches import Touch, TouchSource


def _every_touch(touches: list[Timed], end: datetime) -> list[Timed]:
    return [t for t in touches if end - t[1] <= t[0] < end]


def test_bisection_finds_what_reading_every_touch_finds():
    rnd = random.Random(26)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    sources = [
        TouchSource("email_click", "email", 5, lambda *_: [], rank=2),
        TouchSource("email_open", "email", 1, lambda *_: [], rank=1),
        TouchSource("sms_reply", "sms", 0.5, lambda *_: [], rank=3),
    ]
    for _ in range(200):
        touches: list[Timed] = []
        for n in range(rnd.randint(0, 30)):
            source = rnd.choice(sources)
            # whole hours, so equal moments (ties) happen
            at = start + timedelta(hours=rnd.randint(0, 24 * 20))
            touches.append(
                (at, timedelta(days=source.default_days), source, Touch(1, n, f"m{n}", at))
            )
        found = CustomerTouches(touches)
        for _ in range(10):
            end = start + timedelta(days=rnd.randint(0, 22))
            assert found.inside(end) == _every_touch(touches, end)
