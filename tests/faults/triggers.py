"""Make a table refuse writes for real, as a lock or a full disk would: a database
trigger that raises (SQLite ``RAISE(ABORT)``, PostgreSQL ``RAISE EXCEPTION``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from app.extensions import db

MESSAGE = "refused by the test trigger"


@contextmanager
def inserts_fail(table: str) -> Iterator[None]:
    """Every INSERT into ``table`` fails while the block runs."""
    name = f"decant_test_fail_{table}"
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(
                text(
                    f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$ BEGIN "
                    f"RAISE EXCEPTION '{MESSAGE}'; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    f'CREATE TRIGGER {name} BEFORE INSERT ON "{table}" '
                    f"FOR EACH ROW EXECUTE FUNCTION {name}()"
                )
            )
        else:
            conn.execute(
                text(
                    f'CREATE TRIGGER {name} BEFORE INSERT ON "{table}" '
                    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
                )
            )
    try:
        yield
    finally:
        db.session.commit()  # end the test's own transaction: PostgreSQL's DROP waits on it
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f'DROP TRIGGER IF EXISTS {name} ON "{table}"'))
                conn.execute(text(f"DROP FUNCTION IF EXISTS {name}()"))
            else:
                conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
