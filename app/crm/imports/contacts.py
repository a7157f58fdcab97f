"""E-mail addresses and phone numbers in canonical form, fast enough for a whole book.

Exactly what ``app.crm.services`` stores for a single customer, with the expensive parts
remembered: a plain ASCII local part needs no IDNA work, and a domain is checked once per
batch-worker however many customers share it (most of a book is on a few hundred
domains); a phone number equal to the stored one is not parsed again, and each distinct
written number is parsed and validated once per batch-worker (a bounded cache of answers,
refusals included: parsing and validating costs ~50 us a number).
"""

from __future__ import annotations

import re
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from app.crm import services
from app.errors import invalid

#: RFC 5322 dot-atom, ASCII only: what email_validator passes through unchanged
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")


@lru_cache(maxsize=65_536)
def _domain(domain: str) -> str | None:
    """The normalised domain, or None when email_validator refuses it."""
    try:
        return validate_email(f"x@{domain}", check_deliverability=False).domain
    except EmailNotValidError:
        return None


def normalise_email(value: str | None) -> str | None:
    """services.normalise_email's answer (and its 422 naming ``email``)."""
    if value is None or value == "":
        return None
    local, at, domain = value.rpartition("@")
    if at and len(local) <= 64 and _LOCAL.match(local):
        normal = _domain(domain)
        if normal is not None and len(local) + 1 + len(normal) <= 254:
            return f"{local}@{normal}".lower()
    return services.normalise_email(value)


@lru_cache(maxsize=65_536)
def _phone(value: str, region: str) -> tuple[str | None, str | None]:
    """(E.164, None) or (None, why it is refused): services.e164's answer, remembered."""
    try:
        return services.e164(value, region), None
    except services.NotAPhoneNumber as exc:
        return None, str(exc)


def normalise_phone(
    value: str | None, current: str | None = None, region: str | None = None
) -> str | None:
    """services.normalise_phone's answer (and its 422 naming ``phone``); a number equal
    to the stored one is kept. ``region``: services.phone_region(), read once a batch."""
    if value is None or value == "":
        return None
    if value == current:
        return current
    normal, refused = _phone(value, region or services.phone_region())
    if refused is not None:
        raise invalid({"phone": refused})
    return normal
