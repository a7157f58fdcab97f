"""Campaign lifecycle: a user's time zone and mobile number; a campaign's schedule zone
and "send in each recipient's time zone" (issue 25, item 1)

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-05 09:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user") as batch_op:
        batch_op.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("phone", sa.String(length=20), nullable=True))
    with op.batch_alter_table("campaign") as batch_op:
        batch_op.add_column(sa.Column("schedule_zone", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("send_local_time", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade():
    with op.batch_alter_table("campaign") as batch_op:
        batch_op.drop_column("send_local_time")
        batch_op.drop_column("schedule_zone")
    with op.batch_alter_table("user") as batch_op:
        batch_op.drop_column("phone")
        batch_op.drop_column("time_zone")
