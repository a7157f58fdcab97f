"""Campaign messages get their consumer-mailbox flag

A campaign's rows are written by one INSERT ... SELECT, where the flag's column default
(a Python function of the address) does not run, so every campaign message since 0041
was stored as a business domain and the dashboard's split by domain kind counted them
there. The campaign path now writes the flag in SQL; this fills it for the rows written
before.

Revision ID: 0047
Revises: 0046
Create Date: 2026-12-05 20:20:00

"""

from alembic import op

revision = "0047"
down_revision = "0046"
branch_labels = None
depends_on = None

#: as blueprints/email/domains.py has it when this runs
CONSUMER_DOMAINS = (
    "gmail.com", "googlemail.com", "yahoo.com", "ymail.com", "outlook.com", "hotmail.com",
    "live.com", "msn.com", "icloud.com", "me.com", "mac.com", "aol.com", "proton.me",
    "protonmail.com", "gmx.com", "gmx.de", "web.de", "orange.fr", "free.fr", "comcast.net",
)  # fmt: skip


def upgrade():
    consumer = " OR ".join(f"lower(to_address) LIKE '%@{domain}'" for domain in CONSUMER_DOMAINS)
    op.execute(
        "UPDATE email_message SET consumer_mailbox = true"
        f" WHERE campaign_id IS NOT NULL AND consumer_mailbox = false AND ({consumer})"
    )


def downgrade():
    pass  # the flag is right either way round; nothing to undo
