"""user.session_generation and api_token.expires_at: sessions and tokens can be ended

A signed-in browser carries the user's session generation in its Flask-Login id; the
number is bumped at logout and at deactivation, so every cookie issued before (a copied
session or remember-me cookie included) stops matching at once. Tokens may expire.

Revision ID: 0011
Revises: 0007
Create Date: 2026-12-05 06:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("session_generation")
