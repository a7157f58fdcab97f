"""SMTP sending against its floor: smtplib sending pre-built messages over one connection.

    .venv/bin/python bench/smtp.py [--messages 10000]

N personalised messages (HTML + text, List-Unsubscribe and List-Unsubscribe-Post) go to a
local aiosmtpd sink (tests/fakes/smtp.py) three ways, in the same run:

* ``floor``: the messages rendered by the email channel's own code and built as MIME
  bytes beforehand, then only ``smtplib.SMTP.sendmail`` over one connection;
* ``provider``: the same pre-rendered messages through ``SmtpEmailProvider.send_batch``
  (our MIME building, one reused connection), batches of 100;
* ``engine``: a campaign to a list of N customers end to end through the email channel
  (SQLite in a temporary database, inline, no Redis): outbox write, claim, render per
  recipient, send through the SMTP provider, status update, activities.

Every message is counted at the sink (each recipient exactly once). Prints msgs/s and the
ratio to the floor (target: engine >= 0.6 x floor) and merges them into
bench/results.json under "smtp". Asserts nothing about time.

``--rounds N`` runs the three paths N times, each round in a rotated order (this VM's
load drifts within minutes: a path always run last met a busier machine), and keeps each
path's median round by msgs/s; every round's figures are kept too.
"""

from __future__ import annotations

import argparse
import json
import os
import smtplib
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.send import DOMAIN, HTML, SUBJECT, app_settings, build_database  # noqa: E402

RESULTS = HERE / "results.json"


def _messages(count: int) -> list[Any]:
    """OutgoingEmail per recipient, rendered by the channel (needs an app context)."""
    from blueprints.email import sending

    out = []
    for i in range(1, count + 1):
        row = SimpleNamespace(id=i, public_id=f"eml_{i:018x}", to_address=f"c{i}@{DOMAIN}")
        context = {
            "customer_name": f"Bistro {i}",
            "territory": ("North", "South", "East", "West")[i % 4],
            "rep_name": f"Rep {i % 8}",
            "tier": "gold" if i % 3 else "silver",
        }
        out.append(sending.outgoing(row, sending.render_for(row, SUBJECT, HTML, context), None))
    return out


def _sink_check(sink: Any, count: int) -> dict[str, Any]:
    seen = Counter(r for m in sink.received for r in m.rcpt_tos)
    expected = {f"c{i}@{DOMAIN}" for i in range(1, count + 1)}
    first = sink.received[0].parsed() if sink.received else None
    headers_ok = (
        first is not None
        and first.get_content_type() == "multipart/alternative"
        and "/email/unsubscribe/" in str(first["List-Unsubscribe"])
        and first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    )
    return {
        "at_sink": len(sink.received),
        "exactly_once": set(seen) == expected and all(n == 1 for n in seen.values()),
        "headers_ok": headers_ok,
        "connections": sink.connections,
    }


def floor(messages: list[Any]) -> dict[str, Any]:
    from providers.email.smtp import build_mime
    from tests.fakes.smtp import SmtpSink

    prebuilt = [
        (m.from_email, m.to, build_mime(m, f"<{i}@decant.example>")) for i, m in enumerate(messages)
    ]
    with SmtpSink() as sink:
        began, cpu = time.perf_counter(), time.process_time()
        smtp = smtplib.SMTP(sink.host, sink.port, timeout=10)
        smtp.ehlo()
        for sender, to, data in prebuilt:
            smtp.sendmail(sender, [to], data)
        smtp.quit()
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
        return _figures(len(messages), seconds, cpu, _sink_check(sink, len(messages)))


def provider_only(messages: list[Any]) -> dict[str, Any]:
    from providers.email.base import SendResult
    from providers.email.smtp import SmtpEmailProvider
    from tests.fakes.smtp import SmtpSink

    with SmtpSink() as sink:
        provider = SmtpEmailProvider(sink.host, sink.port, starttls=False)
        began, cpu = time.perf_counter(), time.process_time()
        ok = 0
        for start in range(0, len(messages), provider.max_batch_size):
            results = provider.send_batch(messages[start : start + provider.max_batch_size])
            ok += sum(isinstance(r, SendResult) for r in results)
        provider.close()
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
        check = _sink_check(sink, len(messages))
        return {**_figures(len(messages), seconds, cpu, check), "ok": ok}


