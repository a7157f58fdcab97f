"""The WhatsApp channel's tables: templates, conversations (the 24-hour window),
messages (its outbox) and which template a campaign sends.

The first revision of the channel's own branch (``whatsapp``), in the channel's own
version location; it needs the core's customer, campaign, activity and consent tables.

Revision ID: wa01
Revises:
Depends on: 0008
Create Date: 2026-12-05 07:35:56

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "wa01"
down_revision = None
branch_labels = ("whatsapp",)
depends_on = "0008"  # the core with the consent ledger


def upgrade():
    op.create_table(
        "whatsapp_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("content_sid", sa.String(length=34), nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("preview", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("public_id", sa.String(length=24), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user.id"], name=op.f("fk_whatsapp_template_created_by_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_template")),
        sa.UniqueConstraint("content_sid", name=op.f("uq_whatsapp_template_content_sid")),
        sa.UniqueConstraint("public_id", name=op.f("uq_whatsapp_template_public_id")),
    )
    op.create_table(
        "whatsapp_conversation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("profile_name", sa.String(length=200), nullable=True),
        sa.Column("last_inbound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_whatsapp_conversation_customer_id_customer"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_conversation")),
        sa.UniqueConstraint("phone", name=op.f("uq_whatsapp_conversation_phone")),
    )
    with op.batch_alter_table("whatsapp_conversation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_whatsapp_conversation_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "whatsapp_campaign",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
            name=op.f("fk_whatsapp_campaign_campaign_id_campaign"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["whatsapp_template.id"],
            name=op.f("fk_whatsapp_campaign_template_id_whatsapp_template"),
        ),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_whatsapp_campaign")),
    )
    op.create_table(
        "whatsapp_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("template_id", sa.Integer(), nullable=True),
        sa.Column("activity_id", sa.Integer(), nullable=True),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("to_address", sa.String(length=20), nullable=False),
        sa.Column("from_address", sa.String(length=40), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("content_sid", sa.String(length=34), nullable=True),
        sa.Column("content_variables", sa.JSON(), nullable=True),
        sa.Column("delivery_status", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("public_id", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_token", sa.String(length=36), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider", sa.String(length=16), nullable=True),
        sa.Column("provider_message_id", sa.String(length=120), nullable=True),
        sa.Column("error_code", sa.String(length=40), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activity.id"],
            name=op.f("fk_whatsapp_message_activity_id_activity"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
            name=op.f("fk_whatsapp_message_campaign_id_campaign"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["whatsapp_conversation.id"],
            name=op.f("fk_whatsapp_message_conversation_id_whatsapp_conversation"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_whatsapp_message_customer_id_customer"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["whatsapp_template.id"],
            name=op.f("fk_whatsapp_message_template_id_whatsapp_template"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_whatsapp_message_user_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_message")),
        sa.UniqueConstraint("public_id", name=op.f("uq_whatsapp_message_public_id")),
    )
    with op.batch_alter_table("whatsapp_message", schema=None) as batch_op:
        batch_op.create_index(
            "ix_whatsapp_message_campaign_status", ["campaign_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_whatsapp_message_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_whatsapp_message_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_whatsapp_message_provider_message_id"),
            ["provider_message_id"],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table("whatsapp_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_whatsapp_message_provider_message_id"))
        batch_op.drop_index(batch_op.f("ix_whatsapp_message_customer_id"))
        batch_op.drop_index(batch_op.f("ix_whatsapp_message_conversation_id"))
        batch_op.drop_index("ix_whatsapp_message_campaign_status")

    op.drop_table("whatsapp_message")
    op.drop_table("whatsapp_campaign")
    with op.batch_alter_table("whatsapp_conversation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_whatsapp_conversation_customer_id"))

    op.drop_table("whatsapp_conversation")
    op.drop_table("whatsapp_template")
