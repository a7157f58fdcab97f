"""scheduled_job keeps the outcome of every inline job: an error column, longer ids

Without Redis, ``GET /api/jobs/<id>`` answered only from the memory of the process that
ran the job: a finished job was unknown to any other process and after a restart. Inline
jobs now leave their row (finished or failed, with the error) for a day; job ids such as
``mailchimp-sync-<id>-<hex>`` are longer than 36 characters.

Revision ID: 0013
Revises: 0007
Create Date: 2026-12-05 07:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("scheduled_job", schema=None) as batch_op:
        batch_op.alter_column("id", existing_type=sa.String(length=36), type_=sa.String(length=64))
        batch_op.add_column(sa.Column("error", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("scheduled_job", schema=None) as batch_op:
        batch_op.drop_column("error")
        batch_op.alter_column("id", existing_type=sa.String(length=64), type_=sa.String(length=36))
