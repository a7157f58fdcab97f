"""The import log: one row per import, whatever brought it (the page, the API, the CLI).

A page import also keeps its uploaded file, its column mapping and where its background
job got to (``rows_done`` and the size of the rejected-rows file at that point), so an
import interrupted by a killed worker can continue from there to the same end state.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model, db
from app.ids import PublicIdMixin
from app.models_base import UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.auth.actor import Actor

MAPPED, DRY_RUN, QUEUED, RUNNING, DONE, FAILED = (
    "mapped", "dry-run", "queued", "running", "done", "failed",
)  # fmt: skip
STATUSES = (MAPPED, DRY_RUN, QUEUED, RUNNING, DONE, FAILED)
COUNTS = ("created", "updated", "unchanged", "rejected")
SOURCES = ("page", "api", "cli")


class ImportRun(PublicIdMixin, Model):
    """One import: who, when, what, how far, and what came of it."""

    __tablename__ = "import_run"
    id_prefix = "imp"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    #: who, as shown: the user's email, or ``cli`` for the command line
    actor: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(8))
    entity: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=MAPPED, index=True)
    #: whether the counts are those of a dry run (nothing written)
    dry_run: Mapped[bool] = mapped_column(default=False)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    rows_total: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    #: page imports: the uploaded file (absolute path), header -> field, date format
    file_path: Mapped[str | None] = mapped_column(String(500))
    mapping: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    date_format: Mapped[str | None] = mapped_column(String(40))
    encoding: Mapped[str | None] = mapped_column(String(16))  # settled once, at upload
    #: bytes of the rejected-rows file written by the batches counted in rows_done
    rejects_bytes: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user = relationship("User", lazy="joined")

    @property
    def counts(self) -> dict[str, int]:
        return {key: getattr(self, key) for key in COUNTS}

    @property
    def progress(self) -> int:
        """Percent of the rows done (100 once finished)."""
        if self.status in (DONE, DRY_RUN):
            return 100
        if not self.rows_total:
            return 0
        return min(100, self.rows_done * 100 // self.rows_total)

    @property
    def rejects_path(self) -> Path | None:
        return Path(self.file_path + ".rejects.csv") if self.file_path else None

    @property
    def invites_path(self) -> Path | None:
        """A users import's new users (public ids, one a line) until the page has shown
        their invite links once; the links themselves are never stored."""
        return Path(self.file_path + ".invites") if self.file_path else None

    @property
    def active(self) -> bool:
        return self.status in (QUEUED, RUNNING)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.public_id,
            "by": self.actor,
            "source": self.source,
            "entity": self.entity,
            "fileName": self.file_name,
            "status": self.status,
            "dryRun": self.dry_run,
            **self.counts,
            "rowsDone": self.rows_done,
            "rowsTotal": self.rows_total,
            "progress": self.progress,
            "error": self.error,
            "createdAt": self.created_at.isoformat() if self.created_at else None,
            "updatedAt": self.updated_at.isoformat() if self.updated_at else None,
            "finishedAt": self.finished_at.isoformat() if self.finished_at else None,
        }


def record(
    source: str,
    entity: str,
    user: Actor,
    report: dict[str, int] | None = None,
    *,
    file_name: str | None = None,
    dry_run: bool = False,
    error: str | None = None,
) -> ImportRun:
    """Log a finished API or CLI import (its own short transaction)."""
    counts = {key: int((report or {}).get(key, 0)) for key in COUNTS}
    done = sum(counts.values())
    entry = ImportRun(
        user_id=getattr(user, "id", None),
        actor=getattr(user, "email", None) or "cli",
        source=source,
        entity=entity,
        file_name=file_name,
        status=FAILED if error else (DRY_RUN if dry_run else DONE),
        dry_run=dry_run,
        rows_done=done,
        rows_total=done,
        error=error,
        finished_at=utcnow(),
        **counts,
    )
    db.session.add(entry)
    db.session.commit()
    return entry