def engine(database: Path, count: int) -> dict[str, Any]:
    from sqlalchemy import select

    from app import create_app
    from app.auth.models import User
    from app.extensions import db
    from app.messaging import delivery
    from app.messaging.models import Campaign
    from blueprints.email import services
    from blueprints.lists.models import EmailList
    from tests.fakes.smtp import SmtpSink

    with SmtpSink() as sink:
        app = create_app(
            app_settings(
                f"sqlite:///{database}",
                EMAIL_PROVIDER="smtp",
                SMTP_HOST=sink.host,
                SMTP_PORT=sink.port,
                SMTP_STARTTLS=False,
            )
        )
        with app.app_context():
            owner = db.session.scalar(select(User).where(User.role == "admin"))
            list_id = db.session.scalar(select(EmailList.public_id))
            began, cpu = time.perf_counter(), time.process_time()
            campaign = services.send_bulk(owner, list_id=list_id, subject=SUBJECT, html=HTML)
            seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
            campaign = db.session.get(Campaign, campaign.id)
            counts = delivery.status_counts(campaign)
            status = campaign.status
            app.extensions["decant_email_provider"].close()
            db.engine.dispose()
        figures = _figures(count, seconds, cpu, _sink_check(sink, count))
    return {**figures, "campaign_status": status, "sent": counts["sent"]}


def _figures(count: int, seconds: float, cpu: float, check: dict[str, Any]) -> dict[str, Any]:
    """``cpu``: this process's CPU time, the sink's thread included (it runs here too)."""
    return {
        "messages": count,
        "seconds": round(seconds, 3),
        "per_second": round(count / seconds, 1),
        "cpu_us_per_message": round(cpu / count * 1e6, 1),
        **check,
    }


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median round by msgs/s (the lower middle one of an even count), with every
    round's msgs/s beside it."""
    ranked = sorted(runs, key=lambda figures: figures["per_second"])
    middle = ranked[(len(ranked) - 1) // 2]
    return {**middle, "rounds_per_second": [f["per_second"] for f in runs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=1, help="rotated order, median kept")
    args = parser.parse_args()
    count = args.messages
    rounds: dict[str, list[dict[str, Any]]] = {"floor": [], "provider": [], "engine": []}
    with tempfile.TemporaryDirectory(prefix="decant-bench-smtp-") as tmp:
        os.environ["DECANT_INSTANCE_PATH"] = tmp
        os.environ.pop("REDIS_URL", None)

        from app import create_app

        with create_app(app_settings("sqlite://")).app_context():
            messages = _messages(count)
        order = list(rounds)
        for number in range(args.rounds):
            database = Path(tmp) / f"smtp-{number}.sqlite"
            build_database(database, count)
            for name in order[number % 3 :] + order[: number % 3]:
                if name == "floor":
                    rounds[name].append(floor(messages))
                elif name == "provider":
                    rounds[name].append(provider_only(messages))
                else:
                    rounds[name].append(engine(database, count))
                print(f"  round {number + 1} {name}: {rounds[name][-1]['per_second']:,.0f} msgs/s")
    results = {name: _median(runs) for name, runs in rounds.items()}
    base = results["floor"]["per_second"]
    base_cpu = results["floor"]["cpu_us_per_message"]
    for name, figures in results.items():
        if name != "floor":
            figures["ratio"] = round(figures["per_second"] / base, 2)
            figures["cpu_ratio"] = round(base_cpu / figures["cpu_us_per_message"], 2)
        print(
            f"{name:8} {figures['per_second']:>8,.0f} msgs/s ({figures['seconds']:.1f} s, "
            f"{figures['cpu_us_per_message']} us CPU/msg) "
            f"at sink {figures['at_sink']:,} exactly once={figures['exactly_once']} "
            f"headers ok={figures['headers_ok']} connections={figures['connections']}"
            + (
                f" ratio x{figures['ratio']:.2f} (by CPU time x{figures['cpu_ratio']:.2f})"
                if "ratio" in figures
                else ""
            )
        )
    print("target: engine >= 0.6 x floor (the CPU-time ratio is what a loaded machine keeps)")
    ok = all(f["exactly_once"] and f["headers_ok"] for runs in rounds.values() for f in runs)
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing["smtp"] = {
        "messages": count,
        "rounds": args.rounds,
        "load_average_1_5_15": [round(x, 1) for x in os.getloadavg()],
        "engine_path": "email channel end to end (campaign, SQLite, inline)",
        **results,
        "ratio": results["engine"]["ratio"],
        "cpu_ratio": results["engine"]["cpu_ratio"],
        "exactly_once": ok,
    }
    RESULTS.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
