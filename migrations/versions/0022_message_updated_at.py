"""Email and SMS messages gain ``updated_at``, so the host CRM can pull what changed

Read-back (issue 23, item 5) pages messages by the time they last changed (status,
opens, clicks) and their id. The column is set by the database on insert and by every
update through SQLAlchemy; existing rows take their ``created_at``.

Revision ID: 0022
Revises: 0016
Create Date: 2026-12-05 07:50:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

TABLES = ("email_message", "sms_message")


def upgrade():
    # As in 0016: SQLite cannot ALTER in a non-constant default, so add the column bare,
    # copy created_at into it, then let batch mode rebuild the table with the default.
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        op.execute(f"UPDATE {table} SET updated_at = created_at")
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(
                "updated_at",
                existing_type=sa.DateTime(timezone=True),
                server_default=sa.func.current_timestamp(),
                nullable=False,
            )
            batch_op.create_index(f"ix_{table}_updated_id", ["updated_at", "id"], unique=False)


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_index(f"ix_{table}_updated_id")
            batch_op.drop_column("updated_at")
