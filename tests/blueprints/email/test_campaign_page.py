"""A manager creates a campaign from the page: list picker, template, send now."""

from __future__ import annotations

from tests.blueprints.email.conftest import dev_messages
from tests.conftest import csrf_from


def test_new_campaign_page_sends_to_the_chosen_list(
    client, login, manager, make_customer, make_list
):
    customers = [make_customer(email=f"cellar{i}@example.com") for i in range(3)]
    list_id = make_list(manager, customers, name="Cellar club")
    login(manager)
    page = client.get("/sales/marketing/campaigns/new").get_data(as_text=True)
    assert "Cellar club (3)" in page
    response = client.post(
        "/sales/marketing/campaigns/new",
        data={
            "csrf_token": csrf_from(page),
            "name": "Autumn release",
            "list_id": list_id,
            "template_id": "",
            "subject": "The autumn release, {{ customer_name }}",
            "html": "<p>New Barolo is in.</p>",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Autumn release" in detail
    assert sorted(m.to for m in dev_messages()) == sorted(c.email for c in customers)


def test_new_campaign_page_refuses_a_list_it_does_not_offer(
    client, login, rep, manager, make_customer, make_list
):
    other = make_list(manager, [make_customer("South")], name="Managers only")
    login(rep)
    page = client.get("/sales/marketing/campaigns/new").get_data(as_text=True)
    assert "Managers only" not in page
    response = client.post(
        "/sales/marketing/campaigns/new",
        data={"csrf_token": csrf_from(page), "list_id": other, "subject": "x", "html": "<p>x</p>"},
    )
    assert response.status_code == 422  # the form shows the choice error; nothing sent
    assert 'data-testid="error-list_id"' in response.get_data(as_text=True)
    assert dev_messages() == []
