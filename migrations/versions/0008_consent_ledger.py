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

    # Carry each customer's state over to their current address, opt-outs first so that an
    # address two customers share keeps an opt-out (set-based: no rows through Python).
    for channel, column in CHANNEL_COLUMNS.items():
        address = f"LOWER(TRIM(c.{column}))" if channel == "email" else f"TRIM(c.{column})"
        for status in ("opted_out", "opted_in"):
            op.execute(
                sa.text(
                    f"INSERT INTO consent (channel, address, status, source, customer_id,"
                    f" changed_at) SELECT '{channel}', {address}, '{status}',"
                    f" MIN(COALESCE(p.{channel}_source, 'migrated')), MIN(p.customer_id),"
                    f" COALESCE(MAX(p.{channel}_changed_at), CURRENT_TIMESTAMP)"
                    f" FROM communication_preference p JOIN customer c ON c.id = p.customer_id"
                    f" WHERE p.{channel}_status = '{status}' AND c.{column} IS NOT NULL"
                    f" AND NOT EXISTS (SELECT 1 FROM consent k WHERE k.channel = '{channel}'"
                    f" AND k.address = {address}) GROUP BY {address}"
                )
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
