"""A rep's day: who to contact today and why (clicks, replies, engaged without an order,
overdue reorders, tasks), the one-click actions, and who may see whose day."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.engagement.score import rescore_everyone
from app.extensions import db
from app.models_base import utcnow
from app.repday.service import reorder_interval
from blueprints.email import tracking
from blueprints.email.models import EmailMessage
from blueprints.sms.models import SmsMessage
from tests.app.test_crm_import import poster
from tests.conftest import csrf_from

API = "/api/sales/reps"


@pytest.fixture
def north_rep(make_user):
    return make_user("rep", territory="North")


@pytest.fixture
def book(client, token_headers, admin, make_customer, north_rep):
    """Four North accounts: one clicked, one replied, one overdue, one quiet."""
    post = poster(client, token_headers(admin))
    post("skus", [{"externalId": "SKU-1", "code": "BAR-19", "name": "Barolo", "unitPrice": 40}])
    clicker = make_customer("North", name="Clicker", rep=north_rep)
    replier = make_customer("North", name="Replier", rep=north_rep)
    make_customer("North", name="Overdue", external_id="C-OVER", rep=north_rep)
    make_customer("North", name="Quiet", rep=north_rep)
    make_customer("South", name="Elsewhere")
    message = EmailMessage(
        customer_id=clicker.id, to_address=clicker.email, subject="Specials", status="sent",
        sent_at=utcnow() - timedelta(days=2),
    )  # fmt: skip
    db.session.add(message)
    db.session.add(
        SmsMessage(
            customer_id=replier.id, direction="inbound", to_address="+15550000000",
            from_address=replier.phone, body="Call me", status="received",
            created_at=utcnow() - timedelta(hours=3),
        )
    )  # fmt: skip
    db.session.commit()
    tracking.record_engagement(message, "click", at=utcnow() - timedelta(hours=5))
    today = utcnow().date()
    post(
        "orders",
        [
            {
                "externalId": f"O-{n}",
                "customer": "C-OVER",
                "orderDate": (today - timedelta(days=days)).isoformat(),
                "lines": [{"sku": "SKU-1", "quantity": 1, "unitPrice": 40}],
            }
            for n, days in enumerate((70, 56, 42, 28))  # every 14 days, last 4 weeks ago
        ],
    )
    rescore_everyone()
    return {"clicker": clicker, "replier": replier}


def _day(client, token_headers, user, rep_id="me"):
    answer = client.get(f"{API}/{rep_id}/today", headers=token_headers(user))
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["items"]


def test_the_day_ranks_replies_clicks_and_overdue_reorders(client, token_headers, north_rep, book):
    items = _day(client, token_headers, north_rep)
    # a reply (50) over an account twice its reorder interval late (40) over a click (40)
    assert [i["name"] for i in items] == ["Replier", "Overdue", "Clicker"]
    codes = {i["name"]: [r["code"] for r in i["reasons"]] for i in items}
    assert codes == {"Replier": ["replied"], "Clicker": ["clicked"], "Overdue": ["overdue"]}
    overdue = next(i for i in items if i["name"] == "Overdue")
    assert "usually orders every 14 days; last order 28 days ago" in overdue["reasons"][0]["text"]


def test_call_done_and_snooze_take_accounts_off_today(client, token_headers, north_rep, book):
    def act(customer, action, **body):
        answer = client.post(
            f"{API}/me/today/{customer.public_id}/{action}",
            json=body,
            headers=token_headers(north_rep),
        )
        assert answer.status_code == 204, answer.get_json()

    act(book["replier"], "call", note="Wants 6 Barolo")
    act(book["clicker"], "snooze", days=7)
    assert [i["name"] for i in _day(client, token_headers, north_rep)] == ["Overdue"]
    call = db.session.execute(
        db.text("SELECT type, body FROM activity WHERE customer_id = :c"), {"c": book["replier"].id}
    ).all()
    assert [tuple(r) for r in call] == [("Call", "Wants 6 Barolo")]
    bad = client.post(
        f"{API}/me/today/{book['clicker'].public_id}/snooze", json={"days": 0},
        headers=token_headers(north_rep),
    )  # fmt: skip
    assert bad.status_code == 422 and "days" in bad.get_json()["error"]["fields"]


def test_a_managers_task_tops_the_list_until_done(
    client, token_headers, manager, north_rep, make_customer, book
):
    quiet = make_customer("North", name="Task account", rep=north_rep)
    made = client.post(
        f"{API}/{north_rep.public_id}/tasks",
        json={"customerId": quiet.public_id, "title": "Bring the Barolo samples"},
        headers=token_headers(manager),
    )
    assert made.status_code == 201
    first = _day(client, token_headers, north_rep)[0]
    assert (
        first["name"] == "Task account" and first["tasks"][0]["title"] == "Bring the Barolo samples"
    )
    assert (
        client.post(
            f"{API}/me/today/{quiet.public_id}/done", json={}, headers=token_headers(north_rep)
        ).status_code
        == 204
    )
    assert "Task account" not in [i["name"] for i in _day(client, token_headers, north_rep)]
    refused = client.post(
        f"{API}/{north_rep.public_id}/tasks",
        json={"customerId": quiet.public_id, "title": "x"},
        headers=token_headers(north_rep),
    )
    assert refused.status_code == 403


def test_who_sees_whose_day(client, token_headers, manager, make_user, north_rep, book):
    other = make_user("rep", territory="South")
    assert (
        client.get(f"{API}/{north_rep.public_id}/today", headers=token_headers(other)).status_code
        == 403
    )
    assert len(_day(client, token_headers, manager, north_rep.public_id)) == 3
    assert client.get(f"{API}/usr_nobody/today", headers=token_headers(manager)).status_code == 404


def test_the_page_with_its_actions(client, login, north_rep, book):
    login(north_rep)
    page = client.get("/sales/today")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and html.count('data-testid="call-row"') == 3
    done = client.post(
        f"/sales/today/{book['clicker'].public_id}/done", data={"csrf_token": csrf_from(html)}
    )
    assert done.status_code == 302
    assert client.get("/sales/today").get_data(as_text=True).count('data-testid="call-row"') == 2


@pytest.mark.parametrize(
    ("days", "interval"),
    [([], None), ([date(2026, 1, 1), date(2026, 1, 15)], None),
     ([date(2026, 1, 1), date(2026, 1, 15), date(2026, 1, 29), date(2026, 3, 1)], 14.0)],
)  # fmt: skip
def test_the_usual_reorder_interval_is_the_median_gap(days, interval):
    assert reorder_interval(days) == interval
