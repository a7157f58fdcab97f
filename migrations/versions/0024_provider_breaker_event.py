"""Email provider failover: a log of each provider's circuit breaker opening and closing

Issue 22, item 5. Which provider sent a message is already in ``email_message.provider``;
this table records when a provider's breaker opened, half-opened (a trial call) and
closed, for the campaign page and API.

Revision ID: 0024
Revises: 0033
Create Date: 2026-12-05 10:05:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "provider_breaker_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_breaker_event")),
    )
    with op.batch_alter_table("provider_breaker_event") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provider_breaker_event_occurred_at"), ["occurred_at"], unique=False
        )


def downgrade():
    op.drop_table("provider_breaker_event")
