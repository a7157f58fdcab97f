"""A busy database answers 503 with Retry-After, never 500.

SQLite has one writer at a time: a write that waits longer than the busy timeout fails
with "database is locked". PostgreSQL gives up on a lock after ``lock_timeout`` and
aborts a transaction on a serialization failure or deadlock. None of these is a fault of
the request or the code: the client may try again in a moment, so the answer says so
(503, ``Retry-After``, the error envelope), and background jobs retry on their own
(:func:`retry`).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar, cast

from flask import Flask, jsonify, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import OperationalError

from app.api.errors import error_body, wants_json
from app.extensions import db

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_AFTER_SECONDS = 2
#: SQLITE_BUSY and SQLITE_LOCKED (primary codes; extended codes keep them in the low byte)
_SQLITE_BUSY_CODES = {5, 6}
#: lock_not_available (lock_timeout), serialization_failure, deadlock_detected
_POSTGRES_BUSY_STATES = {"55P03", "40001", "40P01"}


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` says the database was busy (locked), not that the SQL was wrong."""
    if not isinstance(exc, OperationalError):
        return False
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if state is not None:
        return state in _POSTGRES_BUSY_STATES
    if isinstance(orig, sqlite3.OperationalError):
        code = getattr(orig, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in _SQLITE_BUSY_CODES
        return "locked" in str(orig)
    return False


def retry(work: Callable[[], T], tries: int = 5, pause: float = 0.2) -> T:
    """Run ``work`` (a whole transaction: it commits) again while the database is busy.

    The session is rolled back before each new try; after ``tries`` the error is raised.
    """
    for attempt in range(1, tries + 1):
        try:
            return work()
        except OperationalError as exc:
            db.session.rollback()
            if not is_busy(exc) or attempt == tries:
                raise
            log.info("database busy (%s), try %d of %d", exc.orig, attempt, tries)
            time.sleep(pause * attempt)
    raise AssertionError("unreachable")


def init_app(app: Flask) -> None:
    """Answer a busy database with 503 + Retry-After; other OperationalErrors stay 500."""

    @app.errorhandler(OperationalError)
    def handle_operational_error(exc: OperationalError) -> ResponseReturnValue:
        db.session.rollback()
        if not is_busy(exc):
            fallback = app.error_handler_spec[None][None].get(Exception)
            if fallback is None:
                raise exc
            # the app's own handler for Exception, which answers synchronously
            return cast("ResponseReturnValue", fallback(exc))
        log.warning("database busy on a request: %s", exc.orig)
        message = "The database is busy; try again in a moment"
        if wants_json():
            response = jsonify(error_body("database_busy", message))
        else:
            response = app.make_response(render_template("error.html", status=503, message=message))
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
