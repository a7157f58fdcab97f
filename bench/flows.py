"""Flows end to end against their floor: bare outbox inserts of the same number of rows.

    .venv/bin/python bench/flows.py [--customers 100000] [--small 10000]
    BENCH_DATABASE_URL=postgresql://... .venv/bin/python bench/flows.py  (rebuilds that DB)

N customers place an order and so enter a three-step flow (email, wait 1 hour, branch on
a click since entry, SMS), on the inline runner (no Redis; SQLite in a temporary file by
default), with the console providers. Three figures, each timed on its own:

* **entry**: the real trigger path (``triggers.handle("order", ids)`` in slices of
  1,000): runs inserted; each run's email step claimed, its message queued as an outbox
  row (no body: rendered at send time, as a campaign's), recorded and committed, the
  delivery jobs enqueued; the wait recorded and its job scheduled.
* **steps**: one customer in ten clicks and the test clock moves 1 hour 1 minute
  (``tests/app/test_flows.py::time_passes`` in bulk UPDATEs; both outside the clock),
  then the due wait jobs run through ``jobs.tick`` (100 a tick, as the inline ticker;
  the process's first tick, which starts every periodic job such as the engagement
  rescoring of all customers, runs before the clock moves and outside the timer):
  the branch, then the SMS queued for those who clicked (as the email: an outbox row
  and its delivery job), an exit for the others.
* **delivery** (not in the ratios; the delivery engine's own figure is bench/send.py's):
  while entry and steps are timed, the jobs enqueued on the ``messages`` queue (the
  delivery engine's ``send_many``) are held in memory, as Redis holds them for another
  worker (:class:`HeldQueue`); after each phase they are enqueued for real (inline: run)
  and timed: claim, consent and opt-outs at send time, rendering, the console provider
  (a ``dev_message`` row per message), activities, the sent signal. Its rate (messages
  a second, emails and texts together) is printed and stored beside the ratios.

Floor: the same number of ``EmailMessage`` rows inserted by plain SQLAlchemy Core
executemany (slices of 1,000, one commit each), in the same process and database.
Targets (issue 27 item 9): entry and step runs/s >= 0.3 x the floor's rows/s; peak RSS
(VmHWM, each size in a fresh subprocess) at N <= 1.2 x at ``--small``. Results merge into
bench/results.json under "flows" (SQLite) or "flows_postgresql". Asserts nothing about
time; the run fails unless every run ended as the flow says (done after a click, exited
on the branch otherwise) and every message was delivered exactly once (each flow message
``sent``, and the console providers captured each address once).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
RESULTS = HERE / "results.json"

from bench.send import DOMAIN, app_settings  # noqa: E402 - the same app as the send bench

SLICE = 1000
CLICK_EVERY = 10
TARGET_RATIO = 0.3
MEMORY_TARGET = 1.2


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _fresh_schema(app: Any) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app.extensions import db

    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("DROP SCHEMA public CASCADE"))
        db.session.execute(text("CREATE SCHEMA public"))
        db.session.commit()
    upgrade(revision="heads")


def _build(customers: int) -> tuple[Any, Any]:
    """Owner, customers (email, phone with a recorded SMS opt-in), two templates, the
    active flow."""
    from sqlalchemy import insert

    from app.auth.models import User
    from app.crm.models import Consent, Customer, Territory
    from app.extensions import db
    from app.flows import service
    from app.messaging.models import Template

    territory = Territory(name="North")
    owner = User(email="owner@decant.example", name="Bench Owner", role="admin")
    db.session.add_all([territory, owner])
    db.session.flush()
    for lo in range(1, customers + 1, 5000):
        hi = min(customers, lo + 4999)
        db.session.execute(
            insert(Customer),
            [
                {
                    "id": i,
                    "name": f"Bistro {i}",
                    "email": f"c{i}@{DOMAIN}",
                    "phone": f"+1415{i:07d}",
                    "account_type": "ACTIVE",
                    "territory_id": territory.id,
                }
                for i in range(lo, hi + 1)
            ],
        )
        db.session.execute(  # the texts' recorded opt-in (a flow text is marketing)
            insert(Consent),
            [
                {
                    "channel": "sms",
                    "address": f"+1415{i:07d}",
                    "status": "opted_in",
                    "source": "bench",
                    "method": "import",
                    "customer_id": i,
                }
                for i in range(lo, hi + 1)
            ],
        )
    email = Template(
        type="email",
        name="Thanks",
        subject="Thanks for your order, {{ customer_name }}",
        html='<p>Cheers</p><p><a href="https://example.com/reorder">Reorder</a></p>',
    )
    sms = Template(type="sms", name="Nudge", body="Hi {{ customer_name }}, new wines are in")
    db.session.add_all([email, sms])
    db.session.commit()
    flow = service.create(
        owner,
        service.FlowInput(
            name="After an order",
            trigger_type="order_placed",
            steps=[
                {"type": "email", "templateId": email.public_id},
                {"type": "wait", "hours": 1},
                {"type": "branch", "condition": {"kind": "clicked"}, "else": "exit"},
                {"type": "sms", "templateId": sms.public_id},
            ],
        ),
    )
    return service.activate(flow, owner), owner


def _floor(customers: int) -> float:
    """Seconds to insert N bare EmailMessage rows by Core executemany, then removed."""
    from sqlalchemy import delete, insert

    from app.extensions import db
    from blueprints.email.models import EmailMessage

    began = time.perf_counter()
    for lo in range(1, customers + 1, SLICE):
        hi = min(customers, lo + SLICE - 1)
        db.session.execute(
            insert(EmailMessage),
            [
                {"customer_id": i, "to_address": f"c{i}@{DOMAIN}", "status": "queued"}
                for i in range(lo, hi + 1)
            ],
        )
        db.session.commit()
    seconds = time.perf_counter() - began
    db.session.execute(delete(EmailMessage))
    db.session.commit()
    return seconds


def _clicks() -> int:
    """One flow email in CLICK_EVERY clicked, read ten minutes after it went out."""
    from sqlalchemy import select, update

    from app.extensions import db
    from app.models_base import utcnow
    from blueprints.email import tracking
    from blueprints.email.models import EmailMessage

    sent = utcnow() - timedelta(minutes=10)
    db.session.execute(
        update(EmailMessage).where(EmailMessage.flow_run_id.is_not(None)).values(sent_at=sent)
    )
    db.session.commit()
    ids = db.session.scalars(
        select(EmailMessage.id)
        .where(EmailMessage.flow_run_id.is_not(None), EmailMessage.customer_id % CLICK_EVERY == 0)
        .order_by(EmailMessage.id)
    ).all()
    for message_id in ids:
        tracking.record_engagement(message_id, "click", at=utcnow())
    db.session.commit()
    return len(ids)


def _time_passes(hours: float) -> None:
    """Waits and scheduled jobs earlier by ``hours``. Less than the watchdog's grace
    (FLOW_STALE_SECONDS) past their time, or it would run every wait at its first tick."""
    from sqlalchemy import select, update

    from app import jobs
    from app.extensions import db
    from app.flows.models import FlowRun

    shift = timedelta(hours=hours)
    for model, column in (
        (FlowRun, FlowRun.next_at),
        (jobs.ScheduledJob, jobs.ScheduledJob.run_at),
    ):
        where: list[Any] = [column.is_not(None)]
        if model is jobs.ScheduledJob:
            where.append(jobs.ScheduledJob.status == "scheduled")
        rows = db.session.execute(select(model.id, column).where(*where)).all()
        for lo in range(0, len(rows), SLICE):  # ORM bulk UPDATE by primary key
            db.session.execute(
                update(model),
                [{"id": i, column.key: at - shift} for i, at in rows[lo : lo + SLICE] if at],
            )
    db.session.commit()


def _run_due(app: Any, bound: int) -> int:
    """Tick until no scheduled job is due (bounded); how many ticks it took."""
    from sqlalchemy import func, select

    from app import jobs
    from app.extensions import db
    from app.models_base import utcnow

    for number in range(1, bound + 1):
        jobs.tick(app)
        due = db.session.scalar(
            select(func.count())
            .select_from(jobs.ScheduledJob)
            .where(jobs.ScheduledJob.status == "scheduled", jobs.ScheduledJob.run_at <= utcnow())
        )
        if not due:
            return number
    raise SystemExit(f"jobs still due after {bound} ticks")


class HeldQueue:
    """The ``messages`` queue held while a phase is timed, as Redis would hold it for a
    separate worker: ``jobs.enqueue(..., queue="messages")`` (the delivery engine's
    ``send_many`` jobs a flow step hands its messages to) is recorded instead of run
    inline; :meth:`drain` then enqueues each held job for real (inline: runs it). Every
    other queue (the flow's own ``advance`` jobs) runs as usual."""

    def __init__(self) -> None:
        self.held: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = []
        self._real: Any = None

    def __enter__(self) -> HeldQueue:
        from app import jobs

        self._real = real = jobs.enqueue

        def enqueue(func: Any, *args: Any, **kwargs: Any) -> Any:
            if kwargs.get("queue") == "messages" and kwargs.get("at") is None:
                self.held.append((func, args, kwargs))
                return jobs.JobHandle(f"held-{len(self.held)}", "queued")
            return real(func, *args, **kwargs)

        jobs.enqueue = enqueue  # type: ignore[assignment]
        return self

    def __exit__(self, *_exc: Any) -> None:
        from app import jobs

        jobs.enqueue = self._real

    def drain(self) -> int:
        """Run the held delivery jobs; how many messages they carried."""
        from app import jobs

        messages = 0
        held, self.held = self.held, []
        for func, args, kwargs in held:
            if len(args) == 2 and isinstance(args[1], list):  # send_many(channel, ids)
                messages += len(args[1])
            jobs.enqueue(func, *args, **kwargs)
        return messages


def _delivered() -> dict[str, Any]:
    """Flow messages by status and channel, and the console providers' captures: each
    address once (every message delivered exactly once)."""
    from sqlalchemy import func, select

    from app.dev.models import DevMessage
    from app.extensions import db
    from blueprints.email.models import EmailMessage
    from blueprints.sms.models import SmsMessage

    found: dict[str, Any] = {}
    for channel, model in (("email", EmailMessage), ("sms", SmsMessage)):
        found[f"{channel}_status"] = dict(
            db.session.execute(
                select(model.status, func.count())
                .where(model.flow_run_id.is_not(None))
                .group_by(model.status)
            ).all()
        )
        captured, addresses = db.session.execute(
            select(func.count(), func.count(func.distinct(DevMessage.to))).where(
                DevMessage.channel == channel
            )
        ).one()
        found[f"{channel}_captured"] = int(captured)
        found[f"{channel}_captured_addresses"] = int(addresses)
    return found


def run_side(database_url: str, customers: int) -> dict[str, Any]:
    from sqlalchemy import func, select

    from app import create_app
    from app.extensions import db
    from app.flows import triggers
    from app.flows.models import FlowRun
    from blueprints.email.models import EmailMessage
    from blueprints.sms.models import SmsMessage

    logging.disable(logging.WARNING)  # the console providers' lines are not the engine
    # no provider rate limit: a long code's 1 text/s would make delivery a sleep
    app = create_app(app_settings(database_url, SMS_RATE_LIMIT="10000000/1"))
    with app.app_context():
        _fresh_schema(app)
        _build(customers)
        rss_built = _status_kib("VmRSS")
        cpu = time.process_time()
        floor = _floor(customers)
        floor_cpu = time.process_time() - cpu
        queue = HeldQueue()
        began, cpu = time.perf_counter(), time.process_time()
        entered = 0
        with queue:
            for lo in range(1, customers + 1, SLICE):
                part = list(range(lo, min(customers, lo + SLICE - 1) + 1))
                entered += triggers.handle("order", part)
        entry, entry_cpu = time.perf_counter() - began, time.process_time() - cpu
        began = time.perf_counter()
        delivered = queue.drain()
        delivery = time.perf_counter() - began
        clicked = _clicks()
        # The process's first tick starts every periodic job (engagement rescoring of all
        # customers, the watchdogs and sweeps): not the flow's work, and they would run
        # then with no flow at all. Run here, outside the clock; later slots that come
        # round while the steps are timed stay in.
        from app import jobs

        jobs.tick(app)
        _time_passes(1 + 1 / 60)  # each wait due a minute ago: the jobs', not the watchdog's
        began, cpu = time.perf_counter(), time.process_time()
        with queue:
            ticks = _run_due(app, customers // 100 + 20)
        steps, steps_cpu = time.perf_counter() - began, time.process_time() - cpu
        began = time.perf_counter()
        delivered += queue.drain()
        delivery += time.perf_counter() - began
        outcome = _delivered()
        states = dict(
            db.session.execute(select(FlowRun.state, func.count()).group_by(FlowRun.state)).all()
        )
        emails = db.session.scalar(
            select(func.count()).where(EmailMessage.flow_run_id.is_not(None))
        )
        texts = db.session.scalar(select(func.count()).where(SmsMessage.flow_run_id.is_not(None)))
        db.engine.dispose()
    floor_rate = customers / floor
    return {
        "customers": customers,
        "entered": entered,
        "floor_seconds": round(floor, 3),
        "floor_rows_per_second": round(floor_rate, 1),
        "entry_seconds": round(entry, 3),
        "entry_runs_per_second": round(customers / entry, 1),
        "entry_ratio": round(customers / entry / floor_rate, 4),
        "step_seconds": round(steps, 3),
        "step_runs_per_second": round(customers / steps, 1),
        "step_ratio": round(customers / steps / floor_rate, 4),
        "delivery_seconds": round(delivery, 3),
        "delivered_messages": delivered,
        "delivery_messages_per_second": round(delivered / delivery, 1) if delivery else None,
        # this process's CPU seconds (on SQLite the database's work too; on PostgreSQL
        # the server's is not in them): the ratios by CPU, less moved by a loaded machine
        "cpu_seconds": {
            "floor": round(floor_cpu, 3),
            "entry": round(entry_cpu, 3),
            "steps": round(steps_cpu, 3),
        },
        "entry_ratio_by_cpu": round(floor_cpu / entry_cpu, 4) if entry_cpu else None,
        "step_ratio_by_cpu": round(floor_cpu / steps_cpu, 4) if steps_cpu else None,
        "ticks": ticks,
        "clicked": clicked,
        "states": states,
        "flow_emails": emails,
        "flow_texts": texts,
        **outcome,
        "ok": entered == customers
        and emails == customers
        and texts == clicked
        and delivered == customers + clicked
        and outcome["email_status"] == {"sent": customers}
        and outcome["sms_status"] == {"sent": clicked}
        and outcome["email_captured"] == outcome["email_captured_addresses"] == customers
        and outcome["sms_captured"] == outcome["sms_captured_addresses"] == clicked
        and states.get("done", 0) == clicked
        and states.get("exited", 0) == customers - clicked,
        "rss_after_build_mib": round(rss_built / 1024, 1),
        "peak_rss_mib": round(_status_kib("VmHWM") / 1024, 1),
    }


def _child(size: int, tmp: str) -> dict[str, Any]:
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tmp}/flows-{size}.sqlite"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DECANT_ENV": "development"}
    env.setdefault("DECANT_INSTANCE_PATH", str(Path(tmp) / "instance"))
    done = subprocess.run(
        [sys.executable, __file__, "--child", "--customers", str(size), "--database", url],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    r = result
    print(
        f"{size:>7,} customers: entry {r['entry_runs_per_second']:,.0f} runs/s "
        f"({r['entry_seconds']:.1f} s, x{r['entry_ratio']:.3f} of floor), steps "
        f"{r['step_runs_per_second']:,.0f} runs/s ({r['step_seconds']:.1f} s, "
        f"x{r['step_ratio']:.3f}), floor {r['floor_rows_per_second']:,.0f} rows/s; "
        f"by CPU x{r['entry_ratio_by_cpu']:.3f} and x{r['step_ratio_by_cpu']:.3f}; "
        f"delivery {r['delivery_messages_per_second']:,.0f} msgs/s "
        f"({r['delivered_messages']:,} in {r['delivery_seconds']:.1f} s, not in the ratios); "
        f"peak RSS {r['peak_rss_mib']} MiB; states {r['states']}; ok={r['ok']}",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000, help="the size RSS compares to")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_side(args.database, args.customers)))
        return
    sizes = sorted({min(args.small, args.customers), args.customers})
    with tempfile.TemporaryDirectory(prefix="decant-bench-flows-") as tmp:
        runs = {size: _child(size, tmp) for size in sizes}
    big, small = runs[args.customers], runs[sizes[0]]
    memory: dict[str, Any] = {str(s): runs[s]["peak_rss_mib"] for s in sizes}
    if len(sizes) > 1:
        memory["ratio"] = round(big["peak_rss_mib"] / small["peak_rss_mib"], 2)
        print(
            f"peak RSS x{memory['ratio']:.2f} from {sizes[0]:,} to {args.customers:,} "
            f"(target <= {MEMORY_TARGET})"
        )
    for phase in ("entry", "step"):
        ratio = big[f"{phase}_ratio"]
        verdict = "met" if ratio >= TARGET_RATIO else "missed"
        print(f"{phase}: x{ratio:.3f} of the floor (target >= {TARGET_RATIO}: {verdict})")
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    postgresql = bool(os.environ.get("BENCH_DATABASE_URL"))
    existing["flows_postgresql" if postgresql else "flows"] = {
        "database": "postgresql" if postgresql else "sqlite",
        "providers": "console (no provider cost)",
        "flow": "order_placed -> email, wait 1 h, branch on click, sms",
        "customers": args.customers,
        "runs": {str(s): r for s, r in runs.items()},
        "ratio_target": TARGET_RATIO,
        "entry_ratio": big["entry_ratio"],
        "step_ratio": big["step_ratio"],
        "entry_ratio_by_cpu": big["entry_ratio_by_cpu"],
        "step_ratio_by_cpu": big["step_ratio_by_cpu"],
        "delivery_messages_per_second": big["delivery_messages_per_second"],
        "timed": "entry and steps up to the messages queued as outbox rows (committed) and "
        "their delivery jobs enqueued; delivery (render, consent, console provider, "
        "activities) drained after each timed phase and reported apart",
        "peak_rss_mib": memory,
        "ok": all(r["ok"] for r in runs.values()),
    }
    RESULTS.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")
    if not all(r["ok"] for r in runs.values()):
        raise SystemExit("a run did not end as the flow says")


if __name__ == "__main__":
    main()
