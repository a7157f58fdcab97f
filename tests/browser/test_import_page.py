"""A manager imports accounts from a spreadsheet export in the browser: uploads the CSV,
maps the columns the page could not guess, dry-runs, runs it in the background (a real
RQ worker), watches the progress bar reach 100% and reads the report."""

from __future__ import annotations

import csv

import pytest
from sqlalchemy import func, select

from app.crm.models import Customer
from app.extensions import db
from tests.conftest import PASSWORD, app_settings
from tests.faults.conftest import workers  # noqa: F401 - the real-worker fixture

pytestmark = [pytest.mark.browser, pytest.mark.redis]

ROWS = 3000
BAD = range(0, ROWS, 500)


@pytest.fixture
def app_config(database_url, redis_url):
    return app_settings(database_url, REDIS_URL=redis_url)


def write_export(path) -> None:
    with path.open("w", encoding="cp1252", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Customer #", "Account Name", "E-mail", "Sales Region", "Club"])
        for i in range(ROWS):
            email = "nobody" if i in BAD else f"buyer{i}@caf\u00e9{i}.example.com"
            writer.writerow([f"C-{i:05d}", f"Caf\u00e9 {i}, Lyon", email, "North", "yes"])


def test_map_dry_run_run_and_watch_the_progress(
    live_server,
    page,
    manager,
    territories,
    workers,  # noqa: F811
    tmp_path,
):
    path = tmp_path / "accounts.csv"
    write_export(path)
    group = workers(IMPORT_JOB_BATCH_ROWS=100)
    group.start(queues="default")

    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", manager.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/sales/customers")
    page.click("nav >> text=Import")

    page.select_option("#entity", "customers")
    page.set_input_files("#file", str(path))
    page.click("text=Upload and map columns")
    page.wait_for_selector("[data-testid=mapping-form]")
    # the usual spellings were matched; the others are chosen here
    assert page.input_value("[data-testid='map-Customer #']") == "externalId"
    assert page.input_value("[data-testid='map-E-mail']") == "email"
    assert page.input_value("[data-testid='map-Sales Region']") == "-"
    page.select_option("[data-testid='map-Sales Region']", "territory")
    page.select_option("[data-testid='map-Club']", "customFields.club")
    page.click("button[value=save]")
    preview = page.locator("[data-testid=preview]")
    preview.wait_for()
    assert "Café 1, Lyon" in preview.inner_text() and "customFields.club" in preview.inner_text()

    page.click("button[value=dry-run]")
    page.wait_for_selector("text=Dry run: what the import would do", timeout=60_000)
    assert page.inner_text("[data-testid=count-created]") == str(ROWS - len(BAD))
    assert page.inner_text("[data-testid=count-rejected]") == str(len(BAD))
    assert "nobody" in page.inner_text("[data-testid=rejected-rows]")
    assert db.session.scalar(select(func.count(Customer.id))) == 0
    db.session.commit()

    page.click("button[value=run]")
    page.wait_for_selector("[data-testid=import-status]:has-text('running')", timeout=60_000)
    seen = set()
    for _ in range(600):  # the bar moves without a reload until the job is done
        seen.add(page.inner_text("[data-testid=import-percent]"))
        if page.inner_text("[data-testid=import-status]") == "done":
            break
        page.wait_for_timeout(100)
    page.wait_for_selector("[data-testid=count-created]", timeout=60_000)
    page.wait_for_selector("text=Report")
    assert page.inner_text("[data-testid=import-percent]") == "100%"
    assert len(seen - {"0%", "100%"}) >= 1, seen  # some progress shown on the way
    assert page.inner_text("[data-testid=count-created]") == str(ROWS - len(BAD))
    assert page.inner_text("[data-testid=count-rejected]") == str(len(BAD))
    with page.expect_download() as download:
        page.click("[data-testid=rejects-download]")
    lines = download.value.path().read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(BAD) + 1 and "nobody" in lines[1]
    group.stop_all()
    assert db.session.scalar(select(func.count(Customer.id))) == ROWS - len(BAD)
