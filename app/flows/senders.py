"""How a flow's send step asks a channel for its messages, without importing it.

A channel registers a :class:`FlowSender` in its setup. ``queue_many`` adds the messages
of a set of (customer, flow run) pairs (each marked with its run; email keeps only the
template and is rendered at send time, a text is rendered here) to the database in
bulk, without committing: the flow engine commits them together
with the step's execution records, then hands the ids to the delivery engine in batches,
where consent, suppression and quiet hours are checked at send time as for a campaign's
rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app

#: per flow run: the queued message's id, or why none was queued (no address, cannot
#: render); a run left out had no address
Queued = dict[int, int | str]


@dataclass(frozen=True)
class FlowSender:
    channel: str
    #: (template, [(customer id, flow run id), ...]) -> :data:`Queued`
    queue_many: Callable[[Any, Sequence[tuple[int, int]]], Queued]


def register(app: Flask, sender: FlowSender) -> None:
    app.extensions.setdefault("decant_flow_senders", {})[sender.channel] = sender


def sender_for(channel: str) -> FlowSender | None:
    found: dict[str, FlowSender] = current_app.extensions.get("decant_flow_senders", {})
    return found.get(channel)
