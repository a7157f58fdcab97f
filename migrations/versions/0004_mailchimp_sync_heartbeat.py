"""mailchimp_sync.heartbeat_at: a sync whose worker died can be told apart and resumed

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 23:50:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("mailchimp_sync") as batch_op:
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("mailchimp_sync") as batch_op:
        batch_op.drop_column("heartbeat_at")
