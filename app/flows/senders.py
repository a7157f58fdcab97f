"""How a flow's send step asks a channel for one message, without importing it.

A channel registers a :class:`FlowSender` in its setup. ``queue`` adds the customer's
message (rendered from the template, marked with the flow run) to the session and flushes
it, without committing: the flow engine commits it together with the step's execution
record, then hands the id to the delivery engine's single-message path, where consent,
suppression and quiet hours are checked at send time as for a campaign's rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app


@dataclass(frozen=True)
class FlowSender:
    channel: str
    #: (customer, template, flow run id) -> the queued message's id, or None with no address
    queue: Callable[[Any, Any, int], int | None]


def register(app: Flask, sender: FlowSender) -> None:
    app.extensions.setdefault("decant_flow_senders", {})[sender.channel] = sender


def sender_for(channel: str) -> FlowSender | None:
    found: dict[str, FlowSender] = current_app.extensions.get("decant_flow_senders", {})
    return found.get(channel)
