"""Engagement score per contact address: one row per (customer, channel, address)

Revision ID: 0044
Revises: 0034
Create Date: 2026-12-05 16:10:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0044"
down_revision = "0041"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "contact_engagement",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "customer_id",
            sa.Integer(),
            sa.ForeignKey("customer.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("last_engaged_at", sa.DateTime(timezone=True)),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "customer_id", "channel", "address", name="uq_contact_engagement_address"
        ),
    )


def downgrade():
    op.drop_table("contact_engagement")
