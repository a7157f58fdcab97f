"""A rep's tasks, snoozes and done marks on the accounts of their day

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-05 10:50:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "rep_follow_up",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("public_id", sa.String(length=24), nullable=False, unique=True),
        sa.Column("rep_id", sa.Integer(), sa.ForeignKey("user.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "customer_id", sa.Integer(), sa.ForeignKey("customer.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("title", sa.String(length=200)),
        sa.Column("due_on", sa.Date()),
        sa.Column("until", sa.Date()),
        sa.Column("done_on", sa.Date()),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("user.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_rep_follow_up_rep_customer", "rep_follow_up", ["rep_id", "customer_id"])


def downgrade():
    op.drop_table("rep_follow_up")
