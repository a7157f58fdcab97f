"""Revenue reports read the order touches alone; attribution finds UTM orders by index

``order_touch`` carries its order's date and total (copied when attribution rebuilds a
customer's rows, which it does whenever their orders change), so revenue over time and
per campaign sums these rows instead of joining every credited order (a hash join over
millions of orders for a year's dashboard); filled here for the rows already written. An
index on (role, order_date) gives a period's credited orders; the (campaign, order, role)
index gains the total, so campaign revenue is read from it alone. A partial index holds the
orders with UTM data, the few that may be credited by UTM first. On PostgreSQL, statistics
on the UTC day a message was sent tell the planner the dashboard's GROUP BY day has a few
hundred groups (hashed), not one per message (sorted on disk).

Revision ID: 0046
Revises: 0043
Create Date: 2026-12-05 19:10:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0046"
down_revision = "0043"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("order_touch", sa.Column("order_date", sa.Date(), nullable=True))
    op.add_column("order_touch", sa.Column("total", sa.Numeric(14, 2), nullable=True))
    op.execute(
        'UPDATE order_touch SET order_date = (SELECT o.order_date FROM "order" o'
        ' WHERE o.id = order_touch.order_id), total = (SELECT o.total FROM "order" o'
        " WHERE o.id = order_touch.order_id)"
    )
    with op.batch_alter_table("order_touch") as batch_op:
        batch_op.alter_column("order_date", existing_type=sa.Date(), nullable=False)
        batch_op.alter_column("total", existing_type=sa.Numeric(14, 2), nullable=False)
    op.create_index("ix_order_touch_role_date", "order_touch", ["role", "order_date"])
    op.drop_index("ix_order_touch_campaign_order_role", table_name="order_touch")
    op.create_index(
        "ix_order_touch_campaign_order_role_total",
        "order_touch",
        ["campaign_id", "order_id", "role", "total"],
    )
    op.create_index(
        "ix_order_utm_customer",
        "order",
        ["customer_id"],
        postgresql_where=sa.text("utm_campaign IS NOT NULL"),
        sqlite_where=sa.text("utm_campaign IS NOT NULL"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE STATISTICS st_email_message_sent_day"
            " ON (date(timezone('UTC', sent_at))) FROM email_message"
        )
        op.execute("ANALYZE email_message")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP STATISTICS IF EXISTS st_email_message_sent_day")
    op.drop_index("ix_order_utm_customer", table_name="order")
    op.drop_index("ix_order_touch_campaign_order_role_total", table_name="order_touch")
    op.create_index(
        "ix_order_touch_campaign_order_role", "order_touch", ["campaign_id", "order_id", "role"]
    )
    op.drop_index("ix_order_touch_role_date", table_name="order_touch")
    with op.batch_alter_table("order_touch") as batch_op:
        batch_op.drop_column("total")
        batch_op.drop_column("order_date")
