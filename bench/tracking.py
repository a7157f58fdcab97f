"""Tracking ingestion: open pixels, click redirects and signed SendGrid event batches
against the app under gunicorn on PostgreSQL, vs a floor route in the same run.

    BENCH_DATABASE_URL=postgresql://decant:decant@127.0.0.1/decant_bench \\
        .venv/bin/python bench/tracking.py [--recipients 100000] [--requests 4000] \\
        [--threads 16] [--event-messages 10000] [--batch-threads 4]

A campaign of ``--recipients`` messages is materialised set-based (one INSERT ... SELECT
over generate_series; no bodies, as campaign rows keep none). Then, with the same client
(``--threads`` connections, keep-alive) and gunicorn 2 workers x 4 threads:

* floor: ``GET /api/users/me`` with a bearer token (auth + one query), measured before
  and after the tracking burst (the mean is the floor);
* tracking: ``--requests`` requests, half open pixels and half click redirects, the open
  and the click of one message side by side (the counter race of issue 26);
* SendGrid: ``--event-messages`` other messages, delivered + open + click each, in signed
  batches of 1,000 events posted ``--batch-threads`` at a time, then all of them again
  (a replay: every event a duplicate).

Afterwards the database is checked: every request and event recorded exactly once
(webhook rows, email_event rows per type, each message's counters equal to its event
rows, no open counted twice). Prints the figures and merges them into
bench/results.json under ``tracking``. Loopback only; every loop is bounded.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import RESULTS, app_env, flask, free_port  # noqa: E402

CAMPAIGN = "bench-tracking"
BATCH = 1000
BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15"
)
WEBHOOK = "/api/sales/marketing/webhooks/sendgrid"


def start_gunicorn(env: dict[str, str], port: int, wait: float = 180) -> subprocess.Popen:
    """gunicorn 2 gthread workers x 4 threads (as bench/load.py), given ``wait`` seconds
    to answer: a loaded machine takes more than load.py's 30 to import the app twice;
    a worker's heartbeat may wait 120 s (not 30) before it is killed as stuck."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "4",
         "-b", f"127.0.0.1:{port}", "--log-level", "warning", "--timeout", "120", "wsgi:app"],
        cwd=ROOT,
        env=env,
    )  # fmt: skip
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            urlopen(f"http://127.0.0.1:{port}/login", timeout=2).read()
            return proc
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit("gunicorn did not start")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else 0.0


def timed(count: int, threads: int, call: Any) -> dict[str, Any]:
    """``call(session, i)`` for i < count over ``threads`` keep-alive sessions."""
    local = threading.local()
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        started = time.perf_counter()
        try:
            problem = call(session, i)
        except requests.RequestException as exc:  # counted, never a crash of the bench
            problem = f"{type(exc).__name__}: {exc}"[:200]
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)
            if problem:
                errors.append(problem)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(count)))
    wall = time.perf_counter() - started
    return {
        "requests": count,
        "seconds": round(wall, 2),
        "per_second": round(count / wall, 1),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
    }


def seed(engine: Any, recipients: int) -> tuple[int, int]:
    """A sent campaign of ``recipients`` messages and its one link; (campaign id, first
    message id). The previous run's campaign is deleted (its rows cascade)."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM campaign WHERE name = :n"), {"n": CAMPAIGN})
        campaign_id = conn.execute(
            text(
                "INSERT INTO campaign (public_id, channel, name, subject, audience_type, status,"
                " recipients_total, send_local_time, created_at, updated_at)"
                " VALUES (:p, 'email', :n, 'Bench', 'list', 'sent', :r, false, now(), now())"
                " RETURNING id"
            ),
            {"p": "cmp" + secrets.token_hex(8), "n": CAMPAIGN, "r": recipients},
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO email_link (campaign_id, number, url)"
                " VALUES (:c, 0, 'https://shop.example/wine')"
            ),
            {"c": campaign_id},
        )
        conn.execute(
            text(
                "INSERT INTO email_message (public_id, campaign_id, to_address, status, attempts,"
                " provider, provider_message_id, sent_at, open_count, click_count,"
                " human_open_count, human_click_count, created_at, updated_at)"
                " SELECT 'emlbench' || :c || 'n' || g, :c, 'r' || g || '@bench.example', 'sent',"
                " 1, 'sendgrid', 'sgbench' || :c || 'n' || g, now() - interval '1 hour',"
                " 0, 0, 0, 0, now(), now() FROM generate_series(1, :r) AS g"
            ),
            {"c": campaign_id, "r": recipients},
        )
        first = conn.execute(
            text("SELECT min(id) FROM email_message WHERE campaign_id = :c"), {"c": campaign_id}
        ).scalar_one()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE email_message"))
    return campaign_id, first


def open_tokens(env: dict[str, str], ids: range) -> list[str]:
    """The messages' tracking tokens, signed by the app with the server's secret key."""
    os.environ.update(env)
    from app import create_app
    from blueprints.email.tracking import tracking_token

    app = create_app()
    with app.app_context():
        return [tracking_token(i) for i in ids]


def sendgrid_batches(campaign_id: int, numbers: range) -> list[list[dict[str, Any]]]:
    """Delivered, open and click of each message (in that order, a minute apart), cut
    into batches of 1,000 events: one message's events may straddle two batches."""
    now = int(time.time())
    events = []
    for n in numbers:
        base = {
            "email": f"r{n}@bench.example",
            "sg_message_id": f"sgbench{campaign_id}n{n}.filter0001.1.0",
            "message_id": f"emlbench{campaign_id}n{n}",
        }
        for step, kind in enumerate(("delivered", "open", "click")):
            event = {
                **base,
                "event": kind,
                "timestamp": now - 600 + step * 60,
                "sg_event_id": f"bench{campaign_id}-{n}-{kind}",
            }
            if kind != "delivered":
                event["useragent"] = BROWSER
                event["ip"] = "203.0.113.9"
            if kind == "click":
                event["url"] = "https://shop.example/wine"
            events.append(event)
    return [events[i : i + BATCH] for i in range(0, len(events), BATCH)]


