"""Development adapter: sends nothing, logs a summary and hands the message to a sink."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from providers.email.base import EmailProvider, OutgoingEmail, SendResult

logger = logging.getLogger(__name__)


class ConsoleEmailProvider(EmailProvider):
    """Accepts every message; ``sink`` (if given) receives each one, e.g. a dev outbox.

    It keeps nothing itself. A sink that raises makes the send raise: the message was not
    recorded, so the caller should not count it as sent.
    """

    name = "console"
    max_batch_size = 1000
    background_safe = False  # its sink may write to the app's database

    def __init__(
        self,
        sink: Callable[[OutgoingEmail], None] | None = None,
        *,
        log: logging.Logger | None = None,
    ) -> None:
        self.sink = sink
        self.log = log or logger

    def send(self, message: OutgoingEmail) -> SendResult:
        self.log.info(
            "email to %s from %s: %r (%d chars html, %d chars text, headers: %s)",
            message.to,
            message.from_email,
            message.subject,
            len(message.html),
            len(message.text),
            ", ".join(message.headers) or "-",
        )
        if self.sink is not None:
            self.sink(message)
        return SendResult(provider_message_id=f"console-{uuid.uuid4()}")
