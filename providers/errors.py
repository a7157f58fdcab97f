"""The two ways a provider call can fail, as the delivery engine sees them."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime


class ProviderError(Exception):
    """A provider refused or failed a call.

    ``code`` is the provider's own error code (``"21610"``, ``"MessageRejected"``,
    ``"429"``...), kept on the message so a user can look it up.
    """

    def __init__(self, message: str, *, code: str | None = None, provider: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.provider = provider

    def __str__(self) -> str:
        prefix = f"{self.provider} " if self.provider else ""
        suffix = f" [{self.code}]" if self.code else ""
        return f"{prefix}{self.message}{suffix}"


class TransientError(ProviderError):
    """Worth retrying later: timeouts, connection errors, 429 and 5xx answers.

    ``retry_after`` is the provider's own hint in seconds (Retry-After, rate-limit reset
    headers), or ``None`` when it gave none and the caller's backoff applies.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        provider: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code, provider=provider)
        self.retry_after = retry_after


class PermanentError(ProviderError):
    """Retrying will not help: bad address, unsubscribed recipient, auth failure.

    ``suppress`` says the address itself is bad for good (hard bounce, invalid number,
    recipient unsubscribed at the provider) and should be added to the suppression list;
    ``reason`` is then one of ``bounce``, ``complaint``, ``unsubscribe``, ``STOP``.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        provider: str = "",
        suppress: bool = False,
        reason: str | None = None,
    ) -> None:
        super().__init__(message, code=code, provider=provider)
        self.suppress = suppress
        self.reason = reason


class AccountError(PermanentError):
    """The provider refuses every message for a reason of the account or its settings
    (credentials, an unverified sending domain or sender, a suspended or paused account),
    not of one recipient: nothing will go until someone fixes it, so a campaign stops
    with the reason instead of failing each of its rows, and no address is suppressed."""


class AuthenticationError(AccountError):
    """The credentials were refused (401/403): no message will go until they change."""


class NotFoundError(PermanentError):
    """The remote object (audience, campaign, member) does not exist (404)."""


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After value (delta-seconds or HTTP date); None if unusable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass  # not delta-seconds: an HTTP date, or nothing usable
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
