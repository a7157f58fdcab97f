"""Conversations are assigned to a rep; email topics (lists tie to one, addresses leave
one); the brand customers see on public pages

Issue 25, items 5 and 6. ``sms_conversation.assigned_to_id`` starts as the customer's
rep for existing threads. ``topic_opt_out`` is per address, like consent.

Revision ID: 0029
Revises: 0023
Create Date: 2026-12-05 09:45:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("sms_conversation") as batch_op:
        batch_op.add_column(sa.Column("assigned_to_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_sms_conversation_assigned_to_id", ["assigned_to_id"])
        batch_op.create_foreign_key(
            "fk_sms_conversation_assigned_to_id_user",
            "user",
            ["assigned_to_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.execute(
        "UPDATE sms_conversation SET assigned_to_id = (SELECT customer.rep_id FROM customer"
        " WHERE customer.id = sms_conversation.customer_id)"
        " WHERE customer_id IS NOT NULL"
    )
    op.create_table(
        "topic",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("public_id"),
    )
    op.create_table(
        "topic_opt_out",
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["topic_id"], ["topic.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("topic_id", "address"),
    )
    with op.batch_alter_table("email_list") as batch_op:
        batch_op.add_column(sa.Column("topic_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_email_list_topic_id", ["topic_id"])
        batch_op.create_foreign_key(
            "fk_email_list_topic_id_topic", "topic", ["topic_id"], ["id"], ondelete="SET NULL"
        )
    op.create_table(
        "brand",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_name", sa.String(length=200), nullable=False),
        sa.Column("logo_url", sa.String(length=2000), nullable=True),
        sa.Column("primary_color", sa.String(length=7), nullable=False),
        sa.Column("accent_color", sa.String(length=7), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade():
    op.drop_table("brand")
    with op.batch_alter_table("email_list") as batch_op:
        batch_op.drop_constraint("fk_email_list_topic_id_topic", type_="foreignkey")
        batch_op.drop_index("ix_email_list_topic_id")
        batch_op.drop_column("topic_id")
    op.drop_table("topic_opt_out")
    op.drop_table("topic")
    with op.batch_alter_table("sms_conversation") as batch_op:
        batch_op.drop_constraint("fk_sms_conversation_assigned_to_id_user", type_="foreignkey")
        batch_op.drop_index("ix_sms_conversation_assigned_to_id")
        batch_op.drop_column("assigned_to_id")
