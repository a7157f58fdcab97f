"""Order attribution: the human touches an order is credited to

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-05 10:20:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "order_touch",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "order_id", sa.Integer(), sa.ForeignKey("order.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "customer_id",
            sa.Integer(),
            sa.ForeignKey("customer.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "campaign_id",
            sa.Integer(),
            sa.ForeignKey("campaign.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("message_ref", sa.String(length=40), nullable=False),
        sa.Column("touched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
    )
    op.create_index("ix_order_touch_campaign_role", "order_touch", ["campaign_id", "role"])
    op.create_index("ix_order_touch_order", "order_touch", ["order_id"])
    op.create_index("ix_order_touch_customer", "order_touch", ["customer_id"])


def downgrade():
    op.drop_table("order_touch")
