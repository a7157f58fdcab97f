"""Campaign send end to end against its floor: the same SendGrid SDK calls, no database.

    .venv/bin/python bench/send.py [--recipients 100000] [--rounds 3] [--quick]
        [--workers 2] [--redis-url redis://127.0.0.1:6379/13]

A campaign to a list of N customers runs through the SendGrid adapter to the local fake
(tests/fakes/sendgrid.py, in a process of its own on 127.0.0.1), with EMAIL_BATCH_SIZE
1000 and a rate limit that never throttles: outbox write (INSERT ... SELECT), render per
recipient (Jinja), send, status update and activities. With ``--workers N`` (default 2,
one per core) the engine runs as in production: Redis (``--redis-url`` or
BENCH_REDIS_URL; that database is flushed before each run, so give it one of its own)
and N real RQ workers (``flask worker --queues campaigns``, started and idle before the
clock starts) sending the campaign's CAMPAIGN_SEND_JOBS=N batch jobs at once; the clock
runs from ``send_bulk`` until the campaign is ``sent``. ``--workers 0`` runs it inline in
one process (no Redis), as before. The database is SQLite in a temporary directory, or
BENCH_DATABASE_URL (PostgreSQL; rebuilt before each run).

The floor posts the same number of requests with the same personalizations (built
beforehand by the same code, no database) through the same SDK client. Each run is a
fresh set of processes, so peak RSS (VmHWM; for a worker, the most any of its work horses
reached) is its own; the engine also runs at 10k to compare memory. The fake checks that
every recipient arrived exactly once with no substitution tag left in its body. Like
SendGrid (whose 202 means "queued") it answers once a request is parsed and validated
and builds and counts the request's mails afterwards; the time it took to answer, which
the sender waited for, is printed per message ("fake answering"), and its own CPU.

Targets (issue 22): the engine sustains >= 5,000 messages/s on this 2-core machine (far
above any provider's accepted rate: SendGrid's default plans, SES's 14/s sandbox...),
peak RSS(N) <= 1.2 x RSS(10k), every recipient exactly once. Also printed: the engine's
CPU time per message (the workers' and their work horses' CPU during the send plus the
launching process's, and each process's share) and the ratio to the same-run floor (no
target). Results merge into bench/results.json under "send". Asserts nothing about time.

Each of ``--rounds`` runs the engine (on a fresh copy of the built database) and then
the floor, back to back (this machine's speed drifts between hours); the reported
figures are the median round's.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
RESULTS = HERE / "results.json"
BATCH = 1000
SMALL = 10_000
TARGET_PER_SECOND = 5_000
SECRET = "bench-secret-key-not-for-production"
DOMAIN = "bench.example"
SUBJECT = "This week's specials for {{ customer_name }}"
# A realistic campaign body: a <style> block (CSS inlined at send), three tracked links,
# the customer's tokens and the unsubscribe link (so no footer is added).
HTML = (
    "<html><head><style>p{font-family:Georgia,serif;color:#333}"
    "h2{color:#7b1e3a}.cta{background:#7b1e3a;color:#fff;padding:8px}</style></head><body>"
    "<h2>This week's specials in {{ territory }}</h2>"
    "<p>Hi {{ customer_name|default('there') }},</p>"
    "<p>Limited allocations landed this week: first come, first served. Your last order "
    "was on {{ last_order_date|default('a while ago') }}.</p>"
    '<p><a class="cta" href="https://example.com/specials">See the specials</a></p>'
    '<p><a href="https://example.com/new">New arrivals</a> · '
    '<a href="https://example.com/tasting">Trade tasting</a></p>'
    "<p>Cheers,<br>{{ rep_name }}</p>"
    '<p style="font-size:12px"><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
    "</body></html>"
)
_LEFTOVER_TAG = re.compile(r"-dc[0-9a-f]{8}[ht]\d+-")


# -- the fake, counting instead of keeping every mail ------------------------------------


class _Tally:
    """``received`` for the fake: one counter per recipient number, a few checks."""

    def __init__(self, size: int) -> None:
        self.counts = bytearray(size + 1)
        self.total = 0
        self.problems: list[str] = []

    def extend(self, mails: Any) -> None:
        for mail in mails:
            self.total += 1
            local = mail.to.partition("@")[0]
            number = int(local[1:]) if local[1:].isdigit() else -1
            if 0 < number < len(self.counts):
                self.counts[number] = min(255, self.counts[number] + 1)
            else:
                self.problems.append(f"unexpected recipient {mail.to}")
            if "List-Unsubscribe" not in mail.headers or "List-Unsubscribe-Post" not in (
                mail.headers
            ):
                self.problems.append(f"{mail.to}: no List-Unsubscribe headers")
            if _LEFTOVER_TAG.search(mail.html or "") or _LEFTOVER_TAG.search(mail.text or ""):
                self.problems.append(f"{mail.to}: substitution tag left in the body")

    def check(self, expected: int) -> dict[str, Any]:
        missing = sum(1 for c in self.counts[1 : expected + 1] if c == 0)
        duplicated = sum(1 for c in self.counts[1 : expected + 1] if c > 1)
        return {
            "received": self.total,
            "missing": missing,
            "duplicated": duplicated,
            "problems": len(self.problems),
            "exactly_once": missing == 0 and duplicated == 0 and not self.problems,
            "first_problem": self.problems[0] if self.problems else None,
        }


class _Discard(list):
    def append(self, _item: Any) -> None:
        pass


def counting_fake(size: int) -> tuple[Any, Callable[[], None]]:
    """The SendGrid fake counting what it accepts (:class:`_Tally`), and the call that
    waits until it has counted everything. SendGrid's 202 means "queued": it answers once
    a request is parsed and validated and builds each recipient's mail afterwards. So
    does this fake: each accepted request's mails are built (substitutions put in) and
    counted by a thread of its own after the answer, so the sender does not wait on that
    and on the benchmark's bookkeeping (about 60% of the fake's time per request)."""
    from tests.fakes.sendgrid import FakeSendGrid

    accepted: queue.SimpleQueue[tuple[Any, str] | None] = queue.SimpleQueue()

    class CountingFake(FakeSendGrid):
        def _expand(self, body: Any, message_id: str) -> Iterator[Any]:
            accepted.put((body, message_id))
            return iter(())

    fake = CountingFake()
    fake.received = _Tally(size)  # type: ignore[assignment]
    fake.requests = _Discard()

    def count() -> None:
        while (item := accepted.get()) is not None:
            fake.received.extend(FakeSendGrid._expand(fake, *item))

    counter = threading.Thread(target=count, daemon=True)
    counter.start()

    def counted() -> None:
        accepted.put(None)
        counter.join()

    return fake.start(), counted


def fake_side(recipients: int) -> None:
    """The counting fake in a process of its own, as SendGrid is: prints its address,
    serves until stdin closes, then prints what it received and the time it spent
    answering (the sender waited on that)."""
    fake, counted = counting_fake(recipients)
    handle, busy = fake.handle, [0.0]

    def timed_handle(request: Any) -> Any:
        began = time.perf_counter()
        try:
            return handle(request)
        finally:
            busy[0] += time.perf_counter() - began

    fake.handle = timed_handle  # type: ignore[method-assign]
    cpu_began = time.process_time()
    print(json.dumps({"url": fake.url, "api_key": fake.api_key}), flush=True)
    sys.stdin.read()
    fake.stop()
    counted()
    print(
        json.dumps(
            {
                "requests": fake.request_count,
                "fake": fake.received.check(recipients),
                "handling_seconds": busy[0],
                "cpu_seconds": time.process_time() - cpu_began,
            }
        )
    )


class RemoteFake:
    """:func:`fake_side` started from a benchmark child; ``close()`` gives its tally."""

    def __init__(self, recipients: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--child", "fake", "--recipients", str(recipients)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        address = json.loads(self.process.stdout.readline())
        self.url, self.api_key = address["url"], address["api_key"]

    def close(self) -> dict[str, Any]:
        out, _ = self.process.communicate(timeout=60)
        if self.process.returncode != 0:
            raise SystemExit("the SendGrid fake failed")
        return json.loads(out.strip().splitlines()[-1])


# -- memory -------------------------------------------------------------------------------


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


# -- data ---------------------------------------------------------------------------------


def app_settings(database_url: str, **extra: Any) -> dict[str, Any]:
    settings = {
        "DECANT_ENV": "development",
        "SECRET_KEY": SECRET,
        "DATABASE_URL": database_url,
        "REDIS_URL": None,
        "PUBLIC_BASE_URL": "https://decant.example",
        "FROM_EMAIL": "Decant Wines <marketing@decant.example>",
        "EMAIL_PROVIDER": "console",
        "SMS_PROVIDER": "console",
        "EMAIL_BATCH_SIZE": BATCH,
        "EMAIL_RATE_LIMIT": "10000000/1",
        "CAMPAIGN_JOB_SECONDS": 3600,
    }
    settings.update(extra)
    return settings


def build_database(database_url: str, customers: int) -> None:
    """Schema by the migrations, 4 territories, 8 reps, N customers on one manual list
    (PostgreSQL: its schema emptied first)."""
    from flask_migrate import upgrade
    from sqlalchemy import insert, text

    from app import create_app
    from app.auth.models import User
    from app.crm.models import Customer, Territory
    from app.extensions import db
    from blueprints.lists.models import EmailList, EmailListMember

    app = create_app(app_settings(database_url))
    with app.app_context():
        if database_url.startswith("postgres"):
            db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.session.commit()
        upgrade(revision="heads")
        territories = [Territory(name=n) for n in ("North", "South", "East", "West")]
        db.session.add_all(territories)
        owner = User(email="owner@decant.example", name="Bench Owner", role="admin")
        reps = [
            User(email=f"rep{i}@decant.example", name=f"Rep {i}", role="manager") for i in range(8)
        ]
        db.session.add_all([owner, *reps])
        db.session.flush()
        lst = EmailList(name="Bench list", owner_id=owner.id, is_smart=False)
        db.session.add(lst)
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
                        "account_type": "ACTIVE",
                        "territory_id": territories[i % 4].id,
                        "rep_id": reps[i % 8].id,
                        "custom_fields": {"tier": "gold" if i % 3 else "silver"},
                    }
                    for i in range(lo, hi + 1)
                ],
            )
            db.session.execute(
                insert(EmailListMember),
                [{"list_id": lst.id, "customer_id": i} for i in range(lo, hi + 1)],
            )
        lst.member_count = customers
        db.session.commit()
        db.engine.dispose()


# -- the two sides (each in its own subprocess) --------------------------------------------


def engine_side(
    database_url: str, recipients: int, workers: int, redis_url: str, logs: Path
) -> dict[str, Any]:
    """The campaign through the engine, timed, with the CPU time of its processes."""
    from sqlalchemy import func, select

    from app import create_app
    from app.auth.models import User
    from app.crm.models import Activity
    from app.extensions import db
    from app.messaging import delivery
    from app.messaging.models import Campaign
    from blueprints.email import services
    from blueprints.lists.models import EmailList

    fake = RemoteFake(recipients)
    settings = app_settings(
        database_url,
        EMAIL_PROVIDER="sendgrid",
        SENDGRID_API_KEY=fake.api_key,
        SENDGRID_BASE_URL=fake.url,
    )
    if workers:
        settings.update(REDIS_URL=redis_url, CAMPAIGN_SEND_JOBS=workers)
    app = create_app(settings)
    team = WorkerTeam(workers, settings, logs) if workers else None
    try:
        with app.app_context():
            owner = db.session.scalar(select(User).where(User.role == "admin"))
            list_id = db.session.scalar(select(EmailList.public_id))
            db.session.commit()
            if team is not None:
                team.wait_ready()
            rss_before = _status_kib("VmRSS")
            workers_cpu = team.cpu() if team else []
            began, cpu_began = time.perf_counter(), time.process_time()
            campaign = services.send_bulk(owner, list_id=list_id, subject=SUBJECT, html=HTML)
            campaign_id = campaign.id
            # inline: the whole send; with workers: the request's part (the watching
            # below is the bench's, not the engine's)
            launcher_cpu = time.process_time() - cpu_began
            if team is not None:  # the workers send it; watch for the end
                team.wait_sent(campaign_id)
            seconds = time.perf_counter() - began
            if team is not None:
                team.wait_idle()  # the other jobs' last turn (they find it sent) counts too
                workers_cpu = [
                    after - before for after, before in zip(team.cpu(), workers_cpu, strict=True)
                ]
            campaign = db.session.get(Campaign, campaign_id)
            counts = delivery.status_counts(campaign)
            activities = db.session.scalar(select(func.count()).select_from(Activity))
            status = campaign.status
    finally:
        worker_rss = team.stop() if team else []
        tally = fake.close()
    cpu = launcher_cpu + sum(workers_cpu)
    return {
        "recipients": recipients,
        "workers": workers,
        "seconds": round(seconds, 3),
        "per_second": round(recipients / seconds, 1),
        "cpu_us_per_message": round(cpu / recipients * 1e6, 1),
        "launcher_cpu_us_per_message": round(launcher_cpu / recipients * 1e6, 1),
        "worker_cpu_us_per_message": [round(c / recipients * 1e6, 1) for c in workers_cpu],
        "requests": tally["requests"],
        "fake_handling_us_per_message": round(tally["handling_seconds"] / recipients * 1e6, 1),
        "fake_cpu_us_per_message": round(tally["cpu_seconds"] / recipients * 1e6, 1),
        "campaign_status": status,
        "sent": counts["sent"],
        "activities": activities,
        "fake": tally["fake"],
        "rss_before_send_mib": round(rss_before / 1024, 1),
        # inline: this process; with workers: the largest worker (or work horse)
        "peak_rss_mib": round(max(worker_rss or [_status_kib("VmHWM")]) / 1024, 1),
        "worker_peak_rss_mib": [round(kib / 1024, 1) for kib in worker_rss],
    }


def _cpu_seconds(pid: int) -> float:
    """CPU time of a process and of its children it has waited for (RQ's work horses)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime..cstime


class WorkerTeam:
    """N real ``flask worker --queues campaigns`` processes on the bench's Redis database
    (flushed first), seeing the engine's settings through the environment."""

    def __init__(self, count: int, settings: dict[str, Any], logs: Path) -> None:
        import redis

        self.count = count
        self.redis = redis.Redis.from_url(settings["REDIS_URL"])
        self.redis.flushdb()
        env = {**os.environ, **{k: str(v) for k, v in settings.items() if v is not None}}
        self.logs = [logs / f"worker-{i}.log" for i in range(count)]
        self.procs = []
        for log in self.logs:
            with open(log, "wb") as out:
                self.procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "flask", "--app", "wsgi", "worker"]
                        + ["--queues", "campaigns", "--no-ticker"],
                        cwd=ROOT,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,  # a group: its scheduler stops with it
                    )
                )

    def _fail(self, what: str) -> None:
        tails = "\n".join(log.read_text(errors="replace")[-2000:] for log in self.logs)
        raise SystemExit(f"{what}\n{tails}")

    def wait_ready(self, timeout: float = 120) -> None:
        from rq import Worker

        deadline = time.monotonic() + timeout
        while len(Worker.all(connection=self.redis)) < self.count:
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                self._fail("the RQ workers did not start")
            time.sleep(0.1)

    def wait_sent(self, campaign_id: int, timeout: float = 1800) -> None:
        from sqlalchemy import select

        from app.extensions import db
        from app.messaging.models import Campaign

        deadline = time.monotonic() + timeout
        while True:
            status = db.session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
            db.session.commit()  # no snapshot held between looks
            if status in ("sent", "failed", "paused", "cancelled"):
                return
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                self._fail(f"the campaign did not finish ({status})")
            time.sleep(0.1)

    def wait_idle(self, timeout: float = 30) -> None:
        from rq import Queue
        from rq.registry import ScheduledJobRegistry, StartedJobRegistry

        queue = Queue("campaigns", connection=self.redis)
        registries = (ScheduledJobRegistry(queue=queue), StartedJobRegistry(queue=queue))
        deadline = time.monotonic() + timeout
        while queue.count or any(r.count for r in registries):
            if time.monotonic() > deadline:
                self._fail("the campaign's jobs never went idle")
            time.sleep(0.1)

    def cpu(self) -> list[float]:
        return [_cpu_seconds(p.pid) for p in self.procs]

    def stop(self) -> list[int]:
        """Stop the idle workers (their process groups: a worker's scheduler process
        too); each one's peak RSS in KiB, its work horses included (the rusage of a
        waited-for process covers its own waited-for children)."""
        peaks = []
        for proc in self.procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                _, proc.returncode, usage = os.wait4(proc.pid, 0)
                peaks.append(usage.ru_maxrss)
        return peaks


