"""What every SMS adapter takes and returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

#: The longest ``Body`` Twilio takes, in characters, after personalisation (error 21617).
MAX_BODY_CHARACTERS = 1600


@dataclass(frozen=True)
class OutgoingSms:
    """One text message to one recipient.

    ``to`` is E.164. Give ``from_number`` (the sending number), ``messaging_service_sid``
    or both; ``media_urls`` turns the message into an MMS; ``status_callback`` is the URL
    the provider will POST delivery updates to.
    """

    to: str
    body: str
    from_number: str | None = None
    messaging_service_sid: str | None = None
    media_urls: Sequence[str] = ()
    status_callback: str | None = None


@dataclass(frozen=True)
class SmsResult:
    """The provider's answer to an accepted message."""

    provider_message_id: str
    status: str


class SmsProvider(ABC):
    """Sends one SMS per call, or raises an error from :mod:`providers.errors`."""

    name: str

    @abstractmethod
    def send(self, message: OutgoingSms) -> SmsResult:
        """Hand ``message`` to the provider and return its id and first status."""

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections; the provider is not used afterwards."""

    def __enter__(self) -> SmsProvider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
