"""Which recipient addresses are consumer mailboxes (free providers) and which business
domains: the dashboard's deliverability split. Decided once, when a message is written
(``EmailMessage.consumer_mailbox``), so the dashboard groups on a stored flag instead of
testing every address of a period against every provider (1,000,000 messages took
seconds of string work on PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, or_

#: free mailbox providers (consumer); anything else is a business domain. Changing the
#: list applies to new messages; older ones keep the flag they were written with.
CONSUMER_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "ymail.com", "outlook.com", "hotmail.com",
        "live.com", "msn.com", "icloud.com", "me.com", "mac.com", "aol.com", "proton.me",
        "protonmail.com", "gmx.com", "gmx.de", "web.de", "orange.fr", "free.fr", "comcast.net",
    }
)  # fmt: skip


def is_consumer_address(address: str | None) -> bool:
    """Whether the address is at a free mailbox provider (its domain, any case)."""
    lowered = (address or "").lower()
    return any(lowered.endswith("@" + domain) for domain in CONSUMER_DOMAINS)


def consumer_mailbox_default(context: Any) -> bool:
    """The column default: the flag of the row's ``to_address`` (ORM and Core inserts)."""
    return is_consumer_address(context.get_current_parameters().get("to_address"))


def consumer_clause(address: Any) -> ColumnElement[bool]:
    """SQL for :func:`is_consumer_address` of an address column (rows written by an
    INSERT ... SELECT, where the column default does not run)."""
    lowered = func.lower(address)
    return or_(*(lowered.like(f"%@{domain}") for domain in sorted(CONSUMER_DOMAINS)))
