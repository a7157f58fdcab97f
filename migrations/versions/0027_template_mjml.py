"""Templates may be written in MJML: ``format`` (html | mjml) and the ``mjml_source``

An MJML template keeps its source (what the designer and the code view edit) next to the
HTML compiled from it on save (what is sent). Existing templates are HTML.

Revision ID: 0027
Revises: 0024
Create Date: 2026-12-05 09:50:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("template") as batch_op:
        batch_op.add_column(
            sa.Column("format", sa.String(length=8), nullable=False, server_default="html")
        )
        batch_op.add_column(sa.Column("mjml_source", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("template") as batch_op:
        batch_op.drop_column("mjml_source")
        batch_op.drop_column("format")
