"""SQLite's write-ahead log goes back into the database in the background.

SQLite copies its log into the database file (a checkpoint: the pages written, then two
syncs) inside whichever commit takes the log past 1,000 pages, so a writer of a few
hundred rows spread over several indexes (attribution, an import, a send's outcomes) paid
another process's checkpoint at random: on a 2-million-order book, a first credit of
1,000 customers spent 16 ms of its 44 in its commit, 5-7 ms without the checkpoint.
Connections now leave checkpoints to a periodic job (:func:`checkpoint`, every
:data:`EVERY_SECONDS`); a commit still checkpoints when the log passes
:data:`app.extensions.WAL_AUTOCHECKPOINT_PAGES`, a bound for when the job falls behind.
Commits stay synced.
"""

from __future__ import annotations

from flask import Flask

from app import jobs
from app.channels import PeriodicJob
from app.extensions import db

EVERY_SECONDS = 30


def checkpoint() -> None:
    """Periodic job: copy the log into the database, never waiting on a reader or a
    writer (PASSIVE: what a reader still needs is copied next time)."""
    with db.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


def init_app(app: Flask) -> None:
    if str(app.config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("sqlite"):
        jobs.register_periodic(
            app,
            PeriodicJob(
                "sqlite-checkpoint", "app.sqlite_wal:checkpoint", EVERY_SECONDS,
                queue="maintenance",
            ),
        )  # fmt: skip
