"""Opens and clicks labelled human or machine

Each email event says whether a person or a machine (Apple's proxy, a security
gateway's scanner) made it, and why (app/messaging/machine_signals.py); each message
keeps its human opens and clicks apart, for stats, scores and attribution. Events
recorded before this revision carry no request data: they stay counted as human.

Revision ID: 0030
Revises: 0020
Create Date: 2026-12-05 10:05:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("email_event") as batch_op:
        batch_op.add_column(
            sa.Column("machine", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("machine_reason", sa.String(length=24), nullable=True))
    with op.batch_alter_table("email_message") as batch_op:
        for name in ("human_open_count", "human_click_count"):
            batch_op.add_column(
                sa.Column(name, sa.Integer(), nullable=False, server_default=sa.text("0"))
            )
        batch_op.add_column(sa.Column("first_human_open_at", sa.DateTime(timezone=True)))
        batch_op.add_column(sa.Column("first_human_click_at", sa.DateTime(timezone=True)))
    op.execute(
        "UPDATE email_message SET human_open_count = open_count, "
        "human_click_count = click_count, first_human_open_at = first_opened_at, "
        "first_human_click_at = first_clicked_at "
        "WHERE open_count > 0 OR click_count > 0"
    )


def downgrade():
    with op.batch_alter_table("email_message") as batch_op:
        for name in (
            "first_human_click_at",
            "first_human_open_at",
            "human_click_count",
            "human_open_count",
        ):
            batch_op.drop_column(name)
    with op.batch_alter_table("email_event") as batch_op:
        batch_op.drop_column("machine_reason")
        batch_op.drop_column("machine")