def floor_side(recipients: int) -> dict[str, Any]:
    """The SDK posts alone: each batch's payloads are built by the engine's own code
    (same rendering, same factoring, so the same bytes) outside the clock, then encoded
    and posted as the adapter does (a JSON string body) with the clock running."""
    from app import create_app
    from blueprints.email import sending
    from providers.email.sendgrid import _JSON_BODY, SendGridEmailProvider, _encode, _plan

    fake = RemoteFake(recipients)
    provider = SendGridEmailProvider(fake.api_key, base_url=fake.url)
    post = provider.client.client.mail.send.post
    app = create_app(app_settings("sqlite://"))
    campaigns: Any = {1: SimpleNamespace(id=1, subject=SUBJECT, html=HTML, ab_test=None)}
    seconds = 0.0
    try:
        with app.app_context():
            for lo in range(1, recipients + 1, BATCH):
                bodies = _floor_payloads(
                    sending, _plan, campaigns, lo, min(recipients, lo + BATCH - 1)
                )
                began = time.perf_counter()
                for body in bodies:  # encoded and posted as the adapter does
                    post(
                        request_body=_encode(body),
                        request_headers=_JSON_BODY,
                        timeout=provider.timeout,
                    )
                seconds += time.perf_counter() - began
    finally:
        tally = fake.close()
    return {
        "recipients": recipients,
        "seconds": round(seconds, 3),
        "per_second": round(recipients / seconds, 1),
        "requests": tally["requests"],
        "fake_handling_us_per_message": round(tally["handling_seconds"] / recipients * 1e6, 1),
        "fake": tally["fake"],
    }


