"""Consent ledger per (address, channel).

Consent moves off the per-channel columns of communication_preference into a `consent`
table keyed by (channel, address); the history (consent_change) gains the evidence of
each entry. Existing states are carried over to the customer's current address; where
two customers share an address, an opt-out wins.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

CHANNEL_COLUMNS = {"email": "email", "sms": "phone"}


def upgrade():
    op.create_table(
        "consent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("method", sa.String(length=40), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("obtained_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_consent_customer_id_customer"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent")),
        sa.UniqueConstraint("channel", "address", name=op.f("uq_consent_channel")),
    )
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_customer_id"), ["customer_id"])

    conn = op.get_bind()
    heads: dict[tuple[str, str], tuple] = {}
    for channel, column in CHANNEL_COLUMNS.items():
        rows = conn.execute(
            sa.text(
                f"SELECT p.customer_id, c.{column}, p.{channel}_status, p.{channel}_source, "
                f"p.{channel}_changed_at FROM communication_preference p "
                f"JOIN customer c ON c.id = p.customer_id "
                f"WHERE p.{channel}_status IN ('opted_in', 'opted_out') AND c.{column} IS NOT NULL"
            )
        ).all()
        for customer_id, address, status, source, changed_at in rows:
            key = (channel, address.strip().lower() if channel == "email" else address.strip())
            if key in heads and heads[key][1] == "opted_out":
                continue
            heads[key] = (customer_id, status, source or "migrated", changed_at)
    if heads:
        consent = sa.table(
            "consent",
            sa.column("channel"),
            sa.column("address"),
            sa.column("status"),
            sa.column("source"),
            sa.column("customer_id"),
            sa.column("changed_at", sa.DateTime(timezone=True)),
        )
        op.bulk_insert(
            consent,
            [
                {
                    "channel": channel,
                    "address": address,
                    "status": status,
                    "source": source,
                    "customer_id": customer_id,
                    "changed_at": changed_at or sa.func.now(),
                }
                for (channel, address), (customer_id, status, source, changed_at) in heads.items()
            ],
        )

    with op.batch_alter_table("communication_preference", schema=None) as batch_op:
        for channel in CHANNEL_COLUMNS:
            batch_op.drop_column(f"{channel}_status")
            batch_op.drop_column(f"{channel}_source")
            batch_op.drop_column(f"{channel}_changed_at")

    with op.batch_alter_table("consent_change", schema=None) as batch_op:
        batch_op.alter_column("channel", type_=sa.String(length=16))
        batch_op.add_column(sa.Column("method", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("wording", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("evidence", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("recorded_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("obtained_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("effective", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_consent_change_recorded_by_id_user"), "user", ["recorded_by_id"], ["id"]
        )

    with op.batch_alter_table("suppression", schema=None) as batch_op:
        batch_op.alter_column("channel", type_=sa.String(length=16))


def downgrade():
    with op.batch_alter_table("suppression", schema=None) as batch_op:
        batch_op.alter_column("channel", type_=sa.String(length=8))
    with op.batch_alter_table("consent_change", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_consent_change_recorded_by_id_user"), type_="foreignkey"
        )
        for column in ("effective", "obtained_at", "recorded_by_id", "evidence", "wording"):
            batch_op.drop_column(column)
        batch_op.drop_column("method")
        batch_op.alter_column("channel", type_=sa.String(length=8))
    with op.batch_alter_table("communication_preference", schema=None) as batch_op:
        for channel in CHANNEL_COLUMNS:
            batch_op.add_column(
                sa.Column(
                    f"{channel}_status",
                    sa.String(length=12),
                    nullable=False,
                    server_default="unknown",
                )
            )
            batch_op.add_column(sa.Column(f"{channel}_source", sa.String(length=40)))
            batch_op.add_column(sa.Column(f"{channel}_changed_at", sa.DateTime(timezone=True)))
    op.drop_table("consent")
