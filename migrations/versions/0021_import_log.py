"""Import log: every CRM import (page, API, CLI), with a page import's file and progress

Revision ID: 0021
Revises: 0016
Create Date: 2026-12-05 07:50:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "import_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=24), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("file_path", sa.String(length=500), nullable=True),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("date_format", sa.String(length=40), nullable=True),
        sa.Column("encoding", sa.String(length=16), nullable=True),
        sa.Column("rejects_bytes", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_import_run_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_run")),
        sa.UniqueConstraint("public_id", name=op.f("uq_import_run_public_id")),
    )
    with op.batch_alter_table("import_run") as batch_op:
        batch_op.create_index(batch_op.f("ix_import_run_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_import_run_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_import_run_created_at"), ["created_at"], unique=False)


def downgrade():
    op.drop_table("import_run")
