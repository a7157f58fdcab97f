"""The background job of a page import: re-read the uploaded file and upsert it in batches.

After each batch the job records how many rows are done, the counts so far and how long
the rejected-rows file was; a job killed mid-file is run again (``resume``) and continues
after the last recorded batch. Upserts are idempotent, so a batch written but not yet
recorded when the worker died is simply upserted again (its rows then count as
unchanged): the database ends as a clean run leaves it, and the rejects file too.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from flask import current_app
from sqlalchemy import update

from app import jobs
from app.crm import imports
from app.crm.imports import import_log
from app.crm.imports.batches import BATCH_ROWS, batches, reject_records, rejected, rejects_header
from app.crm.imports.csvfile import CsvError, CsvSource
from app.crm.imports.import_log import COUNTS, ImportRun
from app.errors import DomainError
from app.extensions import db
from app.models_base import utcnow

if TYPE_CHECKING:
    from sqlalchemy import CursorResult

log = logging.getLogger(__name__)

JOB = "app.crm.imports.job:run_import"
DEFAULT_STALE_SECONDS = 300


def source_of(entry: ImportRun) -> CsvSource:
    return CsvSource(
        Path(entry.file_path or ""),
        entry.entity,
        dict(entry.mapping or {}),
        entry.date_format,
        encoding=entry.encoding or "",
    )


def start(entry: ImportRun, *, dry_run: bool) -> jobs.JobHandle:
    """Queue a fresh run (or dry run) of the whole file."""
    entry.dry_run = dry_run
    for key in COUNTS:
        setattr(entry, key, 0)
    entry.rows_done = entry.rejects_bytes = 0
    entry.rows_total = None
    entry.error = entry.finished_at = None
    if entry.invites_path is not None:
        entry.invites_path.unlink(missing_ok=True)
    return _enqueue(entry)


def resume(entry: ImportRun) -> jobs.JobHandle:
    """Queue the run again from its last recorded batch."""
    entry.error = None
    return _enqueue(entry)


def stalled(entry: ImportRun) -> bool:
    """Queued or running, but silent for longer than a batch can take: its worker died."""
    seconds = int(current_app.config.get("IMPORT_STALE_SECONDS", DEFAULT_STALE_SECONDS))
    quiet = utcnow() - entry.updated_at > timedelta(seconds=seconds)
    return entry.active and quiet


def _enqueue(entry: ImportRun) -> jobs.JobHandle:
    entry.status = import_log.QUEUED
    db.session.commit()  # the worker must see the queued row
    return jobs.enqueue(JOB, entry.id, queue="default", retries=0)


def run_import(import_id: int) -> None:
    """Run the import from where it got to; one job at a time per import."""
    claimed = cast(
        "CursorResult[Any]",
        db.session.execute(
            update(ImportRun)
            .where(ImportRun.id == import_id, ImportRun.status == import_log.QUEUED)
            .values(status=import_log.RUNNING, updated_at=utcnow())
        ),
    ).rowcount
    db.session.commit()
    if not claimed:
        log.info("import %s is not queued: nothing to do", import_id)
        return
    entry = db.session.get_one(ImportRun, import_id)
    try:
        _work(entry)
    except (CsvError, DomainError, OSError) as exc:
        _fail(import_id, str(getattr(exc, "message", None) or exc))
    except Exception as exc:  # the log must say it failed, whatever happened
        log.exception("import %s failed", import_id)
        _fail(import_id, f"{type(exc).__name__}: {exc}")


def _fail(import_id: int, message: str) -> None:
    db.session.rollback()
    entry = db.session.get_one(ImportRun, import_id)
    entry.status = import_log.FAILED
    entry.error = message[:2000]
    entry.finished_at = utcnow()
    db.session.commit()


def _work(entry: ImportRun) -> None:
    source = source_of(entry)
    source.open()
    if entry.rows_total is None:
        entry.rows_total = sum(1 for _ in source.rows())
        db.session.commit()
    actor = entry.user
    size = int(current_app.config.get("IMPORT_JOB_BATCH_ROWS", BATCH_ROWS))
    path = entry.rejects_path
    assert path is not None
    with _rejects_file(path, entry.rejects_bytes) as out:
        if entry.rows_done == 0:
            out.write(_csv_bytes([rejects_header(source)]))
        for batch in batches(source, size, skip=entry.rows_done):
            report = imports.run(
                entry.entity, [row for _, row, _ in batch], actor, dry_run=entry.dry_run
            )
            records = [
                r for item in rejected(entry.entity, batch, report) for r in reject_records(item)
            ]
            if records:
                out.write(_csv_bytes(records))
            _note_new_users(entry, report)
            out.flush()
            os.fsync(out.fileno())  # on disk before the row says these bytes count
            for key in COUNTS:
                setattr(entry, key, getattr(entry, key) + report[key])
            entry.rows_done += len(batch)
            entry.rejects_bytes = out.tell()
            db.session.commit()
    entry.status = import_log.DRY_RUN if entry.dry_run else import_log.DONE
    entry.finished_at = utcnow()
    db.session.commit()


def _note_new_users(entry: ImportRun, report: dict[str, Any]) -> None:
    """Keep the ids of the users a real run created, for the page to show their invite
    links once (the API answers them in its report instead)."""
    path = entry.invites_path
    if entry.entity != "users" or entry.dry_run or path is None:
        return
    created = [row["id"] for row in report["rows"] if row["result"] == "created"]
    if created:
        with path.open("a", encoding="utf-8") as handle:
            handle.write("".join(f"{public_id}\n" for public_id in created))


def _rejects_file(path: Path, keep: int) -> Any:
    """The rejects file cut back to the bytes the recorded batches wrote."""
    handle = path.open("r+b" if path.exists() else "w+b")
    handle.truncate(keep)
    handle.seek(keep)
    return handle


def _csv_bytes(records: list[list[Any]]) -> bytes:
    text = io.StringIO()
    csv.writer(text).writerows(records)
    return text.getvalue().encode("utf-8")
