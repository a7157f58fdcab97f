"""order: (order_date, customer_id) replaces the order_date index

Smart-list criteria read "the customers with an order since D" once, as an uncorrelated
subquery (issue 21: a correlated one per customer took 81 s for ``ordered_product``).
With the order_date index alone, SQLite then fetched each recent order's row for its
customer_id: ``no_order_in_days`` 90 on 200,000 customers / 2,000,000 orders took 2.9 s;
with this covering index 0.21 s. It answers everything the order_date index did.

Revision ID: 0012
Revises: 0007
Create Date: 2026-12-05 07:45:00

"""

from alembic import op

revision = "0012"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_order_date_customer", "order", ["order_date", "customer_id"], unique=False)
    op.drop_index("ix_order_order_date", table_name="order")


def downgrade():
    op.create_index("ix_order_order_date", "order", ["order_date"], unique=False)
    op.drop_index("ix_order_date_customer", table_name="order")
