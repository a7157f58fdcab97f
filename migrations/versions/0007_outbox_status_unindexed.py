"""status loses its own index on both outbox tables

Every query on an outbox table's status also names the campaign (``campaign_id = X``, or
``IS NULL`` for single sends), which ``ix_<table>_campaign_status`` (campaign_id, status)
answers; the status index was only written to, twice a message: at the claim
(queued -> sending) and when the batch is recorded (sending -> sent). Raw SQLite claim
plus sent mark of 30,000 rows: 9.5 -> 7.8 us a message (docs/decisions.md, 66).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 14:10:00

"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = ("email_message", "sms_message")


def upgrade():
    for table in TABLES:  # a plain DROP INDEX on both dialects: no table copy
        op.drop_index(f"ix_{table}_status", table_name=table)


def downgrade():
    for table in TABLES:
        op.create_index(f"ix_{table}_status", table, ["status"], unique=False)
