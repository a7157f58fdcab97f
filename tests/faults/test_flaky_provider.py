"""The provider answers 429 (Retry-After: 1) or 503 (Retry-After: 1) on 30% of calls and
hangs past PROVIDER_TIMEOUT on 5%: the campaign completes, nobody is lost or sent twice,
and no retry comes sooner than the provider asked. Inline mode (no Redis): the test
drives the batches itself and fast-forwards only plain backoffs (timeouts, no header).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.messaging import delivery
from app.messaging.models import Campaign
from app.models_base import utcnow
from blueprints.email.models import EmailMessage
from tests.conftest import sendgrid_settings
from tests.fakes.sendgrid import Failure, FakeSendGrid
from tests.faults.conftest import API, campaign_state, report, tally

RECIPIENTS = 300
BATCH = 25
TIMEOUT = 1.0  # PROVIDER_TIMEOUT
HANG = 2.0  # the fake stalls this long (bounded), so the client times out


class FlakySendGrid(FakeSendGrid):
    """Scripted failure mix; logs every attempt: (arrival time, recipients, status, Retry-After)."""

    def __init__(self, seed: int) -> None:
        super().__init__(max_hang=HANG)
        self.rng = random.Random(seed)
        self.attempts: list[tuple[float, list[str], int, float | None]] = []
        self._choice = threading.local()

    def _scripted(self) -> Failure | None:
        with self._lock:
            roll = self.rng.random()
        if roll < 0.15:
            failure = Failure(429, {"Retry-After": "1"})
        elif roll < 0.30:
            failure = Failure(503, {"Retry-After": "1"})
        elif roll < 0.35:
            failure = Failure(503, hang=HANG)
        else:
            failure = None
        self._choice.value = failure
        return failure

    def handle(self, request):
        arrived = time.monotonic()
        self._choice.value = None
        response = super().handle(request)
        try:
            body = json.loads(request.get_data())
            to = [t["email"] for p in body.get("personalizations", []) for t in p.get("to", [])]
        except (ValueError, AttributeError):
            to = []
        failure = self._choice.value
        retry_after = None
        if failure is not None and failure.hang is None:
            retry_after = float(failure.headers.get("Retry-After", 0)) or None
        status = -1 if failure is not None and failure.hang else response.status_code
        with self._lock:
            self.attempts.append((arrived, to, status, retry_after))
        return response


@pytest.fixture
def fake():
    server = FlakySendGrid(seed=7).start()
    yield server
    server.stop()


@pytest.fixture
def app_config(database_url, fake):
    return sendgrid_settings(
        database_url,
        fake,
        EMAIL_BATCH_SIZE=BATCH,
        EMAIL_RATE_LIMIT="100000/1",
        PROVIDER_TIMEOUT=TIMEOUT,
    )


def _fast_forward_plain_backoff() -> int:
    """Rows deferred by a timeout (exponential backoff, no Retry-After) are made due now."""
    result = db.session.execute(
        update(EmailMessage)
        .where(
            EmailMessage.status == "queued",
            EmailMessage.next_attempt_at > utcnow() + timedelta(seconds=5),
        )
        .values(next_attempt_at=utcnow())
    )
    db.session.commit()
    return result.rowcount or 0


def test_flaky_provider_campaign_completes_and_honours_retry_after(
    app, client, manager, token_headers, seed_list, fake
):
    list_id, emails = seed_list(manager, RECIPIENTS)
    started = time.monotonic()
    r = client.post(
        f"{API}/email/send",
        json={"listId": list_id, "subject": "Harvest", "html": "<p>{{ customer_name }}</p>"},
        headers=token_headers(manager),
    )
    assert r.status_code == 202, r.get_json()
    campaign_id = db.session.scalar(select(Campaign.id).order_by(Campaign.id.desc()))
    deadline = time.monotonic() + 90
    while campaign_state(campaign_id)[0] != "sent" and time.monotonic() < deadline:
        _fast_forward_plain_backoff()
        delivery.send_campaign_batches(campaign_id)
        time.sleep(0.1)
    status, counts = campaign_state(campaign_id)

    result = tally(emails, [m.to for m in fake.received])
    by_recipient: dict[str, list[tuple[float, int, float | None]]] = defaultdict(list)
    for arrived, to, code, retry_after in fake.attempts:
        for address in to:
            by_recipient[address].append((arrived, code, retry_after))
    gaps = []
    for tries in by_recipient.values():
        tries.sort()
        for (t0, _, asked), (t1, _, _) in zip(tries, tries[1:], strict=False):
            if asked:
                gaps.append((t1 - t0, asked))
    too_soon = [(round(g, 3), a) for g, a in gaps if g < a]
    kinds = defaultdict(int)
    for _, _, code, _ in fake.attempts:
        kinds[{-1: "timeout", 202: "ok"}.get(code, str(code))] += 1
    line = report(
        "flaky-provider",
        {
            **result,
            "requests": dict(kinds),
            "retry_gaps_checked": len(gaps),
            "min_gap": round(min((g for g, _ in gaps), default=0), 3),
            "too_soon": len(too_soon),
            "rows": counts,
            "secs": round(time.monotonic() - started, 1),
        },
    )
    assert status == "sent", line
    assert counts["sent"] == RECIPIENTS and counts["failed"] == 0, line
    assert result["missing"] == 0 and result["duplicates"] == 0, line
    assert kinds["429"] and kinds["503"] and kinds["timeout"], f"the mix did not happen: {line}"
    assert gaps and not too_soon, f"retried sooner than Retry-After: {too_soon[:5]} {line}"
