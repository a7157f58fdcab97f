"""Opaque public ids: a type prefix and 96 random bits (``cus_Qm3v...``).

Primary keys stay integers for joins; the API and pages only ever show public ids, so no
one can walk sequential numbers.
"""

from __future__ import annotations

import base64
import os
import secrets

from sqlalchemy import String
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


def new_public_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(12)}"


def new_public_ids(prefix: str, count: int) -> list[str]:
    """``count`` ids like :func:`new_public_id`'s from one read of the system's random
    source (a bulk import makes ten thousand at a time; a read each costs a system call)."""
    pool = base64.urlsafe_b64encode(os.urandom(12 * count)).decode("ascii")
    return [f"{prefix}_{pool[at : at + 16]}" for at in range(0, 16 * count, 16)]


class PublicIdMixin:
    """Adds ``public_id``; subclasses set ``id_prefix``."""

    id_prefix: str = "obj"
    #: room for the prefix and the id (campaign messages and their activities use 28
    #: characters after the prefix: see blueprints/email/sending.py, ``public_id_sql``)
    public_id_length: int = 24

    @declared_attr
    def public_id(cls) -> Mapped[str]:  # noqa: N805 - SQLAlchemy declared_attr
        prefix = cls.id_prefix
        return mapped_column(
            String(cls.public_id_length),
            unique=True,
            nullable=False,
            default=lambda: new_public_id(prefix),
        )
