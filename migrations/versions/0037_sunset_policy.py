"""Sunset policy: when a customer went sunset, a campaign's opt-in and count, a list's override

Revision ID: 0037
Revises: 0025
Create Date: 2026-12-05 12:50:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0037"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("customer") as batch_op:
        batch_op.add_column(sa.Column("sunset_at", sa.DateTime(timezone=True)))
    with op.batch_alter_table("campaign") as batch_op:
        batch_op.add_column(
            sa.Column("include_sunset", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("sunset_skipped", sa.Integer()))
    with op.batch_alter_table("email_list") as batch_op:
        batch_op.add_column(
            sa.Column(
                "sunset_policy", sa.String(length=10), nullable=False, server_default="default"
            )
        )
        batch_op.add_column(sa.Column("sunset_min_emails", sa.Integer()))
        batch_op.add_column(sa.Column("sunset_days", sa.Integer()))


def downgrade():
    with op.batch_alter_table("email_list") as batch_op:
        for name in ("sunset_days", "sunset_min_emails", "sunset_policy"):
            batch_op.drop_column(name)
    with op.batch_alter_table("campaign") as batch_op:
        batch_op.drop_column("sunset_skipped")
        batch_op.drop_column("include_sunset")
    with op.batch_alter_table("customer") as batch_op:
        batch_op.drop_column("sunset_at")
