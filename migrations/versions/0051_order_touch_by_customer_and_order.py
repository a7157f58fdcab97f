"""order_touch finds an order's rows by its customer

An order's rows were found by an (order) index, a customer's by a (customer) one; one
(customer, order) index now serves both (the order's JSON knows its customer). Each row
attribution writes lands in one index fewer: order ids of a customer are scattered over
the table, so that index cost a page written per row (SQLite's first credit of 1,000
customers: 62 ms, 50 ms without it). Orders are never deleted by the app; a manual
delete of one still cascades, by a scan of order_touch.

Revision ID: 0051
Revises: 0050
Create Date: 2026-12-06 01:30:00

"""

from alembic import op

revision = "0051"
down_revision = "0050"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_order_touch_customer_order", "order_touch", ["customer_id", "order_id"])
    op.drop_index("ix_order_touch_customer", table_name="order_touch")
    op.drop_index("ix_order_touch_order", table_name="order_touch")


def downgrade():
    op.create_index("ix_order_touch_order", "order_touch", ["order_id"])
    op.create_index("ix_order_touch_customer", "order_touch", ["customer_id"])
    op.drop_index("ix_order_touch_customer_order", table_name="order_touch")
