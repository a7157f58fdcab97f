"""The one way to run work in the background.

With ``REDIS_URL`` set, jobs go to RQ queues named by purpose and a ``flask worker``
process runs them (with RQ's scheduler for ``at=`` jobs and a ticker for periodic jobs).
Without it the embedded default needs no server: a job becomes a row of ``scheduled_job``
run by the app's own worker thread (:class:`LocalWorker`), so a request that starts a
campaign answers at once; jobs for later wait there until due (the thread, ``make run``'s
ticker and ``flask jobs tick`` all run due rows, each claimed once). Tests set
``JOBS_IN_THREAD`` off and run jobs inline in the caller, to stay deterministic.

Jobs are referenced by import path and take ids, never objects: they re-read state and
must be safe to run twice.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import click
from flask import Flask, has_app_context, has_request_context
from sqlalchemy import JSON, String, Text, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from app.channels import PeriodicJob
from app.current import app_object
from app.extensions import Model, db
from app.models_base import UTCDateTime

if TYPE_CHECKING:
    from redis import Redis
    from sqlalchemy import CursorResult

log = logging.getLogger(__name__)

#: Queues in the order a worker serves them.
QUEUES = ("messages", "campaigns", "lists", "sync", "maintenance", "default")
DEFAULT_RETRY_INTERVALS = (10, 60, 300)
#: How long a finished job's outcome is kept (RQ's result_ttl; inline: its table row).
RESULT_TTL_SECONDS = 86400


def utcnow() -> datetime:
    return datetime.now(UTC)


class ScheduledJob(Model):
    """An inline-mode job waiting for its time, or the outcome of one that ran (kept
    for :data:`RESULT_TTL_SECONDS`, as RQ keeps its results in Redis)."""

    __tablename__ = "scheduled_job"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    func: Mapped[str] = mapped_column(String(200))
    args: Mapped[list[Any]] = mapped_column(JSON, default=list)
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    status: Mapped[str] = mapped_column(String(16), default="scheduled", index=True)
    error: Mapped[str | None] = mapped_column(Text)


@dataclass(frozen=True)
class JobHandle:
    id: str
    status: str  # queued | scheduled | finished | failed | started | deferred
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "error": self.error}


def func_path(func: Callable[..., Any] | str) -> str:
    if isinstance(func, str):
        return func
    return f"{func.__module__}:{func.__qualname__}"


def resolve(path: str) -> Callable[..., Any]:
    module, _, name = path.partition(":")
    target: Any = importlib.import_module(module)
    for part in name.split("."):
        target = getattr(target, part)
    return cast("Callable[..., Any]", target)


def redis_connection(app: Flask | None = None) -> Redis | None:
    """A Redis client for REDIS_URL, or None in inline mode. Created lazily, per app."""
    app = app or app_object()
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    conn: Redis | None = app.extensions.get("decant_redis")
    if conn is None:
        import redis

        conn = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3)
        app.extensions["decant_redis"] = conn
    return conn


def enqueue(
    func: Callable[..., Any] | str,
    *args: Any,
    queue: str = "default",
    at: datetime | None = None,
    job_id: str | None = None,
    timeout: int | None = None,
    retries: int = 3,
    **kwargs: Any,
) -> JobHandle:
    """Run ``func(*args, **kwargs)`` in the background (now, or at ``at``)."""
    app = app_object()
    path = func_path(func)
    resolve(path)  # fail at enqueue time, not in the worker, when the path is wrong
    job_id = job_id or str(uuid.uuid4())
    conn = redis_connection(app)
    if conn is not None:
        return _enqueue_rq(app, conn, path, args, kwargs, queue, at, job_id, timeout, retries)
    later = at is not None and at > utcnow()
    # A web request hands its jobs to the app's thread; a command or a job already off the
    # request (the thread itself) runs them in place, so `flask setup` finishes its work.
    if later or (app.config.get("JOBS_IN_THREAD") and has_request_context()):
        db.session.add(
            ScheduledJob(
                id=job_id,
                func=path,
                args=list(args),
                kwargs=kwargs,
                run_at=at if later else utcnow(),
            )
        )
        db.session.commit()
        if later:
            return JobHandle(job_id, "scheduled")
        _local_worker(app).wake()
        return JobHandle(job_id, "queued")
    return _run_inline(app, job_id, path, args, kwargs)


class LocalWorker:
    """Without Redis, the app's own worker thread: it runs the due rows of
    ``scheduled_job`` (jobs enqueued now are rows due now), so a campaign never runs inside
    the web request that started it. Started on the first job, not at app creation; the
    ticker and ``flask jobs tick`` run the same rows, each claimed once."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.wakeup = threading.Event()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def wake(self) -> None:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._loop, name="decant-jobs", daemon=True)
                self.thread.start()
        self.wakeup.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Let the thread finish its round and end (tests; a process exit needs nothing)."""
        self.stopping.set()
        self.wakeup.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            self.wakeup.wait(timeout=self.app.config["PERIODIC_TICK_SECONDS"])
            self.wakeup.clear()
            with self.app.app_context():
                try:
                    while _run_due_scheduled(self.app):
                        continue  # until no row is due (a job may enqueue more)
                except Exception:
                    log.exception("the app's job thread failed a round")
                finally:
                    db.session.remove()


def _local_worker(app: Flask) -> LocalWorker:
    worker: LocalWorker | None = app.extensions.get("decant_local_worker")
    if worker is None:
        worker = app.extensions.setdefault("decant_local_worker", LocalWorker(app))
    return worker


def _enqueue_rq(
    app: Flask,
    conn: Redis,
    path: str,
    args: Sequence[Any],
    kwargs: dict[str, Any],
    queue: str,
    at: datetime | None,
    job_id: str | None,
    timeout: int | None,
    retries: int,
) -> JobHandle:
    from rq import Queue, Retry

    q = Queue(queue, connection=conn)
    options: dict[str, Any] = {
        "job_id": job_id,
        "job_timeout": timeout or app.config["JOB_TIMEOUT"],
        "result_ttl": RESULT_TTL_SECONDS,
        "failure_ttl": 7 * 86400,
    }
    if retries:
        options["retry"] = Retry(max=retries, interval=list(DEFAULT_RETRY_INTERVALS[:retries]))
    if at is not None and at > utcnow():
        job = q.enqueue_at(at, run_job, path, list(args), kwargs, **options)
        return JobHandle(job.id, "scheduled")
    job = q.enqueue(run_job, path, list(args), kwargs, **options)
    return JobHandle(job.id, "queued")


def _inline_results(app: Flask) -> OrderedDict[str, JobHandle]:
    results: OrderedDict[str, JobHandle] = app.extensions.setdefault(
        "decant_inline_jobs", OrderedDict()
    )
    return results


def _run_inline(
    app: Flask, job_id: str, path: str, args: Sequence[Any], kwargs: dict[str, Any]
) -> JobHandle:
    try:
        resolve(path)(*args, **kwargs)
        handle = JobHandle(job_id, "finished")
    except Exception as exc:  # a failed background job must not fail the caller
        db.session.rollback()
        log.exception("inline job %s (%s) failed", job_id, path)
        handle = JobHandle(job_id, "failed", str(exc))
    results = _inline_results(app)
    results[job_id] = handle
    while len(results) > 1000:
        results.popitem(last=False)
    _keep_outcome(handle, path)
    return handle


def _keep_outcome(handle: JobHandle, path: str) -> None:
    """Write an inline job's outcome to its table row, so that every process, and this
    one after a restart, answers for it (``GET /api/jobs/<id>``). The job itself
    committed its work already; a failure here is logged, never raised to the caller."""
    try:
        row = db.session.get(ScheduledJob, handle.id)
        if row is None:
            row = ScheduledJob(id=handle.id, func=path[:200], args=[], kwargs={}, run_at=utcnow())
            db.session.add(row)
        row.status, row.error = handle.status, (handle.error or None)
        db.session.commit()
    except Exception:  # noqa: BLE001 - the job ran; only its record is lost
        db.session.rollback()
        log.warning("could not record the outcome of inline job %s", handle.id, exc_info=True)


def run_job(path: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """What RQ runs: the job inside an app context, with a fresh database pool."""
    if has_app_context():
        app = app_object()
        return _call_in_context(app, path, args, kwargs)
    from app import create_app

    app = create_app()
    with app.app_context():
        return _call_in_context(app, path, args, kwargs)


def _call_in_context(app: Flask, path: str, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
    # The worker forks a horse per job: never reuse the parent's pooled connections.
    if app.extensions.get("decant_worker_pid") != os.getpid():
        db.engine.dispose(close=False)
        app.extensions["decant_worker_pid"] = os.getpid()
    try:
        return resolve(path)(*args, **kwargs)
    finally:
        db.session.remove()


def job_status(job_id: str) -> JobHandle | None:
    app = app_object()
    conn = redis_connection(app)
    if conn is None:
        handle = _inline_results(app).get(job_id)
        if handle is None:
            kept = db.session.get(ScheduledJob, job_id)
            if kept is not None:
                return JobHandle(job_id, kept.status, kept.error)
        return handle
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        job = Job.fetch(job_id, connection=conn)
    except NoSuchJobError:
        return None
    status = job.get_status(refresh=True)
    error = None
    if status is not None and str(status.value if hasattr(status, "value") else status) == "failed":
        result = job.latest_result()
        last_lines = (result.exc_string or "").strip().splitlines()[-1:] if result else []
        error = last_lines[0] if last_lines else "failed"
    value = status.value if hasattr(status, "value") else str(status)
    return JobHandle(job.id, value, error)


# --- periodic jobs -----------------------------------------------------------------


def register_periodic(app: Flask, job: PeriodicJob) -> None:
    app.extensions.setdefault("decant_periodic", {})[job.name] = job


def periodic_jobs(app: Flask) -> dict[str, PeriodicJob]:
    periodic: dict[str, PeriodicJob] = app.extensions.get("decant_periodic", {})
    return periodic


def tick(app: Flask, now: float | None = None) -> list[str]:
    """Enqueue the periodic jobs whose slot has come, and inline scheduled jobs now due.

    Each periodic job runs at most once per interval slot across every process: in RQ mode
    a ``SET NX`` on a Redis key per slot elects one enqueuer, so N workers never multiply
    the job; inline there is one process, and a dict remembers the slots done.
    """
    now = time.time() if now is None else now
    started: list[str] = []
    conn = redis_connection(app)
    done: dict[str, int] = app.extensions.setdefault("decant_periodic_slots", {})
    for job in periodic_jobs(app).values():
        interval = max(1, job.interval(app.config))
        slot = int(now // interval)
        if conn is not None:
            key = f"decant:periodic:{job.name}:{slot}"
            if not conn.set(key, "1", nx=True, ex=interval * 2):
                continue
        elif done.get(job.name) == slot:
            continue
        done[job.name] = slot
        enqueue(job.func, queue=job.queue, job_id=f"periodic-{job.name}-{slot}", retries=0)
        started.append(job.name)
    if conn is None:
        started.extend(_run_due_scheduled(app))
        _forget_old_outcomes()
    return started


def _forget_old_outcomes() -> None:
    """Drop the rows of inline jobs that ended more than a day ago."""
    cutoff = utcnow() - timedelta(seconds=RESULT_TTL_SECONDS)
    db.session.execute(
        delete(ScheduledJob).where(
            ScheduledJob.status.in_(("finished", "failed")), ScheduledJob.run_at < cutoff
        )
    )
    db.session.commit()


def _run_due_scheduled(app: Flask) -> list[str]:
    due = db.session.scalars(
        select(ScheduledJob)
        .where(ScheduledJob.status == "scheduled", ScheduledJob.run_at <= utcnow())
        .order_by(ScheduledJob.run_at)
        .limit(100)
    ).all()
    ran = []
    for job in due:
        job_id, func, args, kwargs = job.id, job.func, job.args, job.kwargs
        claimed = cast(  # one runner per row, whichever thread or process
            "CursorResult[Any]",
            db.session.execute(
                db.update(ScheduledJob)
                .where(ScheduledJob.id == job_id, ScheduledJob.status == "scheduled")
                .values(status="started")
            ),
        ).rowcount
        db.session.commit()
        if not claimed:
            continue
        handle = _run_inline(app, job_id, func, args, kwargs)
        db.session.execute(
            db.update(ScheduledJob).where(ScheduledJob.id == job_id).values(status=handle.status)
        )
        db.session.commit()
        ran.append(func)
    return ran


def start_ticker(app: Flask, stop: threading.Event) -> threading.Thread:
    """A daemon thread calling :func:`tick` every PERIODIC_TICK_SECONDS."""

    def loop() -> None:
        while not stop.is_set():
            with app.app_context():
                try:
                    tick(app)
                except Exception:
                    log.exception("periodic tick failed")
                finally:
                    db.session.remove()
            stop.wait(app.config["PERIODIC_TICK_SECONDS"])

    thread = threading.Thread(target=loop, name="decant-ticker", daemon=True)
    thread.start()
    return thread


# --- CLI ---------------------------------------------------------------------------


@click.command("worker")
@click.option("--queues", default=",".join(QUEUES), show_default=True, help="Queues to serve.")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--no-ticker", is_flag=True, help="Do not enqueue periodic jobs from here.")
def worker_command(queues: str, burst: bool, no_ticker: bool) -> None:
    """Run an RQ worker with its scheduler (needs REDIS_URL)."""
    from rq import Worker

    app = app_object()
    conn = redis_connection(app)
    if conn is None:
        raise click.ClickException("REDIS_URL is not set: jobs run inline, no worker needed")
    stop = threading.Event()
    if not no_ticker and not burst:
        start_ticker(app, stop)
    names = [q.strip() for q in queues.split(",") if q.strip()]
    try:
        Worker(names, connection=conn).work(burst=burst, with_scheduler=True)
    finally:
        stop.set()


@click.group("jobs")
def jobs_cli() -> None:
    """Background jobs."""


@jobs_cli.command("tick")
def tick_command() -> None:
    """Enqueue due periodic jobs and run due inline scheduled jobs once."""
    started = tick(app_object())
    click.echo(f"started: {', '.join(started) or 'nothing'}")


@jobs_cli.command("list")
def list_command() -> None:
    """List periodic jobs and their intervals."""
    app = app_object()
    for job in periodic_jobs(app).values():
        click.echo(f"{job.name}\tevery {job.interval(app.config)}s\t{job.func}")


def init_app(app: Flask) -> None:
    app.cli.add_command(worker_command)
    app.cli.add_command(jobs_cli)
