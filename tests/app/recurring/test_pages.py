"""The recurring campaign pages: a manager sets one up from a preset rule, sees what comes
next, skips one occurrence and edits another; a rep cannot reach them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.recurring.models import RecurringCampaign, RecurringOccurrence
from tests.conftest import csrf_from

INDEX = "/sales/marketing/recurring"
NEW = f"{INDEX}/new"


def _form(client, list_id, **fields):
    page = client.get(NEW).get_data(as_text=True)
    data = {
        "csrf_token": csrf_from(page),
        "name": "Weekly specials",
        "channel": "email",
        "list_id": list_id,
        "template_id": "",
        "subject": "Specials for {{ customer_name }}",
        "html": "<p>This week</p>",
        "preset": "FREQ=WEEKLY;BYDAY=TU",
        "rule": "",
        "start_date": "2027-10-26",
        "time_of_day": "09:00",
        "time_zone": "America/New_York",
        "featured_rule": "",
        "featured_count": "3",
        "featured_varietal": "",
        **fields,
    }
    return page, client.post(NEW, data=data)


def test_a_manager_sets_one_up_from_a_preset_and_sees_what_comes(client, login, manager, audience):
    list_id, _ = audience
    login(manager)
    campaigns = client.get("/sales/marketing/campaigns").get_data(as_text=True)
    assert 'href="/sales/marketing/recurring"' in campaigns  # reached from the campaigns page
    assert client.get(INDEX).status_code == 200
    page, response = _form(client, list_id)
    assert "Every Tuesday" in page and "First Monday of the month" in page
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Every Tuesday at 09:00 (America/New_York" in detail
    assert "2027-10-26 09:00 EDT" in detail and "2027-11-09 09:00 EST" in detail
    index = client.get(INDEX).get_data(as_text=True)
    assert "Weekly specials" in index


def test_a_bad_custom_rule_keeps_what_was_typed_and_names_the_field(
    client, login, manager, audience
):
    list_id, _ = audience
    login(manager)
    _page, response = _form(client, list_id, preset="custom", rule="FREQ=SOMETIMES", name="Mine")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'value="Mine"' in html and 'value="FREQ=SOMETIMES"' in html
    assert "not a valid RRULE" in html
    assert db.session.scalars(select(RecurringCampaign)).all() == []


def test_skip_and_edit_one_occurrence_on_the_page(client, login, manager, audience):
    list_id, _ = audience
    login(manager)
    _page, response = _form(client, list_id, preset="FREQ=DAILY")
    detail_url = response.headers["Location"]
    detail = client.get(detail_url).get_data(as_text=True)
    rec = db.session.scalars(select(RecurringCampaign)).one()
    first = rec.next_at
    second = first + timedelta(days=1)
    key = lambda when: when.isoformat().replace("+00:00", "Z")  # noqa: E731

    r = client.post(
        f"{detail_url}/occurrences/{key(first)}/skip", data={"csrf_token": csrf_from(detail)}
    )
    assert r.status_code == 302
    edit_url = f"{detail_url}/occurrences/{key(second)}/edit"
    form = client.get(edit_url).get_data(as_text=True)
    assert "2027-10-27 09:00 EDT" in form
    bad = client.post(edit_url, data={"csrf_token": csrf_from(form), "html": "<p>{{ nope"})
    assert bad.status_code == 422 and "{{ nope" in bad.get_data(as_text=True)
    ok = client.post(
        edit_url, data={"csrf_token": csrf_from(form), "subject": "Harvest week", "html": ""}
    )
    assert ok.status_code == 302
    rows = {r.occurs_at: r for r in db.session.scalars(select(RecurringOccurrence))}
    assert rows[first].state == "skipped"
    assert rows[second].subject == "Harvest week" and rows[second].html is None
    detail = client.get(detail_url).get_data(as_text=True)
    assert "own message" in detail and "Send it after all" in detail


def test_pause_and_delete_ask_and_act(client, login, manager, audience):
    list_id, _ = audience
    login(manager)
    _page, response = _form(client, list_id)
    detail_url = response.headers["Location"]
    detail = client.get(detail_url).get_data(as_text=True)
    client.post(f"{detail_url}/pause", data={"csrf_token": csrf_from(detail)})
    assert db.session.scalars(select(RecurringCampaign)).one().status == "paused"
    confirm = client.get(f"{detail_url}/delete").get_data(as_text=True)
    assert "cannot be undone" in confirm
    assert db.session.scalars(select(RecurringCampaign)).one() is not None
    client.post(f"{detail_url}/delete", data={"csrf_token": csrf_from(confirm)})
    assert db.session.scalars(select(RecurringCampaign)).all() == []


def test_reps_cannot_reach_the_pages(client, login, rep):
    login(rep)
    assert client.get(INDEX).status_code == 403
    assert client.get(NEW).status_code == 403
    nav = client.get("/sales/marketing/campaigns").get_data(as_text=True)
    assert 'href="/sales/marketing/recurring"' not in nav


def test_an_admin_puts_a_wine_on_special_on_the_catalogue_page(client, login, admin):
    from app.crm.models import Sku

    login(admin)
    page = client.get("/admin/skus/new").get_data(as_text=True)
    assert "Special price" in page
    fields = {"csrf_token": csrf_from(page), "code": "PN-1", "name": "Volnay", "price": "50"}
    refused = client.post("/admin/skus/new", data={**fields, "special_price": "55"})
    assert refused.status_code == 422 and "below the regular price" in refused.get_data(
        as_text=True
    )
    created = client.post("/admin/skus/new", data={**fields, "special_price": "42", "active": "y"})
    assert created.status_code in (302, 303)
    sku = db.session.scalar(select(Sku).where(Sku.code == "PN-1"))
    assert str(sku.special_price) == "42.00"
    listing = client.get("/admin/skus").get_data(as_text=True)
    assert "42.00" in listing and "special" in listing
