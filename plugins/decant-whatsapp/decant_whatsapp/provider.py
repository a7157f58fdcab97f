"""Sending through Twilio's WhatsApp API with the official SDK.

Twilio addresses WhatsApp users as ``whatsapp:+E164`` on both sides; Decant keeps plain
E.164 (the consent ledger's address) and adds the prefix only here. A template goes by
``ContentSid`` with ``ContentVariables`` (a JSON object), free text by ``Body``. Errors
map as for SMS (:func:`providers.sms.twilio.map_twilio_error`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
from twilio.base import values
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from providers.errors import PermanentError, TransientError
from providers.sms.twilio import map_twilio_error

PREFIX = "whatsapp:"


def wa(number: str) -> str:
    """Twilio's WhatsApp form of an E.164 number."""
    return number if number.startswith(PREFIX) else PREFIX + number


def plain(address: str | None) -> str:
    """The E.164 number of a ``whatsapp:`` address."""
    address = (address or "").strip()
    return address[len(PREFIX) :] if address.startswith(PREFIX) else address


@dataclass(frozen=True)
class OutgoingWhatsApp:
    to: str
    body: str | None = None
    content_sid: str | None = None
    content_variables: dict[str, str] = field(default_factory=dict)
    status_callback: str | None = None


@dataclass(frozen=True)
class Sent:
    provider_message_id: str
    status: str


class WhatsAppProvider(Protocol):
    name: str

    def send(self, message: OutgoingWhatsApp) -> Sent: ...


class TwilioWhatsApp:
    """``POST /2010-04-01/Accounts/{Sid}/Messages.json`` with ``whatsapp:`` addresses."""

    name = "twilio"

    def __init__(
        self, account_sid: str, auth_token: str, sender: str, *, base_url: str, timeout: float
    ) -> None:
        self.sender = wa(sender)
        self.client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout))
        self.client.edge = None
        self.client.region = None
        self.client.api.base_url = base_url.rstrip("/")

    def send(self, message: OutgoingWhatsApp) -> Sent:
        template = message.content_sid is not None
        try:
            created = self.client.messages.create(
                to=wa(message.to),
                from_=self.sender,
                body=values.unset if template else (message.body or ""),
                content_sid=message.content_sid if template else values.unset,
                content_variables=(
                    json.dumps(message.content_variables) if template else values.unset
                ),
                status_callback=message.status_callback or values.unset,
            )
        except TwilioRestException as exc:
            raise map_twilio_error(exc) from exc
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise TransientError(f"connection to Twilio failed: {exc}", provider=self.name) from exc
        return Sent(str(created.sid), str(created.status))


class ConsoleWhatsApp:
    """Dev mode: nothing leaves; the message is kept in the dev outbox."""

    name = "console"

    def send(self, message: OutgoingWhatsApp) -> Sent:
        from app.dev import capture
        from app.ids import new_public_id

        text = message.body or f"[template {message.content_sid}] {message.content_variables}"
        capture("whatsapp", wa(message.to), text)
        return Sent(new_public_id("console"), "sent")


def build(config: Any) -> WhatsAppProvider:
    """Twilio when its credentials and a WhatsApp sender are set, else the console."""
    choice = config.get("WHATSAPP_PROVIDER") or (
        "twilio"
        if config.get("TWILIO_ACCOUNT_SID")
        and config.get("TWILIO_AUTH_TOKEN")
        and config.get("WHATSAPP_FROM")
        else "console"
    )
    if choice == "console":
        return ConsoleWhatsApp()
    if choice != "twilio":
        raise PermanentError(f"unknown WHATSAPP_PROVIDER {choice!r}", provider="whatsapp")
    return TwilioWhatsApp(
        config["TWILIO_ACCOUNT_SID"],
        config["TWILIO_AUTH_TOKEN"],
        config["WHATSAPP_FROM"],
        base_url=config.get("TWILIO_BASE_URL") or "https://api.twilio.com",
        timeout=float(config.get("PROVIDER_TIMEOUT") or 10.0),
    )
