"""Implied opens are marked, so the real open takes their place

A click proves an open when none was seen yet; when the real open arrives after it (a
late pixel, a provider batch that lost the race), it replaces the implied one instead of
counting the same open twice (issue 26 item 7: 2,120 opens for 2,119 open events).
The marketing dashboard reads emails by the period they were sent in: sent_at indexed.

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-05 13:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0039"
down_revision = "0038"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        "email_event",
        sa.Column("implied", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_email_message_sent_at", "email_message", ["sent_at"])


def downgrade():
    op.drop_index("ix_email_message_sent_at", table_name="email_message")
    with op.batch_alter_table("email_event") as batch_op:
        batch_op.drop_column("implied")
