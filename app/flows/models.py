"""Flows: a trigger and a list of steps, run once per customer per entry.

A flow's steps are frozen per version (:class:`FlowVersion`): editing an active flow
makes a new version for new entries while runs in progress finish on theirs. Each step a
run performs is a :class:`FlowStepExecution`, unique per (run, step key): the row is
inserted in the transaction that does the step's work, so a retried or duplicated job
finds it and does nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.ids import PublicIdMixin
from app.models_base import TimestampMixin, UTCDateTime, utcnow

FLOW_STATUSES = ("draft", "active", "paused")
RUN_STATES = ("running", "waiting", "done", "exited")
UNFINISHED = ("running", "waiting")


class Flow(PublicIdMixin, TimestampMixin, Model):
    __tablename__ = "flow"
    id_prefix = "flw"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(12), default="draft", index=True)
    trigger_type: Mapped[str] = mapped_column(String(20), index=True)
    trigger_config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: "never": once per customer; "after": again once ``reentry_days`` passed since entry
    reentry: Mapped[str] = mapped_column(String(8), default="never")
    reentry_days: Mapped[int | None] = mapped_column(Integer)
    exit_on_order: Mapped[bool] = mapped_column(Boolean, default=False)
    exit_on_reply: Mapped[bool] = mapped_column(Boolean, default=False)
    exit_on_opt_out: Mapped[bool] = mapped_column(Boolean, default=True)
    #: the version new entries start on
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class FlowVersion(Model):
    __tablename__ = "flow_version"
    __table_args__ = (UniqueConstraint("flow_id", "number", name="uq_flow_version_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_id: Mapped[int] = mapped_column(ForeignKey("flow.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FlowRun(PublicIdMixin, Model):
    """One customer's pass through one version of a flow."""

    __tablename__ = "flow_run"
    id_prefix = "frn"
    __table_args__ = (
        # two triggers racing to enter the same customer: one insert wins
        UniqueConstraint("flow_id", "customer_id", "entry_no", name="uq_flow_run_entry"),
        Index("ix_flow_run_customer_state", "customer_id", "state"),
        Index("ix_flow_run_state_next", "state", "next_at"),
        Index("ix_flow_run_flow_state", "flow_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_id: Mapped[int] = mapped_column(ForeignKey("flow.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    entry_no: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(10), default="running")
    current_step: Mapped[str | None] = mapped_column(String(40))
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    exit_reason: Mapped[str | None] = mapped_column(String(40))


class FlowStepExecution(Model):
    __tablename__ = "flow_step_execution"
    __table_args__ = (UniqueConstraint("run_id", "step_key", name="uq_flow_step_execution"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("flow_run.id", ondelete="CASCADE"))
    step_key: Mapped[str] = mapped_column(String(40))
    #: sent | capped | skipped | done | waiting | passed
    status: Mapped[str] = mapped_column(String(10))
    detail: Mapped[str | None] = mapped_column(String(300))
    #: the channel and message a send step queued
    channel: Mapped[str | None] = mapped_column(String(16))
    message_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
