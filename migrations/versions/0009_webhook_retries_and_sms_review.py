"""webhook events remember their state and attempts; inbound texts can await review

``webhook_event`` gains ``status`` (pending, done, failed), ``attempts`` and
``next_attempt_at``: an event is marked done in the transaction that applies it, and a
failed one is retried by the provider and by the sweep. Existing rows were all applied
(the old code recorded before applying), so they start as done. ``sms_message`` gains
``review``/``reviewed_by_id``/``reviewed_at`` for texts that mention an opt-out word.
``mailchimp_unlinked_member`` keeps members a Mailchimp admin deleted from an audience
(not an opt-out; the push sync just stops re-adding them there).

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-05 07:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        "webhook_event",
        sa.Column("status", sa.String(length=8), server_default="done", nullable=False),
    )
    op.add_column(
        "webhook_event",
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "webhook_event", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_webhook_event_status_next_attempt_at",
        "webhook_event",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_table(
        "mailchimp_unlinked_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("audience_id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("unlinked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailchimp_unlinked_member")),
        sa.UniqueConstraint(
            "audience_id", "email", name=op.f("uq_mailchimp_unlinked_member_audience_id")
        ),
    )
    with op.batch_alter_table("sms_message") as batch:
        batch.add_column(sa.Column("review", sa.String(length=12), nullable=True))
        batch.add_column(sa.Column("reviewed_by_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key(
            "fk_sms_message_reviewed_by_id_user",
            "user",
            ["reviewed_by_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade():
    op.drop_table("mailchimp_unlinked_member")
    with op.batch_alter_table("sms_message") as batch:
        batch.drop_constraint("fk_sms_message_reviewed_by_id_user", type_="foreignkey")
        batch.drop_column("reviewed_at")
        batch.drop_column("reviewed_by_id")
        batch.drop_column("review")
    op.drop_index("ix_webhook_event_status_next_attempt_at", table_name="webhook_event")
    op.drop_column("webhook_event", "next_attempt_at")
    op.drop_column("webhook_event", "attempts")
    op.drop_column("webhook_event", "status")
