"""mailchimp_import: an audience import into a CRM list, run as a job with progress

Revision ID: 0015
Revises: 0007
Create Date: 2026-12-05 06:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "mailchimp_import",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("audience_id", sa.String(length=40), nullable=False),
        sa.Column("audience_name", sa.String(length=200), nullable=True),
        sa.Column("list_ref", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("progress_done", sa.Integer(), nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("unmatched", sa.Integer(), nullable=False),
        sa.Column("unmatched_sample", sa.JSON(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("public_id", sa.String(length=24), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user.id"], name=op.f("fk_mailchimp_import_created_by_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailchimp_import")),
        sa.UniqueConstraint("public_id", name=op.f("uq_mailchimp_import_public_id")),
    )


def downgrade():
    op.drop_table("mailchimp_import")