def _floor_payloads(sending: Any, plan: Any, campaigns: Any, lo: int, hi: int) -> list[Any]:
    """One batch's request bodies, as the engine builds them for customers lo..hi."""
    numbers = range(lo, hi + 1)
    rows = [
        SimpleNamespace(
            id=i,
            user_id=None,
            public_id=f"eml_{i:028x}",
            to_address=f"c{i}@{DOMAIN}",
            campaign_id=1,
            customer_id=i,
        )
        for i in numbers
    ]
    contexts = {
        i: {
            "customer_name": f"Bistro {i}",
            "last_order_date": "",
            "territory": ("North", "South", "East", "West")[i % 4],
            "rep_name": f"Rep {i % 8}",
            "tier": "gold" if i % 3 else "silver",
        }
        for i in numbers
    }
    # No database here: the campaign's links numbered as the engine stores them.
    sending.links.campaign_numbers = lambda _campaign, urls: list(range(len(urls)))
    messages, problems = sending.build_messages(rows, campaigns, contexts)
    assert not problems, problems
    return [request.body(messages) for request in plan(messages)]


def _engine_run(
    built: Path | None, size: int, tmp: str, env: dict[str, str], args: argparse.Namespace
) -> dict[str, Any]:
    """The engine on a fresh copy of a built SQLite database, or on BENCH_DATABASE_URL
    rebuilt (a run sends its whole campaign)."""
    if built is None:
        database_url = os.environ["BENCH_DATABASE_URL"]
        _child(["--child", "build", "--recipients", str(size), "--database", database_url], env)
    else:
        database = Path(tmp) / f"send-{size}.sqlite"
        for leftover in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            leftover.unlink(missing_ok=True)
        shutil.copyfile(built, database)
        database_url = f"sqlite:///{database}"
    e = _child(
        ["--child", "engine", "--recipients", str(size), "--database", database_url]
        + ["--workers", str(args.workers), "--redis-url", args.redis_url, "--logs", tmp],
        env,
    )
    where = (
        f"{e['workers']} workers: "
        + " + ".join(f"{c}" for c in e["worker_cpu_us_per_message"])
        + f" + launcher {e['launcher_cpu_us_per_message']}"
        if e["workers"]
        else "inline, one process"
    )
    print(
        f"engine {size:>7,}: {e['per_second']:>8,.0f} msgs/s ({e['seconds']:.1f} s, "
        f"{e['cpu_us_per_message']} us CPU/msg ({where}), fake answering "
        f"{e['fake_handling_us_per_message']} us/msg, fake CPU "
        f"{e['fake_cpu_us_per_message']} us/msg, {e['requests']} requests) "
        f"status={e['campaign_status']} sent={e['sent']:,} "
        f"activities={e['activities']:,} peak RSS {e['peak_rss_mib']} MiB "
        f"(per worker {e['worker_peak_rss_mib']}, launcher before send "
        f"{e['rss_before_send_mib']} MiB) fake={e['fake']}"
    )
    return e


