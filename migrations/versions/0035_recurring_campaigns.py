"""Recurring campaigns and their occurrences; a SKU's special price (featured wines)

Revision ID: 0035
Revises: 0037
Create Date: 2026-12-05 12:50:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0035"
down_revision = "0037"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "recurring_campaign",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("public_id", sa.String(length=24), nullable=False, unique=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("list_id", sa.String(length=40), nullable=False),
        sa.Column("template_id", sa.Integer(), sa.ForeignKey("template.id", ondelete="SET NULL")),
        sa.Column("subject", sa.String(length=300)),
        sa.Column("html", sa.Text()),
        sa.Column("body", sa.Text()),
        sa.Column("rule", sa.String(length=500), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("send_local_time", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("featured", sa.JSON()),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True)),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("user.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_recurring_campaign_status", "recurring_campaign", ["status"])
    op.create_index("ix_recurring_campaign_next_at", "recurring_campaign", ["next_at"])
    op.create_table(
        "recurring_occurrence",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("public_id", sa.String(length=24), nullable=False, unique=True),
        sa.Column(
            "recurring_id",
            sa.Integer(),
            sa.ForeignKey("recurring_campaign.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("occurs_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaign.id", ondelete="SET NULL")),
        sa.Column("subject", sa.String(length=300)),
        sa.Column("html", sa.Text()),
        sa.Column("body", sa.Text()),
        sa.Column("note", sa.String(length=500)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("recurring_id", "occurs_at"),
    )
    op.create_index("ix_recurring_occurrence_campaign_id", "recurring_occurrence", ["campaign_id"])
    with op.batch_alter_table("sku") as batch:
        batch.add_column(sa.Column("special_price", sa.Numeric(10, 2)))


def downgrade():
    with op.batch_alter_table("sku") as batch:
        batch.drop_column("special_price")
    op.drop_table("recurring_occurrence")
    op.drop_table("recurring_campaign")