def signed(key: ec.EllipticCurvePrivateKey, batch: list[dict[str, Any]]) -> tuple[bytes, dict]:
    body = json.dumps(batch).encode()
    stamp = str(int(time.time()))
    signature = key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return body, {
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
    }


def check(engine: Any, campaign_id: int, burst: range, events: range) -> dict[str, Any]:
    """What the database recorded, against what was sent."""
    with engine.connect() as conn:

        def one(sql: str, **params: Any) -> Any:
            return conn.execute(text(sql), {"c": campaign_id, **params}).one()

        def types(lo: int, hi: int) -> dict[str, list[int]]:
            rows = conn.execute(
                text(
                    "SELECT e.type, count(*), count(*) FILTER (WHERE e.implied),"
                    " count(*) FILTER (WHERE e.machine) FROM email_event e"
                    " JOIN email_message m ON m.id = e.message_id"
                    " WHERE m.campaign_id = :c AND m.id BETWEEN :lo AND :hi GROUP BY e.type"
                ),
                {"c": campaign_id, "lo": lo, "hi": hi},
            ).all()
            return {row[0]: [row[1], row[2], row[3]] for row in rows}

        def counters(lo: int, hi: int) -> list[int]:
            return list(
                one(
                    "SELECT coalesce(sum(open_count), 0), coalesce(sum(click_count), 0),"
                    " count(delivered_at), coalesce(sum(human_open_count), 0)"
                    " FROM email_message WHERE campaign_id = :c AND id BETWEEN :lo AND :hi",
                    lo=lo,
                    hi=hi,
                )
            )

        mismatched = one(
            "SELECT count(*) FROM email_message m WHERE m.campaign_id = :c AND ("
            " m.open_count <> (SELECT count(*) FROM email_event e"
            "  WHERE e.message_id = m.id AND e.type = 'open') OR"
            " m.click_count <> (SELECT count(*) FROM email_event e"
            "  WHERE e.message_id = m.id AND e.type = 'click'))"
        )[0]
        opened_twice = one(
            "SELECT count(*) FROM email_message WHERE campaign_id = :c AND open_count > 1"
        )[0]
        webhook_rows = one(
            "SELECT count(*), count(*) FILTER (WHERE status = 'done') FROM webhook_event"
            " WHERE provider = 'sendgrid' AND event_id LIKE :p",
            p=f"bench{campaign_id}-%",
        )
        burst_lo, burst_hi = burst.start, burst.stop - 1
        events_lo, events_hi = events.start, events.stop - 1
        return {
            "burst_events_by_type": types(burst_lo, burst_hi),
            "burst_counters_open_click_delivered_humanopen": counters(burst_lo, burst_hi),
            "sendgrid_events_by_type": types(events_lo, events_hi),
            "sendgrid_counters_open_click_delivered_humanopen": counters(events_lo, events_hi),
            "webhook_rows_and_done": list(webhook_rows),
            "messages_whose_counters_differ_from_their_events": mismatched,
            "messages_opened_more_than_once": opened_twice,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--event-messages", type=int, default=10_000)
    parser.add_argument("--batch-threads", type=int, default=4)
    args = parser.parse_args()
    recipients = max(1000, min(args.recipients, 1_000_000))
    pairs = max(10, min(args.requests // 2, recipients // 2))
    event_messages = max(10, min(args.event_messages, recipients - pairs))
    database_url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        raise SystemExit("set BENCH_DATABASE_URL to a PostgreSQL database (it is migrated)")
    key = ec.generate_private_key(ec.SECP256R1())
    port = free_port()
    env = app_env(database_url, port)
    env["SENDGRID_WEBHOOK_PUBLIC_KEY"] = base64.b64encode(
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    flask(env, "db", "upgrade", "heads")  # the core and the plug-ins' branches
    email = f"bench-{secrets.token_hex(3)}@decant.example"
    flask(env, "users", "create", email, "--name", "Bench", "--role", "manager",
          "--password-stdin", stdin=secrets.token_urlsafe(16) + "\n")  # fmt: skip
    token = flask(env, "users", "token", email).strip().splitlines()[-1]
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    started = time.perf_counter()
    campaign_id, first = seed(engine, recipients)
    seeded_s = round(time.perf_counter() - started, 1)
    burst = range(first, first + pairs)
    events = range(first + pairs, first + pairs + event_messages)
    tokens = open_tokens(env, burst)
    batches = sendgrid_batches(campaign_id, range(pairs + 1, pairs + 1 + event_messages))
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {token}"}

    def floor(session: requests.Session, _i: int) -> str | None:
        r = session.get(base + "/api/users/me", headers=auth, timeout=60)
        return None if r.status_code == 200 else f"floor {r.status_code}"

    def tracking(session: requests.Session, i: int) -> str | None:
        pair, kind = divmod(i, 2)
        tok = tokens[pair]
        if kind == 0:
            r = session.get(f"{base}/email/t/o/{tok}.gif", headers={"User-Agent": BROWSER})
            ok = r.status_code == 200 and r.content.startswith(b"GIF89a")
        else:
            r = session.get(
                f"{base}/email/t/c/{tok}/0",
                headers={"User-Agent": BROWSER},
                allow_redirects=False,
                timeout=60,
            )
            ok = r.status_code == 302 and r.headers.get("Location") == "https://shop.example/wine"
        return None if ok else f"{'open' if kind == 0 else 'click'} {r.status_code}"

    answers: list[dict[str, Any]] = []

    def post(session: requests.Session, i: int) -> str | None:
        body, headers = signed(key, batches[i])
        r = session.post(base + WEBHOOK, data=body, headers=headers, timeout=300)
        if r.status_code != 200:
            return f"sendgrid {r.status_code} {r.text[:200]}"
        answers.append(r.json())
        return None

    server = start_gunicorn(env, port)
    try:
        timed(64, args.threads, floor)  # warm every worker and thread
        floor_before = timed(pairs * 2, args.threads, floor)
        track = timed(pairs * 2, args.threads, tracking)
        floor_after = timed(pairs * 2, args.threads, floor)
        first_pass = timed(len(batches), args.batch_threads, post)
        new_events = sum(a.get("new", 0) for a in answers)
        answers.clear()
        replay = timed(len(batches), args.batch_threads, post)
        replay_new = sum(a.get("new", 0) for a in answers)
    finally:
        server.terminate()
        server.wait(10)
    floor_rate = (floor_before["per_second"] + floor_after["per_second"]) / 2
    sent_events = sum(len(b) for b in batches)
    result = {
        "database": "postgresql",
        "gunicorn": "2 workers x 4 threads (gthread)",
        "command": " ".join(["bench/tracking.py", *sys.argv[1:]]),
        "recipients": recipients,
        "seed_seconds": seeded_s,
        "threads": args.threads,
        "floor_before": floor_before,
        "floor_after": floor_after,
        "tracking": track,
        "tracking_vs_floor": round(track["per_second"] / floor_rate, 2),
        "p99_vs_floor": round(
            track["p99_ms"] / max((floor_before["p99_ms"] + floor_after["p99_ms"]) / 2, 0.01), 2
        ),
        "sendgrid": {
            "batch_threads": args.batch_threads,
            "events": sent_events,
            "batches": first_pass,
            "new": new_events,
            "events_per_second": round(sent_events / first_pass["seconds"], 1),
            "replay": replay,
            "replay_new": replay_new,
            "replay_events_per_second": round(sent_events / replay["seconds"], 1),
        },
        "recorded": check(engine, campaign_id, burst, events),
    }
    print(json.dumps(result, indent=2))
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing["tracking"] = result
    RESULTS.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
