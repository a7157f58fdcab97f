"""Orders carry UTM data; campaigns may hold back a share of their audience (holdout)

Revision ID: 0038
Revises: 0035
Create Date: 2026-12-05 12:45:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0038"
down_revision = "0035"
branch_labels = None
depends_on = None

UTM_COLUMNS = ("utm_source", "utm_medium", "utm_campaign")


def upgrade():
    with op.batch_alter_table("order") as batch_op:
        for name in UTM_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.String(length=100), nullable=True))
    with op.batch_alter_table("campaign") as batch_op:
        batch_op.add_column(
            sa.Column("holdout_percent", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "campaign_holdout",
        sa.Column(
            "campaign_id",
            sa.Integer(),
            sa.ForeignKey("campaign.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "customer_id",
            sa.Integer(),
            sa.ForeignKey("customer.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_campaign_holdout_customer", "campaign_holdout", ["customer_id"])


def downgrade():
    op.drop_table("campaign_holdout")
    with op.batch_alter_table("campaign") as batch_op:
        batch_op.drop_column("holdout_percent")
    with op.batch_alter_table("order") as batch_op:
        for name in reversed(UTM_COLUMNS):
            batch_op.drop_column(name)
