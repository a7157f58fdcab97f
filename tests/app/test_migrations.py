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


def _customer_one(conn) -> None:
    """Customer 1, as the migrated schema of these tests takes it."""
    from sqlalchemy import text

    conn.execute(
        text(
            "INSERT INTO customer (id, public_id, name, account_type, account_priority,"
            " custom_fields, lifetime_revenue, created_at, updated_at) VALUES"
            " (1, 'cus_1', 'c', 'ACTIVE', 'HIGH', '{}', 0, '2026-01-01', '2026-01-01')"
        )
    )


def test_order_touches_get_their_orders_date_and_total(tmp_path):
    """0046 copies each order touch's order date and total onto it (revenue reports read
    the touches alone)."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app import create_app
    from tests.conftest import app_settings

    app = create_app(app_settings("sqlite:///" + str(tmp_path / "m.sqlite")))
    with app.app_context():
        upgrade(revision="0043")
        with db.engine.begin() as conn:
            _customer_one(conn)
            for oid, day, total in ((1, "2026-11-02", "120.50"), (2, "2026-11-09", "80.00")):
                conn.execute(
                    text(
                        'INSERT INTO "order" (id, public_id, customer_id, order_date, status,'
                        " total, created_at, updated_at) VALUES (:id, :pid, 1, :day,"
                        " 'delivered', :total, '2026-11-01', '2026-11-01')"
                    ),
                    {"id": oid, "pid": f"ord_{oid}", "day": day, "total": total},
                )
            for order_id, role in ((1, "attributed"), (2, "attributed"), (2, "influenced")):
                conn.execute(
                    text(
                        "INSERT INTO order_touch (order_id, customer_id, channel, kind,"
                        " message_ref, touched_at, role) VALUES (:o, 1, 'email', 'email_click',"
                        " 'eml_1', '2026-11-01 10:00:00.000000', :role)"
                    ),
                    {"o": order_id, "role": role},
                )
        upgrade(revision="0046")
        with db.engine.connect() as conn:
            rows = sorted(
                conn.execute(text("SELECT order_id, role, order_date, total FROM order_touch"))
            )
        db.engine.dispose()
    assert [(o, r, str(d), float(t)) for o, r, d, t in rows] == [
        (1, "attributed", "2026-11-02", 120.5),
        (2, "attributed", "2026-11-09", 80.0),
        (2, "influenced", "2026-11-09", 80.0),
    ]


def test_campaign_rows_written_before_0047_get_their_consumer_flag(tmp_path):
    """0047 sets the consumer-mailbox flag of campaign rows a Python default never ran for;
    single sends (the flag written by the ORM) are left as they are."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app import create_app
    from tests.conftest import app_settings

    app = create_app(app_settings("sqlite:///" + str(tmp_path / "m.sqlite")))
    with app.app_context():
        upgrade(revision="0046")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO campaign (id, public_id, channel, name, status, audience_type,"
                    " audience_ref, recipients_total, created_at, updated_at) VALUES (1,"
                    " 'cmp_1', 'email', 'c', 'sent', 'list', '-', 2, '2026-11-01', '2026-11-01')"
                )
            )
            for n, (campaign, address) in enumerate(
                ((1, "Ann@GMail.com"), (1, "bob@cellar.example"), (None, "cat@gmail.com"))
            ):
                conn.execute(
                    text(
                        "INSERT INTO email_message (public_id, campaign_id, to_address, status,"
                        " attempts, open_count, click_count, created_at)"
                        " VALUES (:pid, :campaign, :address, 'sent', 0, 0, 0, '2026-11-01')"
                    ),
                    {"pid": f"eml_{n}", "campaign": campaign, "address": address},
                )
        upgrade(revision="0047")
        with db.engine.connect() as conn:
            flags = dict(
                conn.execute(text("SELECT to_address, consumer_mailbox FROM email_message")).all()
            )
        db.engine.dispose()
    assert {a: bool(f) for a, f in flags.items()} == {
        "Ann@GMail.com": True,
        "bob@cellar.example": False,
        "cat@gmail.com": False,  # not a campaign row: its flag was written, left alone
    }


def test_order_touches_written_before_0052_get_their_week_and_go_back(tmp_path):
    """0052 fills each order touch's week (the Monday on or before its order's date) and
    comes back down to 0051 with the rows intact."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect, text

    from app import create_app
    from tests.conftest import app_settings

    app = create_app(app_settings("sqlite:///" + str(tmp_path / "m.sqlite")))
    with app.app_context():
        upgrade(revision="0051")
        with db.engine.begin() as conn:
            _customer_one(conn)
            # a Sunday, a Monday, a Saturday
            for oid, day in ((1, "2026-11-29"), (2, "2026-11-30"), (3, "2026-12-05")):
                conn.execute(
                    text(
                        'INSERT INTO "order" (id, public_id, customer_id, order_date, status,'
                        " total, created_at, updated_at) VALUES (:id, :pid, 1, :day,"
                        " 'delivered', 10, '2026-11-01', '2026-11-01')"
                    ),
                    {"id": oid, "pid": f"ord_{oid}", "day": day},
                )
                conn.execute(
                    text(
                        "INSERT INTO order_touch (order_id, customer_id, channel, kind,"
                        " message_ref, touched_at, role, order_date, total) VALUES (:o, 1,"
                        " 'email', 'email_click', 'eml_1', '2026-11-28 10:00:00.000000',"
                        " 'attributed', :day, 10)"
                    ),
                    {"o": oid, "day": day},
                )
        upgrade(revision="0052")
        with db.engine.connect() as conn:
            weeks = conn.execute(
                text("SELECT order_date, order_week FROM order_touch ORDER BY order_id")
            ).all()
        downgrade(revision="0051")
        columns = {c["name"] for c in inspect(db.engine).get_columns("order_touch")}
        with db.engine.connect() as conn:
            left = conn.execute(text("SELECT count(*) FROM order_touch")).scalar()
        db.engine.dispose()
    assert [(str(d), str(w)) for d, w in weeks] == [
        ("2026-11-29", "2026-11-23"),
        ("2026-11-30", "2026-11-30"),
        ("2026-12-05", "2026-11-30"),
    ]
    assert "order_week" not in columns and left == 3
