"""CRM data bridge: external ids, archived customers, order counts, order rep and updated_at

Every CRM entity gets the source system's id (``external_id``, unique per entity) so
imports upsert by it; customers gain ``archived`` (kept, but out of every audience) and
``order_count``; orders gain their ``rep`` and an ``updated_at`` set by the database on
insert, so the host CRM can pull changes since a time (issue 23).

Revision ID: 0016
Revises: 0007
Create Date: 2026-12-05 06:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0011"
branch_labels = None
depends_on = None

EXTERNAL_ID_TABLES = ("territory", "user", "sku", "customer", "order")


def upgrade():
    for table in EXTERNAL_ID_TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("external_id", sa.String(length=64), nullable=True))
            batch_op.create_unique_constraint(f"uq_{table}_external_id", ["external_id"])
    with op.batch_alter_table("customer") as batch_op:
        batch_op.add_column(
            sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("order_count", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.create_index("ix_customer_updated_id", ["updated_at", "id"], unique=False)
    # A non-constant default cannot be added to an existing SQLite table by ALTER: add the
    # column bare, copy created_at into it, then let batch mode rebuild it with the default.
    with op.batch_alter_table("order") as batch_op:
        batch_op.add_column(sa.Column("rep_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(op.f("fk_order_rep_id_user"), "user", ["rep_id"], ["id"])
        batch_op.create_index(op.f("ix_order_rep_id"), ["rep_id"], unique=False)
    op.execute('UPDATE "order" SET updated_at = created_at')
    with op.batch_alter_table("order") as batch_op:
        batch_op.alter_column(
            "updated_at",
            existing_type=sa.DateTime(timezone=True),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        )
        batch_op.create_index("ix_order_updated_id", ["updated_at", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("order") as batch_op:
        batch_op.drop_index("ix_order_updated_id")
        batch_op.drop_index(op.f("ix_order_rep_id"))
        batch_op.drop_constraint(op.f("fk_order_rep_id_user"), type_="foreignkey")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("rep_id")
    with op.batch_alter_table("customer") as batch_op:
        batch_op.drop_index("ix_customer_updated_id")
        batch_op.drop_column("order_count")
        batch_op.drop_column("archived")
    for table in EXTERNAL_ID_TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(f"uq_{table}_external_id", type_="unique")
            batch_op.drop_column("external_id")
