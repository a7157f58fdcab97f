"""Customers gain an engagement score and state (engaged, at risk, sunset)

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-05 10:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("customer") as batch_op:
        batch_op.add_column(
            sa.Column("engagement_score", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column(
                "engagement_state", sa.String(length=12), nullable=False, server_default="at_risk"
            )
        )
        batch_op.add_column(sa.Column("last_engaged_at", sa.DateTime(timezone=True)))
        batch_op.add_column(sa.Column("engagement_scored_at", sa.DateTime(timezone=True)))
        batch_op.create_index("ix_customer_engagement_score", ["engagement_score"])
        batch_op.create_index("ix_customer_engagement_state", ["engagement_state"])


def downgrade():
    with op.batch_alter_table("customer") as batch_op:
        batch_op.drop_index("ix_customer_engagement_state")
        batch_op.drop_index("ix_customer_engagement_score")
        for name in (
            "engagement_scored_at",
            "last_engaged_at",
            "engagement_state",
            "engagement_score",
        ):
            batch_op.drop_column(name)
