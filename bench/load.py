"""Load: the app under gunicorn on PostgreSQL, loopback only, a bounded run per scenario.

    BENCH_DATABASE_URL=postgresql://decant:decant@127.0.0.1/decant_bench \\
        .venv/bin/python bench/load.py [--rate 200] [--seconds 20]

Scenarios (each a fixed offered rate for a fixed time, driven by locust headless):
``floor`` (GET /api/users/me: auth + one query, the floor), ``timeline`` (a customer's
activities, paged), ``send`` (POST email/send with the console provider) and ``webhook``
(signed Twilio inbound messages). Prints p50/p99 latency, throughput and error rate, each
against the floor measured in the same run, and merges them into bench/results.json.
Targets (issue 8): zero errors; timeline p99 under 100 ms at 200 requests/s.

Set-up for a 2-core machine shared by gunicorn, PostgreSQL and locust: gunicorn runs
2 gthread workers x 4 threads (a process per core, keep-alive; 3 x 8 threads churned
pool overflow connections and queued on the GIL), no access log; locust's users are
FastHttpUser with Poisson arrivals (see bench/locustfile.py and docs/decisions.md).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.request import urlopen

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results.json"
SCENARIOS = ("floor", "timeline", "send", "webhook")
TWILIO_SID = "AC" + "0" * 32
TWILIO_NUMBER = "+12125550100"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_env(database_url: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DECANT_ENV": "production",
        "SECRET_KEY": "bench-" + secrets.token_urlsafe(24),
        "DATABASE_URL": database_url,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "SESSION_COOKIE_SECURE": "false",
        "EMAIL_PROVIDER": "console",
        "SMS_PROVIDER": "console",
        "TWILIO_AUTH_TOKEN": "bench-auth-token",
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_PHONE_NUMBER": TWILIO_NUMBER,
        "PYTHONPATH": str(ROOT),
        "DECANT_INSTANCE_PATH": str(HERE / ".instance"),
    }


def flask(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def prepare(env: dict[str, str]) -> dict[str, object]:
    """Migrate, load the demo once, and collect a token and ids for the users."""
    flask(env, "db", "upgrade", "heads")  # the core and the plug-ins' branches
    flask(env, "demo", "load")
    email = f"bench-{secrets.token_hex(3)}@decant.example"
    flask(
        env,
        "users",
        "create",
        email,
        "--name",
        "Bench",
        "--role",
        "manager",
        "--password-stdin",
        stdin=secrets.token_urlsafe(16) + "\n",
    )
    token = flask(env, "users", "token", email).strip().splitlines()[-1]
    # Customers who may be emailed (the send scenario must not be refused as opted out).
    script = (
        "import json;from app import create_app;from app.extensions import db;"
        "from app.crm.models import Customer;from app.messaging.consent import "
        "contactable_clause;from sqlalchemy import select\n"
        "app=create_app()\nwith app.app_context():\n"
        " rows=db.session.execute(select(Customer.public_id,Customer.email,Customer.phone)"
        ".where(contactable_clause('email')).limit(400)).all()\n"
        " print(json.dumps([list(r) for r in rows]))"
    )
    rows = json.loads(
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    return {
        "token": token,
        "customers": [r[0] for r in rows],
        "email_customers": [{"id": r[0], "email": r[1]} for r in rows if r[1]],
        "phones": [r[2] for r in rows if r[2]],
        "twilio_sid": TWILIO_SID,
        "twilio_token": env["TWILIO_AUTH_TOKEN"],
        "twilio_number": TWILIO_NUMBER,
        "webhook_url": env["PUBLIC_BASE_URL"] + "/api/sales/marketing/webhooks/twilio",
    }


def start_gunicorn(env: dict[str, str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            "2",
            "-k",
            "gthread",
            "--threads",
            "4",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urlopen(f"http://127.0.0.1:{port}/login", timeout=1).read()
            return proc
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit("gunicorn did not start")


def settle(host: str, limit: float = 180) -> float:
    """Wait until the server answers promptly again; returns the seconds waited.

    A saturating scenario (send) leaves work behind it that goes on after locust stops;
    the next scenario must not be measured against that backlog.
    """
    start = time.monotonic()
    quick = 0
    while quick < 5 and time.monotonic() - start < limit:
        began = time.monotonic()
        try:
            urlopen(f"{host}/login", timeout=limit).read()
        except OSError:
            time.sleep(0.5)
            continue
        quick = quick + 1 if time.monotonic() - began < 0.05 else 0
        time.sleep(0.2)
    return round(time.monotonic() - start, 1)


def run_scenario(name: str, host: str, data_file: str, rate: int, seconds: int) -> dict:
    users = max(1, rate // 2)
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, name)
        env = {
            **os.environ,
            "LOAD_DATA": data_file,
            "LOAD_SCENARIO": name,
            "LOAD_PER_USER_RATE": str(rate / users),
        }
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(HERE / "locustfile.py"),
                "--headless",
                "-u",
                str(users),
                "-r",
                str(users),
                "-t",
                f"{seconds}s",
                "--host",
                host,
                "--csv",
                prefix,
                "--only-summary",
                "--stop-timeout",
                "5",
                "--loglevel",
                "ERROR",
            ],
            cwd=ROOT,
            env=env,
            check=False,
            capture_output=True,
            text=True,
        )
        if done.returncode not in (0, 1):  # 1: some requests failed, still reported
            raise SystemExit(f"locust failed for {name}:\n{done.stderr[-2000:]}")
        with open(prefix + "_stats.csv") as fh:
            row = next((r for r in csv.DictReader(fh) if r["Name"] == name), None)
        if row is None:
            raise SystemExit(f"locust reported no {name} requests:\n{done.stderr[-2000:]}")
    count = int(row["Request Count"])
    return {
        "offered_rps": rate,
        "requests": count,
        "rps": round(float(row["Requests/s"]), 1),
        "p50_ms": float(row["50%"]),
        "p99_ms": float(row["99%"]),
        "error_rate": round(int(row["Failure Count"]) / count, 4) if count else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = parser.parse_args()
    database_url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        raise SystemExit("set BENCH_DATABASE_URL to a PostgreSQL database (it is migrated)")
    port = free_port()
    env = app_env(database_url, port)
    data = prepare(env)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(data, fh)
    server = start_gunicorn(env, port)
    results: dict[str, dict] = {}
    try:
        host = f"http://127.0.0.1:{port}"
        for name in args.scenarios.split(","):
            waited = settle(host)
            results[name] = run_scenario(name, host, fh.name, args.rate, args.seconds)
            results[name]["settled_s"] = waited
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
        os.unlink(fh.name)
    floor = results.get("floor")
    for name, figures in results.items():
        if floor and name != "floor":
            figures["p99_vs_floor"] = round(figures["p99_ms"] / max(floor["p99_ms"], 1), 2)
            figures["rps_vs_floor"] = round(figures["rps"] / max(floor["rps"], 0.1), 2)
        print(f"{name:9} {figures}")
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing["load"] = {"database": "postgresql", "seconds": args.seconds, "scenarios": results}
    RESULTS.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
