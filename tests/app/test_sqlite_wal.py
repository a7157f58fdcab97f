"""SQLite: a commit appends to the log and leaves copying it into the database to the
periodic job (a commit that took the log past 1,000 pages used to do it, then sync twice,
whoever it was)."""

from __future__ import annotations

import os

from app import create_app, jobs
from app.extensions import db
from app.sqlite_wal import checkpoint
from tests.conftest import app_settings

PAGE = 4096
ROWS = 2500  # a page each: 2.5 times SQLite's default checkpoint threshold


def test_a_big_commit_stays_in_the_log_until_the_job_copies_it(tmp_path, instance_path):
    path = tmp_path / "wal.sqlite"
    app = create_app(app_settings(f"sqlite:///{path}"))
    assert "sqlite-checkpoint" in jobs.periodic_jobs(app)
    with app.app_context():
        with db.engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE page (body TEXT)")
        checkpoint()
        before = os.path.getsize(path)
        with db.engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO page (body) VALUES (?)", [("x" * (PAGE - 200),)] * ROWS
            )
        assert os.path.getsize(f"{path}-wal") > ROWS * PAGE
        assert os.path.getsize(path) == before  # nothing copied in by the commit

        checkpoint()
        assert os.path.getsize(path) > before + (ROWS - 100) * PAGE
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM page").scalar() == ROWS
        db.engine.dispose()


def test_postgresql_gets_no_checkpoint_job():
    app = create_app(app_settings("postgresql://nobody@127.0.0.1/never_connected"))
    assert "sqlite-checkpoint" not in jobs.periodic_jobs(app)