def _child(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"bench/send.py {' '.join(args)} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10k recipients, a smoke run")
    parser.add_argument(
        "--rounds", type=int, default=3, help="engine-then-floor rounds (median ratio)"
    )
    parser.add_argument(
        "--child", choices=("engine", "floor", "build", "fake"), help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="RQ worker processes sending the campaign (0: inline in one process, no Redis)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"),
        help="Redis database for the workers (flushed at each run; BENCH_REDIS_URL)",
    )
    parser.add_argument("--results-key", help="key of bench/results.json [send; send_postgresql]")
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--logs", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "build":
        build_database(args.database, args.recipients)
        print("{}")
        return
    if args.child == "engine":
        result = engine_side(
            args.database, args.recipients, args.workers, args.redis_url, Path(args.logs)
        )
        print(json.dumps(result))
        return
    if args.child == "floor":
        print(json.dumps(floor_side(args.recipients)))
        return
    if args.child == "fake":
        fake_side(args.recipients)
        return

    recipients = SMALL if args.quick else args.recipients
    postgres = bool(os.environ.get("BENCH_DATABASE_URL"))
    sizes = sorted({SMALL, recipients})
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="decant-bench-send-") as tmp:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "DECANT_INSTANCE_PATH": tmp}
        env.pop("REDIS_URL", None)
        engine: dict[int, dict[str, Any]] = {}
        built: dict[int, Path | None] = dict.fromkeys(sizes)
        for size in sizes if not postgres else ():
            path = built[size] = Path(tmp) / f"built-{size}.sqlite"
            started = time.perf_counter()
            _child(
                ["--child", "build", "--recipients", str(size), "--database", f"sqlite:///{path}"],
                env,
            )
            print(f"built {size:,} customers in {time.perf_counter() - started:.1f} s")
        if recipients != SMALL:
            engine[SMALL] = _engine_run(built[SMALL], SMALL, tmp, env, args)
        for number in range(1, max(1, args.rounds) + 1):
            run = _engine_run(built[recipients], recipients, tmp, env, args)
            floor = _child(["--child", "floor", "--recipients", str(recipients)], env)
            ratio = run["per_second"] / floor["per_second"]
            print(
                f"floor  {recipients:>7,}: {floor['per_second']:>8,.0f} msgs/s "
                f"({floor['seconds']:.1f} s, {floor['requests']} requests, fake answering "
                f"{floor['fake_handling_us_per_message']} us/msg) fake={floor['fake']}"
            )
            print(f"round {number}: ratio engine/floor {ratio:.3f}")
            rounds.append({"engine": run, "floor": floor, "ratio": ratio})
    ratios = [r["ratio"] for r in rounds]
    ratio = statistics.median(ratios)
    middle = min(rounds, key=lambda r: abs(r["ratio"] - ratio))
    engine[recipients] = middle["engine"]
    floor = middle["floor"]
    rate = engine[recipients]["per_second"]
    verdict = "met" if rate >= TARGET_PER_SECOND else "missed"
    print(
        f"engine {rate:,.0f} msgs/s (target >= {TARGET_PER_SECOND:,}: {verdict}), "
        f"{engine[recipients]['cpu_us_per_message']} us CPU per message "
        f"({args.workers or 'inline, no'} workers); ratio engine/floor "
        f"{ratio:.3f}, median of {len(ratios)} rounds ({', '.join(f'{r:.3f}' for r in ratios)})"
    )
    # What the cores could carry if nothing else ran: the engine's and the fake's CPU
    # per message spread over every core, the engine's over its processes at most (no
    # lock waits): a ceiling, not a measure.
    used = engine[recipients]["cpu_us_per_message"]
    spent = used + engine[recipients]["fake_cpu_us_per_message"]
    ceiling = min((os.cpu_count() or 1) * 1e6 / spent, max(1, args.workers) * 1e6 / used)
    print(
        f"CPU-bound ceiling on {os.cpu_count()} idle cores (engine + fake CPU per message"
        f"{', without the PostgreSQL server' if postgres else ''}): {ceiling:,.0f} msgs/s"
    )
    memory: dict[str, Any] = {f"{size}": engine[size]["peak_rss_mib"] for size in sizes}
    if len(sizes) > 1:
        growth = engine[recipients]["peak_rss_mib"] / engine[SMALL]["peak_rss_mib"]
        memory["ratio"] = round(growth, 2)
        print(
            f"peak RSS: {engine[SMALL]['peak_rss_mib']} MiB at {SMALL:,}, "
            f"{engine[recipients]['peak_rss_mib']} MiB at {recipients:,}: x{growth:.2f} "
            "(target <= 1.2)"
        )
    runs = [*(r["engine"] for r in rounds), *([engine[SMALL]] if recipients != SMALL else [])]
    ok = all(e["fake"]["exactly_once"] and e["sent"] == e["recipients"] for e in runs)
    print("every recipient received exactly once" if ok else "DELIVERY CHECK FAILED")
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing[args.results_key or ("send_postgresql" if postgres else "send")] = {
        "database": "postgresql" if postgres else "sqlite",
        "workers": args.workers,
        "provider": "sendgrid (local fake)",
        "batch_size": BATCH,
        "recipients": recipients,
        "engine": engine[recipients],
        "engine_small": engine[SMALL] if recipients != SMALL else None,
        "floor": floor,
        "per_second_target": TARGET_PER_SECOND,
        "per_second_target_met": rate >= TARGET_PER_SECOND,
        "cpu_us_per_message": engine[recipients]["cpu_us_per_message"],
        "cpu_bound_ceiling_per_second": round(ceiling),
        "ratio": round(ratio, 3),
        "round_ratios": [round(r, 3) for r in ratios],
        "peak_rss_mib": memory,
        "exactly_once": ok,
    }
    RESULTS.write_text(json.dumps(existing, indent=2) + "\n")  # the file's order kept
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
