"""Flows: versions, runs, step executions; messages remember the flow run that sent them

Revision ID: 0034
Revises: 0036
Create Date: 2026-12-05 13:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0036"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade():
    op.create_table(
        "flow",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("public_id", sa.String(length=24), nullable=False, unique=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("trigger_type", sa.String(length=20), nullable=False),
        sa.Column("trigger_config", sa.JSON(), nullable=False),
        sa.Column("reentry", sa.String(length=8), nullable=False),
        sa.Column("reentry_days", sa.Integer()),
        sa.Column("exit_on_order", sa.Boolean(), nullable=False),
        sa.Column("exit_on_reply", sa.Boolean(), nullable=False),
        sa.Column("exit_on_opt_out", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("user.id", ondelete="SET NULL")),
        _when("activated_at"),
        _when("created_at", False),
        _when("updated_at", False),
    )
    op.create_index("ix_flow_status", "flow", ["status"])
    op.create_index("ix_flow_trigger_type", "flow", ["trigger_type"])
    op.create_table(
        "flow_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "flow_id", sa.Integer(), sa.ForeignKey("flow.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        _when("created_at", False),
        sa.UniqueConstraint("flow_id", "number", name="uq_flow_version_number"),
    )
    op.create_table(
        "flow_run",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("public_id", sa.String(length=24), nullable=False, unique=True),
        sa.Column(
            "flow_id", sa.Integer(), sa.ForeignKey("flow.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "customer_id",
            sa.Integer(),
            sa.ForeignKey("customer.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("entry_no", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("current_step", sa.String(length=40)),
        _when("next_at"),
        _when("entered_at", False),
        _when("finished_at"),
        sa.Column("exit_reason", sa.String(length=40)),
        sa.UniqueConstraint("flow_id", "customer_id", "entry_no", name="uq_flow_run_entry"),
    )
    op.create_index("ix_flow_run_customer_state", "flow_run", ["customer_id", "state"])
    op.create_index("ix_flow_run_state_next", "flow_run", ["state", "next_at"])
    op.create_index("ix_flow_run_flow_state", "flow_run", ["flow_id", "state"])
    op.create_table(
        "flow_step_execution",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "run_id", sa.Integer(), sa.ForeignKey("flow_run.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("step_key", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("detail", sa.String(length=300)),
        sa.Column("channel", sa.String(length=16)),
        sa.Column("message_id", sa.Integer()),
        _when("created_at", False),
        sa.UniqueConstraint("run_id", "step_key", name="uq_flow_step_execution"),
    )
    for table in ("email_message", "sms_message"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("flow_run_id", sa.Integer()))
            batch.create_index(f"ix_{table}_customer_flow_run", ["customer_id", "flow_run_id"])


def downgrade():
    for table in ("email_message", "sms_message"):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_customer_flow_run")
            batch.drop_column("flow_run_id")
    op.drop_table("flow_step_execution")
    op.drop_table("flow_run")
    op.drop_table("flow_version")
    op.drop_table("flow")
