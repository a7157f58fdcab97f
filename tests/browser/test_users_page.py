"""An admin finds the Users page, deactivates a rep after confirming, and the rep's open
browser is signed out on its next click; then revokes a token the same way."""

from __future__ import annotations

import pytest

from app.auth.services import issue_token_row
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def _sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/sales/customers")


def test_admin_deactivates_a_rep_and_revokes_a_token(live_server, page, admin, rep):
    token, _ = issue_token_row(rep, "laptop")
    rep_page = page.context.browser.new_context().new_page()
    _sign_in(rep_page, live_server, rep.email)

    _sign_in(page, live_server, admin.email)
    page.click("nav >> text=Users")
    page.wait_for_selector(f"[data-testid=user-{rep.public_id}]")
    row = page.locator(f"[data-testid=user-{rep.public_id}]")
    row.locator("text=Deactivate").click()
    page.wait_for_selector("text=Deactivate user")
    page.click("[data-testid=confirm]")
    page.wait_for_selector("text=is deactivated and signed out everywhere")
    assert "deactivated" in row.inner_text()

    rep_page.goto(f"{live_server}/sales/customers")
    assert "/login" in rep_page.url  # the rep's live session ended at once

    page.locator(f"[data-testid=token-{token.public_id}] >> text=Revoke").click()
    page.wait_for_selector("text=Revoke API token")
    page.click("[data-testid=confirm]")
    page.wait_for_selector(f"text=Token {token.hint}… is revoked.")
    assert "revoked" in page.inner_text(f"[data-testid=token-{token.public_id}]")
    rep_page.context.close()
