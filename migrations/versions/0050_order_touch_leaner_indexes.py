"""order_touch drops its (campaign, role) index

Every reader that names a campaign is served by the (campaign, order, role, total) index:
attributed revenue per campaign reads it alone (both databases chose it already), an A/B
test's revenue seeks the campaign there and filters the role in the index, and a deleted
campaign's rows are found by its first column. One index fewer is written for every
order-touch row attribution writes.

Revision ID: 0050
Revises: 0049
Create Date: 2026-12-05 22:00:00

"""

from alembic import op

revision = "0050"
down_revision = "0049"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_order_touch_campaign_role", table_name="order_touch")


def downgrade():
    op.create_index("ix_order_touch_campaign_role", "order_touch", ["campaign_id", "role"])
