"""An admin creates a rep from the Users page, is shown the one-time invite link, and the
new rep sets a password through it and signs in; then adds a wine to the catalogue."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a long new password"


def _sign_in(page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/sales/customers")


def test_admin_creates_a_user_and_the_invite_link_works_once(live_server, page, admin):
    from tests.conftest import PASSWORD

    _sign_in(page, live_server, admin.email, PASSWORD)
    page.click("nav >> text=Users")
    page.click("[data-testid=new-user]")
    page.fill("input[name=name]", "Rita Rep")
    page.fill("input[name=email]", "rita@example.com")
    page.select_option("select[name=role]", "rep")
    page.click("[data-testid=save]")  # no territory: refused beside the field, typing kept
    page.wait_for_selector("[data-testid=error-territory]")
    assert page.input_value("input[name=email]") == "rita@example.com"
    page.select_option("select[name=territory]", "South")
    page.click("[data-testid=save]")
    link = page.input_value("[data-testid=invite-link]")
    assert "/invite/" in link
    link = live_server + link[link.index("/invite/") :]  # PUBLIC_BASE_URL is not this server
    page.click("text=Back to users")
    assert "Rita Rep" in page.inner_text("[data-testid=users]")
    assert link not in page.content()  # shown once only

    rita = page.context.browser.new_context().new_page()
    rita.goto(link)
    rita.fill("input[name=password]", NEW_PASSWORD)
    rita.fill("input[name=confirm]", NEW_PASSWORD)
    rita.click("button[type=submit]")
    rita.wait_for_url(f"{live_server}/login")
    _sign_in(rita, live_server, "rita@example.com", NEW_PASSWORD)
    assert "Rita Rep · rep · South" in rita.inner_text("[data-testid=current-user]")
    rita.goto(link)
    rita.wait_for_selector("text=This link no longer works")  # used once
    rita.context.close()

    page.click("nav >> text=Wines")
    page.click("[data-testid=new-sku]")
    page.fill("input[name=code]", "BAR-19")
    page.fill("input[name=name]", "Barolo 2019")
    page.fill("input[name=price]", "42.50")
    page.click("[data-testid=save]")
    page.wait_for_selector("text=Barolo 2019 (BAR-19) is in the catalogue.")
    assert "42.50" in page.inner_text("[data-testid=skus]")
