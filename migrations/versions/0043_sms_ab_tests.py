"""A/B tests on SMS campaigns: each text's variant, and when the customer replied to it

Revision ID: 0043
Revises: 0034
Create Date: 2026-12-05 16:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0043"
down_revision = "0044"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("sms_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("variant", sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("sms_message", schema=None) as batch_op:
        batch_op.drop_column("replied_at")
        batch_op.drop_column("variant")
