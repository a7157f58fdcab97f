"""A/B tests on a campaign: its settings, when and what was decided, each row's variant

Revision ID: 0036
Revises: 0039
Create Date: 2026-12-05 12:45:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0039"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ab_test", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("ab_decide_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("ab_decision", sa.JSON(), nullable=True))
    with op.batch_alter_table("email_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("variant", sa.SmallInteger(), nullable=True))


def downgrade():
    with op.batch_alter_table("email_message", schema=None) as batch_op:
        batch_op.drop_column("variant")
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.drop_column("ab_decision")
        batch_op.drop_column("ab_decide_at")
        batch_op.drop_column("ab_test")
