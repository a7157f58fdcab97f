"""email_message and activity public ids up to 32 characters

Campaign messages get ids ordered within their campaign (time, row number, then 56
random bits), so the rows of a batch sit together in the public-id indexes instead of on
one random page each (docs/decisions.md, 53).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 01:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("email_message", "activity")


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(
                "public_id", existing_type=sa.String(24), type_=sa.String(32), existing_nullable=False
            )


def downgrade():
    # Ids longer than 24 characters would not fit back: refuse rather than cut them.
    bind = op.get_bind()
    for table in TABLES:
        longest = bind.execute(sa.text(f"SELECT max(length(public_id)) FROM {table}")).scalar()
        if longest and longest > 24:
            raise RuntimeError(f"{table} holds public ids longer than 24 characters")
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(
                "public_id", existing_type=sa.String(32), type_=sa.String(24), existing_nullable=False
            )
