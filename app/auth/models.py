"""Users, roles and hashed API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model
from app.ids import PublicIdMixin
from app.models_base import TimestampMixin, UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.crm.models import Territory

ROLES = ("admin", "manager", "rep")
TOKEN_PREFIX = "dct_"
SESSION_ID_SEPARATOR = ":"


class User(PublicIdMixin, TimestampMixin, UserMixin, Model):
    __tablename__ = "user"
    id_prefix = "usr"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="rep")
    territory_id: Mapped[int | None] = mapped_column(ForeignKey("territory.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Part of every session's login id: bumping it ends all sessions issued before.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)  # CRM's id
    #: IANA zone the user reads and enters times in (None: UTC); times are stored in UTC
    time_zone: Mapped[str | None] = mapped_column(String(64))
    #: the user's own mobile number, for SMS test sends (E.164)
    phone: Mapped[str | None] = mapped_column(String(20))
    #: the source row last imported into it, while unedited since (app/crm/imports/digests.py)
    import_digest: Mapped[str | None] = mapped_column(String(32))

    territory: Mapped[Territory | None] = relationship(lazy="joined")

    def get_id(self) -> str:
        """What Flask-Login keeps in the session and the remember-me cookie.

        The generation makes every earlier cookie stale once it is bumped (logout,
        deactivation): see :func:`app.auth.load_session_user`.
        """
        return f"{self.public_id}{SESSION_ID_SEPARATOR}{self.session_generation}"

    def end_sessions(self) -> None:
        """Every session and remember-me cookie issued so far stops working."""
        self.session_generation = (self.session_generation or 0) + 1

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def sees_all_territories(self) -> bool:
        return self.role in ("admin", "manager")


class ApiToken(PublicIdMixin, Model):
    """A bearer token; only its SHA-256 is stored (tokens carry 256 random bits)."""

    __tablename__ = "api_token"
    id_prefix = "tok"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120), default="cli")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()

    def usable_at(self, now: datetime) -> bool:
        """Not revoked, not expired, and its user is active."""
        if self.revoked_at is not None or not self.user.active:
            return False
        return self.expires_at is None or now < self.expires_at

    @staticmethod
    def hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def issue(
        cls, user: User, name: str = "cli", expires_at: datetime | None = None
    ) -> tuple[ApiToken, str]:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = cls(
            user=user, name=name, token_hash=cls.hash(token), hint=token[:8], expires_at=expires_at
        )
        return row, token
