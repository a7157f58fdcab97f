"""Models and migrations agree: autogenerate against the migrated schema finds nothing."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.extensions import db


def test_models_and_migrations_agree(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "render_as_batch": True}
        )
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_migration_head_is_applied(app):
    """Every head is applied: the core's one and one per channel branch (its own folder)."""
    from alembic.script import ScriptDirectory

    with db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_heads()
    migrate = app.extensions["migrate"]
    script = ScriptDirectory.from_config(migrate.migrate.get_config(migrate.directory))
    heads = script.get_heads()
    assert set(current) == set(heads)
    core = [h for h in heads if not script.get_revision(h).branch_labels]
    branches = [label for h in heads for label in script.get_revision(h).branch_labels]
    assert len(core) == 1, f"the core has several heads: {core}"
    assert len(branches) == len(set(branches)) == len(heads) - 1


def test_consent_ledger_migration_carries_states_to_addresses(tmp_path):
    """0008 moves each customer's consent onto their address; an opt-out wins a tie."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app import create_app
    from tests.conftest import app_settings

    app = create_app(app_settings("sqlite:///" + str(tmp_path / "m.sqlite")))
    with app.app_context():
        upgrade(revision="0007")
        with db.engine.begin() as conn:
            for cid, email, phone, email_status, sms_status in (
                (1, "Ann@Shop.example", "+12125550001", "opted_out", "opted_in"),
                (2, "ann@shop.example", "+12125550002", "opted_in", "unknown"),
                (3, None, "+12125550003", "unknown", "opted_out"),
            ):
                conn.execute(
                    text(
                        "INSERT INTO customer (id, public_id, name, email, phone, account_type,"
                        " account_priority, custom_fields, lifetime_revenue, created_at,"
                        " updated_at) VALUES (:id, :pid, 'c', :email, :phone, 'ACTIVE', 'HIGH',"
                        " '{}', 0, '2026-01-01', '2026-01-01')"
                    ),
                    {"id": cid, "pid": f"cus_{cid}", "email": email, "phone": phone},
                )
                conn.execute(
                    text(
                        "INSERT INTO communication_preference (customer_id, email_status,"
                        " email_source, sms_status, sms_source, created_at, updated_at) VALUES"
                        " (:id, :e, 'x', :s, 'y', '2026-01-01', '2026-01-01')"
                    ),
                    {"id": cid, "e": email_status, "s": sms_status},
                )
        upgrade(revision="0008")
        with db.engine.connect() as conn:
            rows = set(conn.execute(text("SELECT channel, address, status FROM consent")))
        db.engine.dispose()
    assert rows == {
        ("email", "ann@shop.example", "opted_out"),
        ("sms", "+12125550001", "opted_in"),
        ("sms", "+12125550003", "opted_out"),
    }
