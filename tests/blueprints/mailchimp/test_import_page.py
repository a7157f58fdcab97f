"""The audience import has a page: pick an audience and a CRM list, see progress and result."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from blueprints.mailchimp.models import MailchimpImport
from tests.blueprints.mailchimp.conftest import LISTS
from tests.conftest import csrf_from

PAGE = "/settings/marketing/mailchimp/import"


def _imports() -> int:
    return db.session.scalar(select(func.count()).select_from(MailchimpImport)) or 0


def _audience(fake, make_customer):
    fake.add_audience("Trade", "aud1")
    known = make_customer(email="Buyer@Example.com", name="Buyer")
    other = make_customer(email="somm@example.com", name="Somm")
    for email in ("buyer@example.com", "somm@example.com", "nobody@example.com"):
        fake.add_member("aud1", email)
    fake.add_member("aud1", "gone@example.com", status="unsubscribed")
    return known, other


def test_manager_imports_an_audience_into_a_list(
    client, login, call, manager, connected, fake, make_customer, crm_list
):
    known, other = _audience(fake, make_customer)
    list_id = crm_list([known], name="Trade buyers")
    login(manager)
    settings = client.get("/settings/marketing").get_data(as_text=True)
    assert PAGE in settings  # reachable from the settings page

    page = client.get(PAGE).get_data(as_text=True)
    assert '<option value="aud1">Trade (3)</option>' in page
    assert f'<option value="{list_id}">Trade buyers' in page
    response = client.post(
        PAGE,
        data={"csrf_token": csrf_from(page), "audience_id": "aud1", "list_id": list_id},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "2 matched, 1 added to the list, 1 addresses match no customer" in html
    assert 'data-testid="import-status">done' in html
    assert 'data-testid="import-progress">3/3' in html
    assert "nobody@example.com" in html and "gone@example.com" not in html

    members = call(manager, "get", f"{LISTS}/{list_id}/members").get_json()
    ids = sorted(m["id"] for m in members["items"])
    assert ids == sorted([known.public_id, other.public_id])


def test_import_without_csrf_token_writes_nothing(
    client, login, manager, connected, fake, make_customer, crm_list
):
    known, _ = _audience(fake, make_customer)
    list_id = crm_list([])
    login(manager)
    response = client.post(PAGE, data={"audience_id": "aud1", "list_id": list_id})
    assert response.status_code in (302, 400)
    assert _imports() == 0


def test_unknown_list_or_audience_is_named_and_writes_nothing(
    client, login, manager, connected, fake, make_customer, crm_list
):
    _audience(fake, make_customer)
    list_id = crm_list([])
    login(manager)
    token = csrf_from(client.get(PAGE).get_data(as_text=True))
    html = client.post(
        PAGE,
        data={"csrf_token": token, "audience_id": "aud1", "list_id": "lst_nope"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "listId" in html
    html = client.post(
        PAGE,
        data={"csrf_token": token, "audience_id": "nope", "list_id": list_id},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "audienceId" in html and "no such Mailchimp audience" in html
    assert _imports() == 0


def test_reps_cannot_import(client, login, rep, connected, fake):
    fake.add_audience("Trade", "aud1")
    login(rep)
    assert client.get(PAGE).status_code == 403
    token = csrf_from(client.get("/sales/customers").get_data(as_text=True))
    data = {"csrf_token": token, "audience_id": "aud1", "list_id": "x"}
    assert client.post(PAGE, data=data).status_code == 403
    assert _imports() == 0


def test_a_failed_import_says_why(
    client, login, call, manager, connected, fake, make_customer, crm_list
):
    _audience(fake, make_customer)
    list_id = crm_list([])
    login(manager)
    token = csrf_from(client.get(PAGE).get_data(as_text=True))
    fake.fail_next(5, status=503, path="/members")  # past the client's retries
    html = client.post(
        PAGE,
        data={"csrf_token": token, "audience_id": "aud1", "list_id": list_id},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Import failed" in html and "Run the import again" in html
    assert 'data-testid="import-status">error' in html


def test_page_without_a_connection_says_so(client, login, manager, fake):
    login(manager)
    response = client.get(PAGE)
    assert response.status_code == 200
    assert "Connect a Mailchimp account first" in response.get_data(as_text=True)


def test_an_audience_import_enters_the_list_joined_flow(
    client, login, call, manager, connected, fake, make_customer, crm_list
):
    """Those the import adds enter a flow triggered by joining the list (one flow job per
    page of the audience); those already on it do not."""
    from app.flows.models import FlowRun

    known, other = _audience(fake, make_customer)
    list_id = crm_list([known], name="Trade buyers")
    flow = call(
        manager,
        "post",
        "/api/sales/marketing/flows",
        json={
            "name": "Welcome",
            "trigger": {"type": "list_joined", "listId": list_id},
            "steps": [{"type": "tag", "tag": "welcomed"}],
        },
    ).get_json()
    assert (
        call(manager, "post", f"/api/sales/marketing/flows/{flow['id']}/activate").status_code
        == 200
    )
    login(manager)
    page = client.get(PAGE).get_data(as_text=True)
    client.post(
        PAGE, data={"csrf_token": csrf_from(page), "audience_id": "aud1", "list_id": list_id}
    )
    db.session.expire_all()
    assert list(db.session.scalars(select(FlowRun.customer_id))) == [other.id]
