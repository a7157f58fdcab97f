"""The set-based flow engine: a slice of runs entered by one job, a step performed for
many runs at once, and the exactly-once guarantees held for a batch (a duplicated batch
job sends nothing twice; a run that exited is not acted on)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

from sqlalchemy import select, update

from app import jobs
from app.extensions import db
from app.flows import engine, triggers
from app.flows.models import FlowRun, FlowStepExecution
from app.messaging import consent
from app.models_base import utcnow
from blueprints.email import tracking
from blueprints.email.models import EmailMessage
from blueprints.sms.models import SmsMessage
from tests.app.test_flows import (  # noqa: F401 - fixtures
    api,
    executions,
    flow_emails,
    make_flow,
    runs,
    templates,
    time_passes,
)

SEND_MANY = "app.messaging.delivery:send_many"


def jobs_run() -> Counter[str]:
    """Jobs the inline runner ran or holds, by function (each leaves its row)."""
    db.session.expire_all()
    return Counter(db.session.scalars(select(jobs.ScheduledJob.func)))


def sent_emails() -> list[EmailMessage]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(EmailMessage)
            .where(EmailMessage.flow_run_id.is_not(None))
            .order_by(EmailMessage.customer_id)
        )
    )


def test_many_runs_go_through_a_flow_in_one_job_per_step(
    api,  # noqa: F811 - the shared fixture
    make_customer,
    templates,  # noqa: F811 - the shared fixture
):
    customers = [make_customer() for _ in range(6)]
    for customer in customers[:2]:
        consent.opt_in("sms", customer.phone, source="test", customer_id=customer.id)
    db.session.commit()
    make_flow(
        api,
        [
            {"type": "email", "templateId": templates["email"]},
            {"type": "wait", "hours": 1},
            {"type": "branch", "condition": {"kind": "clicked"}, "else": "exit"},
            {"type": "sms", "templateId": templates["sms"]},
        ],
        trigger={"type": "order_placed"},
    )
    entered = triggers.handle("order", [c.id for c in customers])
    assert entered == len(customers)
    # one job entered and advanced the six runs, one job sent their emails, one
    # scheduled job waits for all six
    assert jobs_run()[engine.ADVANCE] == 2 and jobs_run()[SEND_MANY] == 1
    [waiting] = db.session.scalars(
        select(jobs.ScheduledJob).where(jobs.ScheduledJob.status == "scheduled")
    ).all()
    assert sorted(waiting.args[0]) == sorted(r.id for r in runs())
    emails = sent_emails()
    assert [(m.customer_id, m.status) for m in emails] == [(c.id, "sent") for c in customers]
    assert {m.subject for m in emails} == {f"Hi {c.name}" for c in customers}
    assert len({m.id for m in emails}) == len(customers)
    for message in emails[:2]:
        message.sent_at = utcnow() - timedelta(minutes=10)
        db.session.commit()
        tracking.record_engagement(message, "click", at=utcnow())
    time_passes(1.5)
    by_customer = {r.customer_id: r for r in runs()}
    assert [by_customer[c.id].state for c in customers] == ["done"] * 2 + ["exited"] * 4
    assert {by_customer[c.id].exit_reason for c in customers[2:]} == {"branch"}
    texts = db.session.scalars(select(SmsMessage).where(SmsMessage.flow_run_id.is_not(None))).all()
    assert sorted((t.customer_id, t.status) for t in texts) == [
        (c.id, "sent") for c in customers[:2]
    ]
    run = by_customer[customers[0].id]
    assert executions(run) == {"s1": "sent", "s2": "passed", "s3": "done", "s4": "sent"}
    branch = dict(
        db.session.execute(
            select(FlowStepExecution.run_id, FlowStepExecution.detail).where(
                FlowStepExecution.step_key == "s3"
            )
        ).all()
    )  # each run's branch claimed with what the condition said
    assert [branch[by_customer[c.id].id] for c in customers] == ["true"] * 2 + ["false"] * 4
    # the wait's one job moved all six; the texts went in one delivery job
    assert jobs_run()[engine.ADVANCE] == 3 and jobs_run()[SEND_MANY] == 2


def test_a_duplicated_batch_job_sends_nothing_twice(
    app,
    api,  # noqa: F811 - the shared fixture
    make_customer,
    templates,  # noqa: F811 - the shared fixture
):
    app.config["FLOW_CAP_EMAIL_HOURS"] = 0  # not the cap: the steps' unique records stop it
    customers = [make_customer() for _ in range(4)]
    make_flow(
        api,
        [
            {"type": "email", "templateId": templates["email"]},
            {"type": "wait", "hours": 1},
            {"type": "email", "templateId": templates["email"]},
        ],
        trigger={"type": "order_placed"},
    )
    triggers.handle("order", [c.id for c in customers])
    ids = [r.id for r in runs()]
    assert len(sent_emails()) == 4
    # jobs that read the runs before the first committed find the email step taken
    db.session.execute(
        update(FlowRun).where(FlowRun.id.in_(ids)).values(state="running", current_step="s1")
    )
    db.session.commit()
    engine.advance(ids)
    engine.advance(ids)
    assert len(sent_emails()) == 4
    assert {r.state for r in runs()} == {"running"}  # not moved by a job that did nothing
    db.session.execute(
        update(FlowRun).where(FlowRun.id.in_(ids)).values(state="waiting", current_step="s2")
    )
    db.session.commit()
    time_passes(1.5)  # the scheduled job moves them on and sends the second email
    engine.advance(ids)  # its duplicate, after: nothing left to do
    engine.advance(ids[:2])
    assert len(sent_emails()) == 8
    assert Counter(m.customer_id for m in sent_emails()) == {c.id: 2 for c in customers}
    assert {r.state for r in runs()} == {"done"}


def test_a_batch_holding_an_exited_run_acts_only_on_the_others(
    api,  # noqa: F811 - the shared fixture
    make_customer,
    templates,  # noqa: F811 - the shared fixture
):
    customers = [make_customer() for _ in range(3)]
    flow = make_flow(
        api,
        [{"type": "wait", "hours": 1}, {"type": "email", "templateId": templates["email"]}],
        trigger={"type": "order_placed"},
        exitOnOrder=True,
    )
    triggers.handle("order", [c.id for c in customers])
    gone = customers[1]
    engine.exit_runs([gone.id], "ordered")
    time_passes(1.5)  # the wait's one job holds all three runs
    by_customer = {r.customer_id: r for r in runs()}
    assert by_customer[gone.id].state == "exited"
    assert [m.customer_id for m in sent_emails()] == [customers[0].id, customers[2].id]
    assert executions(by_customer[gone.id]) == {"s1": "waiting"}
    assert api("GET", f"/{flow['id']}")["steps"][0]["counts"]["exited"] == 1


def test_a_run_that_exits_while_its_batch_is_in_flight_is_left_alone(
    api,  # noqa: F811 - the shared fixture
    make_customer,
    templates,  # noqa: F811 - the shared fixture
):
    """The job read its runs, then an order ended one of them before the step's UPDATE:
    the step's guarded UPDATE leaves that run out, its record is removed and no message
    is made for it."""
    customers = [make_customer() for _ in range(3)]
    flow = make_flow(
        api,
        [{"type": "wait", "hours": 1}, {"type": "email", "templateId": templates["email"]}],
        trigger={"type": "order_placed"},
        exitOnOrder=True,
    )
    triggers.handle("order", [c.id for c in customers])
    db.session.execute(update(FlowRun).values(state="running", current_step="s2"))
    db.session.commit()
    read = db.session.execute(
        select(
            FlowRun.id,
            FlowRun.flow_id,
            FlowRun.version,
            FlowRun.customer_id,
            FlowRun.current_step,
            FlowRun.state,
            FlowRun.next_at,
            FlowRun.entered_at,
        ).order_by(FlowRun.id)
    ).all()
    engine.exit_runs([customers[0].id], "ordered")
    job = engine._Job()
    going_on = engine._step(job, read[0].flow_id, read[0].version, "s2", list(read))
    assert going_on == []
    assert sorted(job.messages["email"]) == sorted(m.id for m in sent_emails())
    assert [m.customer_id for m in sent_emails()] == [c.id for c in customers[1:]]
    left = db.session.scalar(
        select(FlowStepExecution.id).where(
            FlowStepExecution.run_id == read[0].id, FlowStepExecution.step_key == "s2"
        )
    )
    assert left is None
    assert [r.state for r in runs()] == ["exited", "done", "done"]
    assert flow["id"]


def test_a_slice_enters_an_email_then_a_wait_in_a_few_statements(
    api,  # noqa: F811 - the shared fixture
    make_customer,
    templates,  # noqa: F811 - the shared fixture
):
    """Round trips per slice of runs, not per run: the runs are inserted, their email
    step claims, moves and records them and queues their messages, and the same
    transaction moves them straight into the wait (its record claimed, its job's row
    written before that one commit) instead of a round later. Counted on the flow
    tables (delivery, which runs inline here, is the send bench's)."""
    from sqlalchemy import event

    customers = [make_customer() for _ in range(12)]
    make_flow(
        api,
        [
            {"type": "email", "templateId": templates["email"]},
            {"type": "wait", "hours": 1},
            {"type": "branch", "condition": {"kind": "clicked"}, "else": "exit"},
        ],
        trigger={"type": "order_placed"},
    )
    statements: list[str] = []
    events: list[str] = []  # the email step's record, the wait's job, the commits
    runs_or_steps = r"flow_(run|step_execution)\b"
    on_flow_tables = re.compile(
        rf"^(INSERT INTO|UPDATE|DELETE FROM) {runs_or_steps}|FROM {runs_or_steps} WHERE"
    )

    def seen(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if on_flow_tables.search(" ".join(statement.split())):
            statements.append(statement)
        if statement.startswith(("UPDATE flow_step_execution", "INSERT INTO scheduled_job")):
            events.append(statement.split("(")[0].split(" SET")[0])

    def committed(_conn):  # type: ignore[no-untyped-def]
        events.append("COMMIT")

    event.listen(db.engine, "before_cursor_execute", seen)
    event.listen(db.engine, "commit", committed)
    try:
        assert triggers.handle("order", [c.id for c in customers]) == len(customers)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
        event.remove(db.engine, "commit", committed)
    # the exits on an order; the runs inserted and their ids read back; the job reads
    # them; the email's claim, move (into the wait) and record; the wait's claim
    assert len(statements) <= 8, statements
    record = events.index("UPDATE flow_step_execution")
    assert events[record : record + 3] == [
        "UPDATE flow_step_execution",
        "INSERT INTO scheduled_job ",
        "COMMIT",
    ], events
    assert {r.state for r in runs()} == {"waiting"}
    assert [sorted(executions(r).values()) for r in runs()] == [["sent", "waiting"]] * 12
    [waiting] = db.session.scalars(
        select(jobs.ScheduledJob).where(jobs.ScheduledJob.status == "scheduled")
    ).all()
    assert sorted(waiting.args[0]) == [r.id for r in runs()]
