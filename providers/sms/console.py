"""Development adapter: sends nothing, logs a summary and hands the message to a sink."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from providers.sms.base import OutgoingSms, SmsProvider, SmsResult
from providers.sms.segments import segment_info

logger = logging.getLogger(__name__)


class ConsoleSmsProvider(SmsProvider):
    """Accepts every message; ``sink`` (if given) receives each one, e.g. a dev outbox."""

    name = "console"

    def __init__(
        self,
        sink: Callable[[OutgoingSms], None] | None = None,
        *,
        log: logging.Logger | None = None,
    ) -> None:
        self.sink = sink
        self.log = log or logger

    def send(self, message: OutgoingSms) -> SmsResult:
        info = segment_info(message.body)
        sender = message.from_number or message.messaging_service_sid or "-"
        preview = message.body[:40].replace("\n", " ")
        self.log.info(
            "SMS to %s from %s: %d segment(s) %s, %d media: %r",
            message.to,
            sender,
            info.segments,
            info.encoding,
            len(message.media_urls),
            preview,
        )
        if self.sink is not None:
            self.sink(message)
        return SmsResult(provider_message_id=f"console-{uuid.uuid4()}", status="sent")
