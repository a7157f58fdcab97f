"""Touch sources: how a channel tells attribution who it touched, and when.

A channel registers one :class:`TouchSource` per kind of human touch (the email channel:
clicks and opens; SMS: replies). Attribution asks each for the touches of a set of
customers in a time range, so the core never reads a channel's tables itself.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, current_app


@dataclass(frozen=True)
class Touch:
    customer_id: int
    campaign_id: int | None
    message_ref: str
    touched_at: datetime
    #: the address the message went to (an email address, a phone number): engagement
    #: scores each address too (app/engagement/contacts.py); "" when unknown
    address: str = ""


@dataclass(frozen=True)
class TouchSource:
    kind: str  # email_click, email_open, sms_reply, sms_click
    channel: str
    #: the window's default, in days; the setting ATTRIBUTION_<KIND>_DAYS overrides it
    default_days: float
    #: (customer ids, since, until) -> human touches of those customers in [since, until)
    touches: Callable[[Collection[int], datetime, datetime], Sequence[Touch]]
    #: breaks ties between touches at the same moment: higher wins (a click over an open)
    rank: int = 0

    def window(self) -> timedelta:
        days = current_app.config.get(f"ATTRIBUTION_{self.kind.upper()}_DAYS")
        return timedelta(days=float(days if days is not None else self.default_days))


def register(app: Flask, source: TouchSource) -> None:
    app.extensions.setdefault("decant_touch_sources", {})[source.kind] = source


def sources(app: Flask | None = None) -> list[TouchSource]:
    return list((app or current_app).extensions.get("decant_touch_sources", {}).values())
