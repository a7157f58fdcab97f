"""A list that an unfinished campaign sends to cannot be deleted (issue 21.8)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.messaging.models import Campaign
from app.models_base import utcnow
from blueprints.lists.models import EmailList
from tests.conftest import csrf_from


def _scheduled_campaign(call, user, list_id: str, name: str) -> str:
    when = (utcnow() + timedelta(days=2)).isoformat()
    answer = call(
        user,
        "post",
        "/api/sales/marketing/email/send",
        json={
            "listId": list_id,
            "subject": "Spring tasting",
            "html": "<p>Come taste</p>",
            "scheduledAt": when,
            "name": name,
        },
    )
    assert answer.status_code == 202, answer.get_json()
    return answer.get_json()["id"]


def test_api_delete_is_409_naming_the_campaigns_until_they_are_cancelled(app, demo, manager, call):
    lst = call(manager, "post", "", json={"name": "Tasting guests"}).get_json()
    call(manager, "post", f"/{lst['id']}/members", json={"emails": ["vip@north.example"]})
    first = _scheduled_campaign(call, manager, lst["id"], "Spring tasting")
    second = _scheduled_campaign(call, manager, lst["id"], "Summer tasting")
    db.session.execute(
        Campaign.__table__.update().where(Campaign.public_id == second).values(status="sending")
    )
    db.session.commit()

    refused = call(manager, "delete", f"/{lst['id']}")
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert error["code"] == "list_in_use"
    assert "Spring tasting (scheduled" in error["message"]
    assert "Summer tasting (sending" in error["message"]
    assert error["fields"] == {"campaigns": f"{first}, {second}"}
    assert call(manager, "get", f"/{lst['id']}").status_code == 200  # nothing deleted

    for campaign_id in (first, second):
        cancel = call(manager, "post", f"/api/sales/marketing/campaigns/{campaign_id}/cancel")
        assert cancel.status_code == 200, cancel.get_json()
    assert call(manager, "delete", f"/{lst['id']}").status_code == 204
    assert db.session.scalar(select(EmailList).where(EmailList.public_id == lst["id"])) is None


def test_page_names_the_campaigns_with_links_and_refuses_to_delete(
    app, demo, manager, call, client, login
):
    lst = call(manager, "post", "", json={"name": "Tasting guests"}).get_json()
    call(manager, "post", f"/{lst['id']}/members", json={"emails": ["vip@north.example"]})
    campaign_id = _scheduled_campaign(call, manager, lst["id"], "Spring tasting")
    login(manager)
    page = client.get(f"/sales/marketing/lists/{lst['id']}")
    html = page.get_data(as_text=True)
    assert 'data-testid="list-campaigns"' in html
    assert f'href="/sales/marketing/campaigns/{campaign_id}"' in html
    assert "Spring tasting" in html and "scheduled" in html

    answer = client.post(
        f"/sales/marketing/lists/{lst['id']}/delete",
        data={"csrf_token": csrf_from(html)},
        follow_redirects=True,
    )
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    assert "Not deleted" in text and "Spring tasting" in text and "Cancel them first" in text
    assert db.session.scalar(select(EmailList).where(EmailList.public_id == lst["id"]))

    call(manager, "post", f"/api/sales/marketing/campaigns/{campaign_id}/cancel")
    page = client.get(f"/sales/marketing/lists/{lst['id']}")
    assert 'data-testid="list-campaigns"' not in page.get_data(as_text=True)
    answer = client.post(
        f"/sales/marketing/lists/{lst['id']}/delete",
        data={"csrf_token": csrf_from(page.get_data(as_text=True))},
    )
    assert answer.status_code == 302
    assert db.session.scalar(select(EmailList).where(EmailList.public_id == lst["id"])) is None
