"""order_touch: indexes a chunk of customers writes together

Attribution writes a chunk of customers' rows at once, and their orders are scattered
over time and over the order ids. Two indexes took a page per row:

* (campaign, order, role, total) becomes (campaign, customer, order, role, total): a
  chunk's rows share pages within each campaign; a campaign's orders still come grouped,
  each under its customer.
* (role, date, total, customer) becomes (week, customer, date, total, order, campaign,
  role) of attributed rows alone: revenue over time reads nothing else (revenue reports
  seek their period there, and join its order and campaign); a chunk's rows share a page per week
  where by date they took a page each; an influenced row is no longer written there. The
  role comes last for SQLite, which checks the predicate on each row it reads and would
  otherwise read the table for it.

``order_week`` (the Monday of the order's week) is new, filled from ``order_date``.

Revision ID: 0052
Revises: 0051
Create Date: 2026-12-06 04:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0052"
down_revision = "0051"
branch_labels = None
depends_on = None

ATTRIBUTED_ONLY = sa.text("role = 'attributed'")
#: the Monday on or before order_date, per dialect
MONDAY = {
    "postgresql": "CAST(date_trunc('week', CAST(order_date AS timestamp)) AS date)",
    "sqlite": "date(order_date, '-6 days', 'weekday 1')",
}


def upgrade():
    op.drop_index("ix_order_touch_campaign_order_role_total", table_name="order_touch")
    op.drop_index("ix_order_touch_role_date_total", table_name="order_touch")
    op.add_column("order_touch", sa.Column("order_week", sa.Date(), nullable=True))
    op.execute(f"UPDATE order_touch SET order_week = {MONDAY[op.get_bind().dialect.name]}")
    with op.batch_alter_table("order_touch") as batch:
        batch.alter_column("order_week", existing_type=sa.Date(), nullable=False)
    op.create_index(
        "ix_order_touch_campaign_customer_order",
        "order_touch",
        ["campaign_id", "customer_id", "order_id", "role", "total"],
    )
    op.create_index(
        "ix_order_touch_attributed_week",
        "order_touch",
        ["order_week", "customer_id", "order_date", "total", "order_id", "campaign_id", "role"],
        postgresql_where=ATTRIBUTED_ONLY,
        sqlite_where=ATTRIBUTED_ONLY,
    )


def downgrade():
    op.drop_index("ix_order_touch_attributed_week", table_name="order_touch")
    op.drop_index("ix_order_touch_campaign_customer_order", table_name="order_touch")
    with op.batch_alter_table("order_touch") as batch:
        batch.drop_column("order_week")
    op.create_index(
        "ix_order_touch_role_date_total",
        "order_touch",
        ["role", "order_date", "total", "customer_id"],
    )
    op.create_index(
        "ix_order_touch_campaign_order_role_total",
        "order_touch",
        ["campaign_id", "order_id", "role", "total"],
    )
