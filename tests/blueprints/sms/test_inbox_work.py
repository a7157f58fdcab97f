"""Working the inbox: assignment, filters, read state, linking an unknown number (its
texts and consent move with it), the opted-out composer, tokens in typed replies, the
navigation's unread badge and the live fragments htmx polls."""

from __future__ import annotations

from sqlalchemy import select

from app.crm.models import Activity, ConsentChange
from app.extensions import db
from app.messaging import consent
from blueprints.sms.models import SmsConversation, SmsMessage
from tests.conftest import csrf_from

INBOX = "/sales/marketing/sms"


def _conversation(phone: str) -> SmsConversation:
    db.session.expire_all()
    return db.session.scalar(select(SmsConversation).where(SmsConversation.phone == phone))


def test_a_new_thread_goes_to_the_customers_rep_and_filters_find_it(
    call, inbound, manager, rep, make_customer, opt_in
):
    make_customer(phone="+12125550301", name="Rep's bar", rep_id=rep.id)
    make_customer(phone="+12125550302", name="Nobody's bar")
    inbound("+12125550301", "Hello")
    inbound("+12125550302", "Hi")
    inbound("+12125550399", "Who is this?")  # unknown number: managers only

    assert _conversation("+12125550301").assigned_to_id == rep.id
    assert _conversation("+12125550302").assigned_to_id is None

    def phones(user, query: str) -> list[str]:
        body = call(user, "get", f"/conversations?{query}").get_json()
        return sorted(item["phone"] for item in body["items"])

    assert phones(rep, "filter=mine") == ["+12125550301"]
    assert phones(manager, "filter=unassigned") == ["+12125550302", "+12125550399"]
    assert phones(manager, "filter=unread") == ["+12125550301", "+12125550302", "+12125550399"]
    assert phones(manager, "q=nobody") == ["+12125550302"]
    item = call(rep, "get", "/conversations?filter=mine").get_json()["items"][0]
    assert item["assignedToId"] == rep.public_id and item["assignedToName"] == rep.name
    assert item["replyBlocked"] is None  # no opt-in, but it texted us: a reply may go
    assert item["optedOut"] is False


def test_assign_rules(call, inbound, manager, rep, make_user, make_customer):
    other = make_user("rep", "North")
    make_customer(phone="+12125550311", name="Bar")
    inbound("+12125550311", "Hello")
    cid = _conversation("+12125550311").public_id

    refused = call(rep, "post", f"/conversations/{cid}/assign", json={"userId": other.public_id})
    assert refused.status_code == 403 and refused.get_json()["error"]["fields"]["userId"]
    assert _conversation("+12125550311").assigned_to_id is None  # nothing written

    took = call(rep, "post", f"/conversations/{cid}/assign", json={"userId": rep.public_id})
    assert took.status_code == 200 and took.get_json()["assignedToId"] == rep.public_id
    handed = call(manager, "post", f"/conversations/{cid}/assign", json={"userId": other.public_id})
    assert handed.get_json()["assignedToId"] == other.public_id
    taken_back = call(rep, "post", f"/conversations/{cid}/assign", json={"userId": None})
    assert taken_back.status_code == 403  # a rep cannot take another rep's thread away
    unknown = call(manager, "post", f"/conversations/{cid}/assign", json={"userId": "usr_nope"})
    assert unknown.status_code == 422 and "userId" in unknown.get_json()["error"]["fields"]
    cleared = call(manager, "post", f"/conversations/{cid}/assign", json={"userId": None})
    assert cleared.get_json()["assignedToId"] is None


def test_read_and_unread(call, inbound, manager, make_customer):
    make_customer(phone="+12125550321")
    inbound("+12125550321", "One")
    inbound("+12125550321", "Two")
    cid = _conversation("+12125550321").public_id
    assert call(manager, "post", f"/conversations/{cid}/read").get_json()["unreadCount"] == 0
    assert (
        db.session.scalar(
            select(db.func.count()).where(
                SmsMessage.read_at.is_(None), SmsMessage.direction == "inbound"
            )
        )
        == 0
    )
    assert call(manager, "post", f"/conversations/{cid}/unread").get_json()["unreadCount"] == 1


def test_linking_an_unknown_number_moves_its_texts_and_consent(
    call, inbound, manager, make_customer
):
    customer = make_customer(phone=None, name="Enoteca Blu")
    inbound("+12125550331", "Do you deliver on Sundays?")
    inbound("+12125550331", "STOP")
    thread = _conversation("+12125550331")
    assert thread.customer_id is None
    assert consent.status_of("sms", "+12125550331") == consent.OPTED_OUT

    linked = call(
        manager,
        "post",
        f"/conversations/{thread.public_id}/link",
        json={"customerId": customer.public_id, "useAsPhone": True},
    )
    assert linked.status_code == 200, linked.get_json()
    body = linked.get_json()
    assert body["customerId"] == customer.public_id and body["optedOut"] is True
    assert "suppression list" in body["replyBlocked"]
    texts = db.session.scalars(
        select(SmsMessage).where(SmsMessage.conversation_id == thread.id)
    ).all()
    assert texts and all(m.customer_id == customer.id for m in texts)
    timeline = db.session.scalars(
        select(Activity.body).where(Activity.customer_id == customer.id, Activity.type == "SMS")
    ).all()
    assert "Do you deliver on Sundays?" in timeline
    db.session.expire_all()
    assert customer.phone == "+12125550331"
    # the number's opt-out is the customer's now: on their consent card and ledger
    assert consent.summary(customer)["sms"]["status"] == consent.OPTED_OUT
    entry = db.session.scalar(
        select(ConsentChange).where(
            ConsentChange.address == "+12125550331", ConsentChange.source == "linked"
        )
    )
    assert entry is not None and entry.customer_id == customer.id
    assert entry.status == consent.OPTED_OUT and entry.recorded_by_id == manager.id

    again = call(
        manager,
        "post",
        f"/conversations/{thread.public_id}/link",
        json={"customerId": customer.public_id},
    )
    assert again.status_code == 409


