"""Fault tests: real workers killed, providers failing, Redis and PostgreSQL going away.

Helpers here seed large lists quickly, start real ``flask worker`` subprocesses (each in
its own process group, so SIGKILL takes the worker *and* its work horse), and count what a
fake provider actually received.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from app.extensions import db
from tests.fakes.sendgrid import FakeSendGrid

ROOT = Path(__file__).resolve().parents[2]
API = "/api/sales/marketing"

# What a worker subprocess gets in its instance config.py (typed; env vars are strings).
WORKER_INSTANCE_CONFIG = "PERIODIC_TICK_SECONDS = 1\nPROVIDER_TIMEOUT = 5\n"


class InFlightSendGrid(FakeSendGrid):
    """SendGrid fake taking ``delay`` seconds a request (a provider takes a moment, so
    concurrent workers overlap) and remembering the most requests it had in flight at
    once (two or more: workers were at the provider together)."""

    def __init__(self, delay: float = 0.02, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0
        self._gauge = threading.Lock()

    def handle(self, request: Any) -> Any:
        with self._gauge:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            time.sleep(self.delay)
            return super().handle(request)
        finally:
            with self._gauge:
                self.in_flight -= 1


def received(fake: FakeSendGrid) -> list[str]:
    """The addresses the fake has received mail for, so far."""
    return [m.to for m in list(fake.received)]


def sendgrid_settings(fake: Any) -> dict[str, Any]:
    """The settings that send email through a local SendGrid fake (app and workers)."""
    return {
        "EMAIL_PROVIDER": "sendgrid",
        "SENDGRID_API_KEY": fake.api_key,
        "SENDGRID_BASE_URL": fake.url,
    }


def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgres")


@pytest.fixture
def seed_list(app):
    """``seed_list(owner, n)``: n email customers in a manual list; (list public id, emails)."""
    from app.crm.models import Customer, Territory
    from blueprints.lists.models import EmailList, EmailListMember

    def seed(owner, n: int, prefix: str = "fault") -> tuple[str, list[str]]:
        territory = db.session.scalar(select(Territory).where(Territory.name == "North"))
        emails = [f"{prefix}{i:05d}@example.com" for i in range(n)]
        db.session.execute(
            insert(Customer),
            [
                {
                    "name": f"Fault {i}",
                    "email": email,
                    "account_type": "ACTIVE",
                    "account_priority": "MEDIUM",
                    "territory_id": territory.id,
                    "custom_fields": {},
                }
                for i, email in enumerate(emails)
            ],
        )
        ids = db.session.scalars(select(Customer.id).where(Customer.email.in_(emails))).all()
        lst = EmailList(name=f"{prefix} list", owner_id=owner.id, is_smart=False, member_count=n)
        db.session.add(lst)
        db.session.flush()
        db.session.execute(
            insert(EmailListMember), [{"list_id": lst.id, "customer_id": cid} for cid in ids]
        )
        db.session.commit()
        return lst.public_id, emails

    return seed


def tally(expected: Iterable[str], received: Iterable[str]) -> dict[str, int]:
    """sent (deliveries seen), unique, duplicates (extra deliveries), missing, unexpected."""
    want = set(expected)
    got = Counter(received)
    return {
        "sent": sum(got.values()),
        "unique": len(got),
        "duplicates": sum(n - 1 for n in got.values() if n > 1),
        "missing": len(want - set(got)),
        "unexpected": len(set(got) - want),
    }


def report(name: str, counts: dict[str, Any]) -> str:
    line = f"[{name}] " + " ".join(f"{k}={v}" for k, v in counts.items())
    print(line)
    return line


class Workers:
    """Real ``flask worker`` subprocesses; always stopped by the fixture's teardown."""

    def __init__(self, env: dict[str, str], tmp_path: Path) -> None:
        self.env = env
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def start(self, *, queues: str | None = None, extra_env: dict[str, str] | None = None):
        log = self.tmp_path / f"worker-{len(self.procs)}.log"
        args = [sys.executable, "-m", "flask", "--app", "wsgi", "worker"]
        if queues:
            args += ["--queues", queues]
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                args,
                cwd=ROOT,
                env={**self.env, **(extra_env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: the horse dies with it
            )
        self.procs.append(proc)
        self.logs.append(log)
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        """Signal the worker's group and its work horses (RQ puts each in its own group)."""
        pids = [proc.pid, *descendants(proc.pid)]
        for pid in pids:
            for send in (os.killpg, os.kill):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    send(pid, sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                self.kill(proc, signal.SIGKILL)

    def output(self, limit: int = 3000) -> str:
        parts = []
        for log in self.logs:
            text = log.read_text(errors="replace") if log.exists() else ""
            parts.append(f"--- {log.name}\n{text[-limit:]}")
        return "\n".join(parts)


@pytest.fixture
def workers(app, database_url, redis_url, tmp_path) -> Iterator[Callable[..., Workers]]:
    """``workers(**settings)`` -> a :class:`Workers` whose processes see these settings."""
    made: list[Workers] = []
    instance = tmp_path / "worker-instance"
    instance.mkdir()
    (instance / "config.py").write_text(WORKER_INSTANCE_CONFIG)

    def make(**settings: Any) -> Workers:
        env = {
            **os.environ,
            "DECANT_ENV": "testing",
            "DECANT_INSTANCE_PATH": str(instance),
            "SECRET_KEY": app.config["SECRET_KEY"],
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "PUBLIC_BASE_URL": app.config["PUBLIC_BASE_URL"],
            "PYTHONPATH": str(ROOT),
            **{k: str(v) for k, v in settings.items()},
        }
        group = Workers(env, tmp_path)
        made.append(group)
        return group

    try:
        yield make
    finally:
        for group in made:
            group.stop_all()


def descendants(pid: int) -> list[int]:
    """Child processes of ``pid``, recursively (from /proc; Linux)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def wait_for(check: Callable[[], Any], timeout: float, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def wait_progressing(
    done: Callable[[], Any],
    progress: Callable[[], Any],
    *,
    stall: float = 180,
    limit: float = 900,
    interval: float = 0.2,
) -> Any:
    """Wait until ``done()`` is true: as long as ``progress()`` keeps changing (within
    ``stall`` seconds) and at most ``limit`` seconds in all. A loaded machine slows the
    work down; only work that stopped fails the wait early."""
    started = time.monotonic()
    seen, moved = progress(), started
    while True:
        value = done()
        now = time.monotonic()
        if value or now - moved > stall or now - started > limit:
            return value
        time.sleep(interval)
        current = progress()
        if current != seen:
            seen, moved = current, time.monotonic()


def campaign_state(campaign_id: int) -> tuple[str, dict[str, int]]:
    from app.messaging import delivery
    from app.messaging.models import Campaign

    db.session.expire_all()
    campaign = db.session.get(Campaign, campaign_id)
    counts = delivery.status_counts(campaign)
    db.session.commit()  # end the read transaction: never hold a snapshot or a lock
    return campaign.status, counts
