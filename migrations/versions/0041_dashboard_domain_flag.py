"""The dashboard reads stored flags, not strings: consumer mailboxes, gateway events

``email_message.consumer_mailbox`` says whether the address is at a free mailbox provider
(blueprints/email/domains.py), decided when the message is written and filled here for
the messages already sent: the dashboard's split by domain kind tested every address of
the period against twenty ``LIKE`` patterns (seconds for a year of a large book). A
partial index holds the few machine events, so the messages behind a security gateway
are found without reading every event. Campaign revenue groups a campaign's order touches
by order: an index on (campaign, order, role) gives them sorted, read from the index alone.

Revision ID: 0041
Revises: 0034
Create Date: 2026-12-05 16:10:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0041"
down_revision = "0034"
branch_labels = None
depends_on = None

#: as blueprints/email/domains.py had it when this ran
CONSUMER_DOMAINS = (
    "gmail.com", "googlemail.com", "yahoo.com", "ymail.com", "outlook.com", "hotmail.com",
    "live.com", "msn.com", "icloud.com", "me.com", "mac.com", "aol.com", "proton.me",
    "protonmail.com", "gmx.com", "gmx.de", "web.de", "orange.fr", "free.fr", "comcast.net",
)  # fmt: skip


def upgrade():
    op.add_column(
        "email_message",
        sa.Column("consumer_mailbox", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    consumer = " OR ".join(f"lower(to_address) LIKE '%@{domain}'" for domain in CONSUMER_DOMAINS)
    op.execute(f"UPDATE email_message SET consumer_mailbox = true WHERE {consumer}")
    op.create_index(
        "ix_email_event_machine_message",
        "email_event",
        ["message_id", "machine_reason"],
        postgresql_where=sa.text("machine IS true"),
        sqlite_where=sa.text("machine IS 1"),
    )

    op.create_index(
        "ix_order_touch_campaign_order_role",
        "order_touch",
        ["campaign_id", "order_id", "role"],
    )


def downgrade():
    op.drop_index("ix_order_touch_campaign_order_role", table_name="order_touch")
    op.drop_index("ix_email_event_machine_message", table_name="email_event")
    with op.batch_alter_table("email_message") as batch_op:
        batch_op.drop_column("consumer_mailbox")
