"""What the campaigns core asks of a channel: how to check content, render a recipient's
message, send a test, and read the channel's own engagement (opens, clicks, links).

A channel registers a :class:`CampaignChannel` in its ``setup`` (as it registers its
:class:`~app.messaging.delivery.DeliveryChannel`); the core never imports a channel. A
channel with a delivery channel but no campaign support still lists and reports (counts
by status); it cannot be composed on the page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from app.errors import Invalid


@dataclass(frozen=True)
class Content:
    """What a user gave for a campaign's message (any of these may be empty)."""

    subject: str | None = None
    html: str | None = None
    body: str | None = None
    template_id: str | None = None  # a template's public id


@dataclass(frozen=True)
class CampaignChannel:
    name: str
    label: str
    #: check and normalise content: the Campaign columns to store (subject, html, body,
    #: template_id as the template's primary key); raises Invalid naming the field
    content: Callable[[Content], dict[str, Any]]
    #: a default name for a campaign of this content
    default_name: Callable[[dict[str, Any]], str]
    #: the campaign's message rendered for one customer: {"subject", "html"} or
    #: {"body", "segments", "encoding"}
    preview: Callable[[Any, Any], dict[str, Any]]
    #: send the campaign's message, rendered for a sample customer (or none), to the
    #: user's own address; returns that address (Invalid when the user has none)
    send_test: Callable[[Any, Any, Any], str]
    #: the sender recipients see ("Decant <marketing@example.com>", "+12125550100")
    sender: Callable[[], str]
    #: engagement numbers for reports (delivered, openRate...), or None
    stats: Callable[[Any], dict[str, Any]] | None = None
    #: when each recipient first opened and clicked: [(opened_at|None, clicked_at|None)]
    engagement_times: Callable[[Any], list[tuple[Any, Any]]] | None = None
    #: clicks per link: [{"url", "clicks", "uniqueClickers"}]
    links: Callable[[Any], list[dict[str, Any]]] | None = None
    #: recipient filters -> a column of the channel's message table that is set when true
    engagement: Mapping[str, str] = field(default_factory=dict)
    #: why a list is refused when nobody on it may get this channel (None: a generic text)
    unreachable: str | None = None
    #: more of the campaign page's and API's detail (email: the provider split and the
    #: circuit breaker's events)
    details: Callable[[Any], dict[str, Any]] | None = None
    #: A/B tests: winnerBy rate -> the message column set when a person did it (email:
    #: humanClickRate, humanOpenRate); empty: the channel has no A/B tests (its message
    #: table then needs no ``variant`` column and its sending no variant rendering)
    ab_rates: Mapping[str, str] = field(default_factory=dict)
    #: what an A/B variant of this channel may change (the API's names): email its
    #: subject, HTML, template and sender name; SMS its body or template; both the send time
    ab_fields: tuple[str, ...] = ("subject", "html", "templateId", "fromName", "sendDelayMinutes")


def register(app: Flask, channel: CampaignChannel) -> None:
    app.extensions.setdefault("decant_campaign_channels", {})[channel.name] = channel


def channels() -> dict[str, CampaignChannel]:
    found: dict[str, CampaignChannel] = current_app.extensions.get("decant_campaign_channels", {})
    return found


def support(name: str) -> CampaignChannel | None:
    return channels().get(name)


def require(name: str, field_name: str = "channel") -> CampaignChannel:
    """The channel's campaign support, or Invalid naming ``field_name``."""
    found = support(name)
    if found is None:
        known = ", ".join(sorted(channels())) or "none"
        raise Invalid(
            f"unknown channel {name!r}", {field_name: f"campaigns go by {known}, not {name!r}"}
        )
    return found
