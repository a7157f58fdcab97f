"""axe-core (through axe-playwright-python) over the main pages: no serious or critical
violation, and each page fits a 390 px wide phone without scrolling sideways."""

from __future__ import annotations

from typing import Any

import pytest

from app.extensions import db
from app.messaging.models import Template
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

SERIOUS = ("serious", "critical")
PHONE = {"width": 390, "height": 844}


def _violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    found = []
    for violation in results.response["violations"]:
        if violation.get("impact") in SERIOUS:
            targets = [node["target"] for node in violation["nodes"]][:3]
            found.append(f"{violation['id']} ({violation['impact']}): {targets}")
    return found


def _seed(manager: Any, make_customer: Any) -> dict[str, str]:
    """A customer, a list with members, an SMS thread, a template, an email to unsubscribe."""
    from blueprints.email import tracking
    from blueprints.email.models import EmailMessage
    from blueprints.lists.models import EmailList, EmailListMember
    from blueprints.sms.models import SmsConversation, SmsMessage

    customer = make_customer(name="Harbour Wine Bar", email="harbour@shop.example")
    lst = EmailList(name="Spring tasting", owner_id=manager.id, is_smart=False, member_count=1)
    db.session.add(lst)
    db.session.flush()
    db.session.add(EmailListMember(list_id=lst.id, customer_id=customer.id))
    thread = SmsConversation(customer_id=customer.id, phone=customer.phone, unread_count=1)
    db.session.add(thread)
    db.session.flush()
    db.session.add(
        SmsMessage(
            conversation_id=thread.id,
            customer_id=customer.id,
            direction="inbound",
            status="received",
            to_address="+15005550006",
            from_address=customer.phone,
            body="Any Chablis left?",
        )
    )
    db.session.add(Template(name="Tasting invite", type="sms", body="Hi {{ customer_name }}"))
    message = EmailMessage(to_address=customer.email, subject="S", customer_id=customer.id)
    db.session.add(message)
    db.session.commit()
    token_path = tracking.preferences_url(message.id).split("/email/", 1)[1]
    unsubscribe = tracking.unsubscribe_url(message.id).split("/email/", 1)[1]
    return {
        "customer": f"/sales/customers/{customer.public_id}",
        "list": f"/sales/marketing/lists/{lst.public_id}",
        "conversation": f"/sales/marketing/sms/{thread.public_id}",
        "preferences": f"/email/{token_path}",
        "unsubscribe": f"/email/{unsubscribe}",
    }


def test_main_pages_have_no_serious_accessibility_violations(
    live_server, page, admin, make_customer
):
    seeded = _seed(admin, make_customer)
    public = ["/login", seeded["preferences"], seeded["unsubscribe"], "/stay-subscribed"]
    private = [
        "/",
        "/sales/customers",
        seeded["customer"],
        "/sales/marketing/lists",
        seeded["list"],
        "/sales/marketing/lists/new",
        "/sales/marketing/sms",
        seeded["conversation"],
        "/sales/marketing/templates",
        "/sales/marketing/campaigns",
        "/sales/marketing/sunset",
        "/users",
        "/sales/import",
        "/settings/brand",
        "/dev/outbox",
    ]
    problems: dict[str, list[str]] = {}
    page.set_viewport_size(PHONE)
    for path in public:
        page.goto(f"{live_server}{path}")
        problems[path] = _violations(page) + _too_wide(page) + _duplicate_ids(page)
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", admin.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    for path in private:
        response = page.goto(f"{live_server}{path}")
        assert response is not None and response.status == 200, path
        problems[path] = _violations(page) + _too_wide(page) + _duplicate_ids(page)
    problems = {path: found for path, found in problems.items() if found}
    assert problems == {}, "\n".join(f"{p}: {'; '.join(v)}" for p, v in problems.items())


def _duplicate_ids(page: Any) -> list[str]:
    """Ids are unique (a label's ``for`` and aria references find one element)."""
    ids = page.evaluate("Array.from(document.querySelectorAll('[id]')).map(e => e.id)")
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    return [f"duplicate ids: {repeated}"] if repeated else []


def _too_wide(page: Any) -> list[str]:
    """A page wider than the phone scrolls sideways (tables scroll inside their box)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    if width <= PHONE["width"]:
        return []
    culprits = page.evaluate(WIDEST)
    return [f"page is {width}px wide at 390px: {culprits}"]


#: the deepest elements sticking out on the right (outside boxes that scroll themselves)
WIDEST = """() => {
  const out = [];
  const walk = (parent, depth) => {
    for (const el of Array.from(parent.children)) {
      const before = document.documentElement.scrollWidth;
      const display = el.style.display;
      el.style.display = "none";
      const after = document.documentElement.scrollWidth;
      el.style.display = display;
      if (after < before) {
        out.push(el.tagName.toLowerCase() + "." + Array.from(el.classList).join("."));
        if (depth < 6) walk(el, depth + 1);
        return;
      }
    }
  };
  walk(document.body, 0);
  return out;
}"""
