"""Email click links stored when a message is prepared

A click on ``/email/t/c/<token>/<n>`` resolves against the stored list (a campaign's, or
one message's), no longer by rendering the campaign's template again, so editing it,
upgrading the CSS inliner or changing how links are numbered cannot renumber or break
links in mail already sent. Campaigns prepared before this revision have no stored
links: their clicks are resolved the old way (see blueprints/email/links.py).

Revision ID: 0023
Revises: 0028
Create Date: 2026-12-05 10:10:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "email_link",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaign.id", ondelete="CASCADE")),
        sa.Column(
            "message_id", sa.Integer(), sa.ForeignKey("email_message.id", ondelete="CASCADE")
        ),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.UniqueConstraint("campaign_id", "number", name="uq_email_link_campaign_number"),
        sa.UniqueConstraint("message_id", "number", name="uq_email_link_message_number"),
    )


def downgrade():
    op.drop_table("email_link")
