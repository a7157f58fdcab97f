"""An import page's background job SIGKILLed mid-file, resumed by a new worker: the
database and the rejected-rows file end exactly as a clean run of the same file leaves
them. Real Redis, real ``flask worker`` subprocesses."""

from __future__ import annotations

import csv
import io
import time

import pytest
from sqlalchemy import delete, select

from app.crm.imports.import_log import ImportRun
from app.crm.models import Customer
from app.extensions import db
from tests.conftest import app_settings, csrf_from
from tests.faults.conftest import wait_for

ROWS = 12_000
BATCH = 150
HEADER = ["Account #", "Account Name", "E-mail", "Territory", "Priority", "Wine club"]


def export() -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(HEADER)
    for i in range(ROWS):
        email = "not-an-address" if i % 997 == 0 else f"buyer{i}@shop{i}.example.com"
        priority = ("HIGH", "MEDIUM", "LOW")[i % 3]
        writer.writerow([f"A-{i:06d}", f"Shop {i}, Ltd", email, "North", priority, i % 2])
    return text.getvalue().encode("cp1252")


@pytest.fixture
def app_config(database_url, redis_url):
    return app_settings(database_url, REDIS_URL=redis_url, IMPORT_STALE_SECONDS=1)


def state(public_id: str) -> ImportRun:
    db.session.expire_all()
    entry = db.session.scalar(select(ImportRun).where(ImportRun.public_id == public_id))
    db.session.commit()  # end the read transaction: never hold a snapshot or a lock
    return entry


def customers() -> list[tuple]:
    rows = db.session.execute(
        select(
            Customer.external_id,
            Customer.name,
            Customer.email,
            Customer.account_priority,
            Customer.territory_id,
            Customer.custom_fields,
            Customer.archived,
        ).order_by(Customer.external_id)
    ).all()
    db.session.commit()
    return [tuple(row) for row in rows]


def run_page_import(client, public_id: str) -> None:
    html = client.get(f"/sales/import/{public_id}").get_data(as_text=True)
    form = {"csrf_token": csrf_from(html), "action": "run", "col-5": "customFields.wine_club"}
    form.update({f"col-{at}": f for at, f in enumerate(["externalId", "name", "email"])})
    form.update({"col-3": "territory", "col-4": "accountPriority"})
    response = client.post(f"/sales/import/{public_id}", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]


@pytest.mark.redis
def test_a_killed_import_resumes_to_the_end_state_of_a_clean_run(
    app, client, login, admin, territories, workers
):
    login(admin)
    page = client.get("/sales/import").get_data(as_text=True)
    response = client.post(
        "/sales/import",
        data={
            "entity": "customers",
            "csrf_token": csrf_from(page),
            "file": (io.BytesIO(export()), "accounts.csv"),
        },
        content_type="multipart/form-data",
    )
    public_id = response.headers["Location"].rsplit("/", 1)[1]
    run_page_import(client, public_id)
    assert state(public_id).status == "queued"

    group = workers(IMPORT_JOB_BATCH_ROWS=BATCH)
    first = group.start(queues="default")
    try:
        assert wait_for(lambda: state(public_id).rows_done >= ROWS // 4, 90, 0.02), group.output()
        group.kill(first)
        killed = state(public_id)
        assert killed.status == "running" and 0 < killed.rows_done < ROWS, killed.to_json()
        time.sleep(0.3)
        assert state(public_id).rows_done == killed.rows_done, "still running after SIGKILL"

        time.sleep(1.2)  # silent past IMPORT_STALE_SECONDS: the page offers to resume
        html = client.get(f"/sales/import/{public_id}").get_data(as_text=True)
        assert f"Resume from row {killed.rows_done + 1}" in html
        token = csrf_from(html)
        assert (
            client.post(f"/sales/import/{public_id}/resume", data={"csrf_token": token}).status_code
            == 302
        )
        group.start(queues="default")
        assert wait_for(lambda: state(public_id).status == "done", 120, 0.2), group.output()
        resumed = state(public_id)
        resumed_rows = customers()
        resumed_rejects = resumed.rejects_path.read_bytes()

        # a clean run of the same file on an empty table
        db.session.execute(delete(Customer))
        db.session.commit()
        run_page_import(client, public_id)
        assert wait_for(lambda: state(public_id).status == "done", 120, 0.2), group.output()
        clean = state(public_id)
    finally:
        group.stop_all()

    rejected = len(range(0, ROWS, 997))
    assert clean.counts == {
        "created": ROWS - rejected, "updated": 0, "unchanged": 0, "rejected": rejected,
    }  # fmt: skip
    assert resumed_rows == customers() and len(resumed_rows) == ROWS - rejected
    assert resumed_rows[0][1:3] == ("Shop 1, Ltd", "buyer1@shop1.example.com")
    assert resumed_rows[0][5] == {"wine_club": "1"}
    assert resumed.rejects_path.read_bytes() == resumed_rejects  # the same file...
    assert resumed_rejects.count(b"\r\n") == rejected + 1  # ...each rejected row once
    # the batch written but not yet recorded when the worker died counts as unchanged
    assert resumed.rejected == rejected and resumed.updated == 0
    assert resumed.created + resumed.unchanged == ROWS - rejected
    assert resumed.unchanged <= BATCH
    assert (resumed.rows_done, resumed.rows_total) == (ROWS, ROWS)
