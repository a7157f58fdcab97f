"""The 365-day dashboard reads indexes instead of rows

The 365-day marketing dashboard took 9 s on SQLite at 1M messages a year (250k credited
orders over two years):

* the email figures grouped a year of messages by UTC day, which SQLite does by sorting
  every row (a temporary B-tree of a million rows), each row read from the table through
  the (sent_at) index. SQLite gets an index keyed by the day the figures group on that
  holds every column they count, so the GROUP BY reads it in order and never visits the
  table (blueprints/email/dashboard.py); rows not yet sent (queued outbox rows) get no
  entry. PostgreSQL gets none: it hashes the same GROUP BY (statistics from 0046).
* revenue by week read each credited order's total from the table; the (role, date)
  index of order touches now carries the total and the customer (a territory), on both.

Revision ID: 0049
Revises: 0047
Create Date: 2026-12-05 22:00:00

"""

from alembic import op

revision = "0049"
down_revision = "0047"
branch_labels = None
depends_on = None

#: as blueprints/email/models.py has them when this runs
EMAIL_COLUMNS = (
    "consumer_mailbox", "sent_at", "customer_id", "delivered_at", "first_human_open_at",
    "first_human_click_at", "open_count", "human_open_count", "click_count",
    "human_click_count", "bounced_at", "complained_at",
)  # fmt: skip


def upgrade():
    op.drop_index("ix_order_touch_role_date", table_name="order_touch")
    op.create_index(
        "ix_order_touch_role_date_total",
        "order_touch",
        ["role", "order_date", "total", "customer_id"],
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE INDEX ix_email_message_sent_day_figures ON email_message"
            f" (date(sent_at), {', '.join(EMAIL_COLUMNS)}) WHERE sent_at IS NOT NULL"
        )


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP INDEX ix_email_message_sent_day_figures")
    op.drop_index("ix_order_touch_role_date_total", table_name="order_touch")
    op.create_index("ix_order_touch_role_date", "order_touch", ["role", "order_date"])
