"""SMS inbound: signed Twilio webhooks against the app under gunicorn, vs a floor route.

    BENCH_DATABASE_URL=postgresql://decant:decant@127.0.0.1/decant_sms_bench \\
        .venv/bin/python bench/sms_inbound.py [--requests 2000] [--threads 4]

Each inbound request is signed with the twilio package's RequestValidator for the public
URL, verified, recorded once, filed in a conversation (a third of them from customers, so
an Activity is written too) and answered in TwiML. The floor is the public
/api/openapi.json (cached document), measured in the same run with the same client.
Prints messages/second and p99, and merges the ratios into bench/results.json under
``sms_inbound``. Loopback only; the request count is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load import RESULTS, app_env, flask, free_port, start_gunicorn  # noqa: E402
from tests.fakes.twilio import new_sid, signed_inbound_request  # noqa: E402

INBOUND = "/api/sales/marketing/webhooks/twilio"
FLOOR = "/api/openapi.json"
CUSTOMER_PHONES = [f"+1212555{7000 + i:04d}" for i in range(50)]


def seed_customers(env: dict[str, str]) -> None:
    script = (
        "from app import create_app;from app.extensions import db;"
        "from app.crm.models import Customer;from sqlalchemy import select\n"
        "app=create_app()\nwith app.app_context():\n"
        f" phones={CUSTOMER_PHONES!r}\n"
        " have=set(db.session.scalars(select(Customer.phone).where(Customer.phone.in_(phones))))\n"
        " db.session.add_all(Customer(name='Bench '+p,phone=p) for p in phones if p not in have)\n"
        " db.session.commit()\n"
    )
    import subprocess

    subprocess.run([sys.executable, "-c", script], env=env, check=True, cwd=env["PYTHONPATH"])


def timed(count: int, threads: int, make_call) -> dict[str, float]:
    """Run ``count`` calls over ``threads`` workers; latency percentiles and rate."""
    local = threading.local()
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def one(i: int) -> None:
        nonlocal errors
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        started = time.perf_counter()
        ok = make_call(session, i)
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)
            errors += 0 if ok else 1

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(count)))
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": count,
        "per_second": round(count / wall, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 2),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    count = max(10, min(args.requests, 20_000))
    database_url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        raise SystemExit("set BENCH_DATABASE_URL to a PostgreSQL database (it is migrated)")
    port = free_port()
    env = app_env(database_url, port)
    env["SMS_AUTO_REPLIES"] = '{"HOURS": "We are open 9-5"}'
    flask(env, "db", "upgrade", "heads")  # the core and the plug-ins' branches
    seed_customers(env)
    base = f"http://127.0.0.1:{port}"
    token, public = env["TWILIO_AUTH_TOKEN"], env["PUBLIC_BASE_URL"] + INBOUND
    run_id = new_sid()[2:10]
    signed = []
    for i in range(count):
        sender = (
            CUSTOMER_PHONES[i % 50]
            if i % 3 == 0
            else f"+1415{run_id[:3].translate(str.maketrans('abcdef', '123456'))}{i % 10000:04d}"
        )
        body = "hours" if i % 10 == 0 else f"Order {i}: 2 cases please"
        signed.append(
            signed_inbound_request(
                token, public, {"From": sender, "To": "+12125550100", "Body": body}
            )
        )

    def inbound(session: requests.Session, i: int) -> bool:
        fields, headers = signed[i]
        r = session.post(base + INBOUND, data=fields, headers=headers, timeout=30)
        return r.status_code == 200 and b"<Response" in r.content

    def floor(session: requests.Session, _i: int) -> bool:
        return session.get(base + FLOOR, timeout=30).status_code == 200

    server = start_gunicorn(env, port)
    try:
        timed(min(50, count), args.threads, floor)  # warm every worker
        floor_figures = timed(count, args.threads, floor)
        inbound_figures = timed(count, args.threads, inbound)
    finally:
        server.terminate()
        server.wait(10)
    result = {
        "database": "postgresql",
        "threads": args.threads,
        "floor": floor_figures,
        "inbound": inbound_figures,
        "rate_vs_floor": round(inbound_figures["per_second"] / floor_figures["per_second"], 2),
        "p99_vs_floor": round(inbound_figures["p99_ms"] / max(floor_figures["p99_ms"], 0.01), 2),
    }
    print(json.dumps(result, indent=2))
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing["sms_inbound"] = result
    RESULTS.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
