"""claim_token loses its index on both outbox tables

A claim reads its rows back from its own UPDATE (RETURNING) and a batch is then written by
id range, so nothing looks rows up by token any more; the index only cost two writes per
message, one at the claim and one when the batch is recorded (docs/decisions.md, 62).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 05:10:00

"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = ("email_message", "sms_message")


def upgrade():
    for table in TABLES:  # a plain DROP INDEX on both dialects: no table copy
        op.drop_index(f"ix_{table}_claim_token", table_name=table)


def downgrade():
    for table in TABLES:
        op.create_index(f"ix_{table}_claim_token", table, ["claim_token"], unique=False)