def test_link_refuses_a_number_another_customer_has_and_writes_nothing(
    call, inbound, manager, make_customer
):
    make_customer(phone="+12125550341", name="Owner")
    target = make_customer(phone=None, name="Other")
    # an unknown thread with that number (it was texting before the owner got it)
    thread = SmsConversation(phone="+12125550341", customer_id=None, unread_count=0)
    db.session.add(thread)
    db.session.commit()
    refused = call(
        manager,
        "post",
        f"/conversations/{thread.public_id}/link",
        json={"customerId": target.public_id, "useAsPhone": True},
    )
    assert refused.status_code == 409
    assert _conversation("+12125550341") is not None
    db.session.expire_all()
    assert db.session.get(SmsConversation, thread.id).customer_id is None


def test_the_link_page_flow_and_the_opted_out_composer(
    client, login, inbound, manager, make_customer
):
    customer = make_customer(phone=None, name="Vinoteca Rosa", email="rosa@example.com")
    inbound("+12125550351", "STOP")
    thread = _conversation("+12125550351")
    login(manager)
    page = client.get(f"{INBOX}/{thread.public_id}?link_q=rosa").get_data(as_text=True)
    assert 'data-testid="link-customer"' in page and "Vinoteca Rosa" in page
    # opted out: said on the thread, the composer off with the reason
    assert 'data-testid="thread-opted-out"' in page
    assert 'data-testid="reply-blocked"' in page and "sms suppression list" in page
    assert 'id="reply-body"' in page and "disabled" in page.split('id="reply-body"')[1][:400]
    response = client.post(
        f"{INBOX}/{thread.public_id}/link",
        data={"customer_id": customer.public_id, "csrf_token": csrf_from(page)},
    )
    assert response.status_code == 303
    assert _conversation("+12125550351").customer_id == customer.id


def test_tokens_in_a_typed_reply_are_filled_in(
    call, inbound, manager, make_customer, opt_in, fake_twilio
):
    customer = make_customer(phone="+12125550361", name="Bodega Sol")
    opt_in(customer)
    inbound("+12125550361", "Hola")
    cid = _conversation("+12125550361").public_id
    sent = call(
        manager,
        "post",
        f"/conversations/{cid}/messages",
        json={"body": "Thanks {{ customer_name }}!"},
    )
    assert sent.status_code == 201
    assert fake_twilio.received[-1].body == "Thanks Bodega Sol!"


def test_nav_badge_and_live_fragments(client, login, inbound, manager, make_customer):
    make_customer(phone="+12125550371", name="Le Comptoir")
    login(manager)
    quiet = client.get("/sales/customers").get_data(as_text=True)
    assert (
        'class="badge rounded-pill text-bg-light ms-1" data-testid="nav-badge-sms-inbox"></span>'
        in quiet
    )
    inbound("+12125550371", "Is the Chablis in?")
    busy = client.get("/sales/customers").get_data(as_text=True)
    assert 'data-testid="nav-badge-sms-inbox">1<' in busy

    listing = client.get(f"{INBOX}/_list").get_data(as_text=True)
    assert "Le Comptoir" in listing and 'hx-swap-oob="true"' in listing
    assert 'data-testid="nav-badge-sms-inbox">1<' in listing
    thread = _conversation("+12125550371")
    live = client.get(f"{INBOX}/{thread.public_id}/_thread").get_data(as_text=True)
    assert "Is the Chablis in?" in live and 'hx-trigger="every' in live
    assert _conversation("+12125550371").unread_count == 0  # open thread: read
    assert 'data-testid="nav-badge-sms-inbox"></span>' in client.get(f"{INBOX}/_list").get_data(
        as_text=True
    )


def test_page_filters_and_assign_form(client, login, inbound, manager, rep, make_customer):
    make_customer(phone="+12125550381", name="Rep bar", rep_id=rep.id)
    make_customer(phone="+12125550382", name="Free bar")
    inbound("+12125550381", "a")
    inbound("+12125550382", "b")
    login(manager)
    unassigned = client.get(f"{INBOX}?filter=unassigned").get_data(as_text=True)
    assert "Free bar" in unassigned and "Rep bar" not in unassigned
    thread = _conversation("+12125550382")
    page = client.get(f"{INBOX}/{thread.public_id}").get_data(as_text=True)
    response = client.post(
        f"{INBOX}/{thread.public_id}/assign",
        data={"user_id": rep.public_id, "csrf_token": csrf_from(page)},
    )
    assert response.status_code == 303
    assert _conversation("+12125550382").assigned_to_id == rep.id
    mine = client.get(f"{INBOX}?filter=mine").get_data(as_text=True)
    assert "Free bar" not in mine  # it is the rep's, not the manager's
