"""The Mailchimp adapter through the real SDK over HTTP against tests/fakes/mailchimp.py."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from providers.errors import (
    AuthenticationError,
    NotFoundError,
    PermanentError,
    TransientError,
)
from providers.mailchimp import (
    InvalidApiKeyError,
    MailchimpClient,
    MemberUpsert,
    MergeField,
    authorize_url,
    chunked,
    exchange_code,
    fetch_metadata,
    parse_api_key,
    subscriber_hash,
)
from tests.fakes.mailchimp import DEFAULT_KEY, FakeMailchimp


@pytest.fixture
def fake() -> Iterator[FakeMailchimp]:
    with FakeMailchimp() as server:
        yield server


@pytest.fixture
def client(fake: FakeMailchimp) -> MailchimpClient:
    return MailchimpClient(api_key=fake.api_key, base_url=fake.url, timeout=5)


@pytest.fixture
def audience(fake: FakeMailchimp) -> str:
    return fake.add_audience("Wine Club")


def upserts(n: int, start: int = 0) -> list[MemberUpsert]:
    return [
        MemberUpsert(f"member{i}@example.com", merge_fields={"FNAME": f"M{i}"})
        for i in range(start, start + n)
    ]


# --------------------------------------------------------------------------- keys


def test_parse_api_key_returns_data_centre() -> None:
    assert parse_api_key("0123456789abcdef0123456789abcdef-us21") == "us21"
    assert parse_api_key("  0123456789abcdef0123456789abcdef-us6\n") == "us6"


@pytest.mark.parametrize(
    "key",
    [
        "0123456789abcdef0123456789abcdef",  # missing suffix
        "0123456789abcdef-",  # empty suffix
        "not a key at all",
        "abc-us21-us22",
        "abc-us21.evil.example",
        "",
    ],
)
def test_parse_api_key_rejects_malformed(key: str) -> None:
    with pytest.raises(ValueError, match="Mailchimp API key") as info:
        parse_api_key(key)
    assert isinstance(info.value, InvalidApiKeyError)
    assert info.value.field == "apiKey"


def test_client_needs_exactly_one_credential() -> None:
    with pytest.raises(ValueError):
        MailchimpClient()
    with pytest.raises(ValueError):
        MailchimpClient(api_key=DEFAULT_KEY, access_token="tok")
    with pytest.raises(ValueError, match="server"):
        MailchimpClient(access_token="tok")
    with pytest.raises(ValueError, match="data centre"):
        MailchimpClient(access_token="tok", server="us1.evil.example/")


def test_default_base_url_uses_data_centre() -> None:
    client = MailchimpClient(api_key=DEFAULT_KEY)
    assert client.base_url == "https://us21.api.mailchimp.com/3.0"
    assert DEFAULT_KEY not in repr(client)


def test_subscriber_hash_is_md5_of_lowercased_email() -> None:
    expected = hashlib.md5(b"ann@example.com").hexdigest()
    assert subscriber_hash("Ann@Example.COM") == expected


def test_chunked_is_lazy_and_bounded() -> None:
    assert [len(c) for c in chunked(range(1200), 500)] == [500, 500, 200]
    assert list(chunked([], 500)) == []
    with pytest.raises(ValueError):
        list(chunked([1], 0))


# --------------------------------------------------------------------------- account


def test_ping_ok(client: MailchimpClient, fake: FakeMailchimp) -> None:
    assert client.ping() is True
    assert fake.requests == [("GET", "/3.0/ping")]


def test_wrong_key_raises_authentication_error(fake: FakeMailchimp) -> None:
    bad = MailchimpClient(api_key="ffffffffffffffffffffffffffffffff-us21", base_url=fake.url)
    with pytest.raises(AuthenticationError) as info:
        bad.ping()
    assert info.value.code == "401"
    assert "API Key Invalid" in str(info.value)


def test_account(client: MailchimpClient, fake: FakeMailchimp) -> None:
    account = client.account()
    assert (account.id, account.name, account.data_center) == (
        "acc0123456789",
        "Decant Test Wines",
        "us21",
    )


def test_list_audiences(client: MailchimpClient, fake: FakeMailchimp) -> None:
    club = fake.add_audience("Wine Club")
    trade = fake.add_audience("Trade")
    fake.add_member(club, "a@example.com")
    fake.add_member(club, "b@example.com")
    fake.add_member(club, "c@example.com", status="unsubscribed")
    audiences = {a.id: a for a in client.list_audiences()}
    assert audiences[club].name == "Wine Club"
    assert audiences[club].member_count == 2
    assert audiences[club].unsubscribe_count == 1
    assert audiences[trade].member_count == 0


# --------------------------------------------------------------------------- members


def test_batch_upsert_1200_members_in_three_calls_then_idempotent(
    client: MailchimpClient, fake: FakeMailchimp, audience: str
) -> None:
    members = upserts(1200)
    first = [client.batch_upsert_members(audience, chunk) for chunk in chunked(members)]
    assert fake.batch_calls == 3
    assert fake.batch_members_received == 1200
    assert sum(r.new for r in first) == 1200
    assert sum(r.updated for r in first) == 0
    assert not any(r.errors for r in first)
    assert fake.audiences[audience].counts()["member_count"] == 1200

    total = sum(
        (client.batch_upsert_members(audience, chunk) for chunk in chunked(members)),
        start=type(first[0])(),
    )
    assert (total.new, total.updated, total.errors) == (0, 1200, [])
    assert fake.batch_calls == 6
    assert fake.member(audience, "member7@example.com")["merge_fields"] == {"FNAME": "M7"}


def test_batch_upsert_refuses_more_than_500_before_calling(
    client: MailchimpClient, fake: FakeMailchimp, audience: str
) -> None:
    with pytest.raises(ValueError, match="500"):
        client.batch_upsert_members(audience, upserts(501))
    assert fake.batch_calls == 0


def test_fake_rejects_batches_over_500(fake: FakeMailchimp, audience: str) -> None:
    body = {"members": [m.to_api() for m in upserts(501)], "update_existing": True}
    answer = requests.post(
        f"{fake.url}/lists/{audience}", json=body, auth=("u", fake.api_key), timeout=5
    )
    assert answer.status_code == 400
    assert answer.json()["title"] == "Invalid Resource"


def test_batch_upsert_reports_per_member_errors(
    client: MailchimpClient, fake: FakeMailchimp, audience: str
) -> None:
    fake.add_member(audience, "old@example.com")
    result = client.batch_upsert_members(
        audience,
        [MemberUpsert("new@example.com"), MemberUpsert("old@example.com"), MemberUpsert("nope")],
        update_existing=False,
    )
    assert (result.new, result.updated) == (1, 0)
    assert [(email, code) for email, code, _ in result.errors] == [
        ("old@example.com", "ERROR_CONTACT_EXISTS"),
        ("nope", "ERROR_GENERIC"),
    ]


def test_iter_members_pages_lazily(
    client: MailchimpClient, fake: FakeMailchimp, audience: str
) -> None:
    for i in range(25):
        fake.add_member(
            audience, f"p{i}@example.com", status="unsubscribed" if i % 5 == 0 else "subscribed"
        )
    pages_before = len(fake.requests)
    it = client.iter_members(audience, page_size=10)
    first = next(it)
    assert first.email == "p0@example.com"
    assert len(fake.requests) == pages_before + 1  # only one page fetched so far
    rest = list(it)
    assert len(rest) + 1 == 25
    calls = [urlsplit(p) for m, p in fake.requests if "/members" in p]
    assert [parse_qs(c.query)["offset"] for c in calls] == [["0"], ["10"], ["20"]]

    unsubscribed = list(client.iter_members(audience, status="unsubscribed", page_size=2))
    assert {m.email for m in unsubscribed} == {f"p{i}@example.com" for i in (0, 5, 10, 15, 20)}
    with pytest.raises(ValueError):
        next(client.iter_members(audience, page_size=1001))


def test_member_tags(client: MailchimpClient, fake: FakeMailchimp, audience: str) -> None:
    fake.add_member(audience, "Tag@Example.com", tags=["old"])
    client.update_member_tags(audience, "tag@example.com", active=["vip", "rosé"], inactive=["old"])
    assert [t["name"] for t in fake.member(audience, "tag@example.com")["tags"]] == ["vip", "rosé"]
    member = next(client.iter_members(audience))
    assert member.tags == ("vip", "rosé")


def test_tags_on_unknown_member_is_not_found(client: MailchimpClient, audience: str) -> None:
    with pytest.raises(NotFoundError):
        client.update_member_tags(audience, "ghost@example.com", active=["x"])


def test_set_member_status(client: MailchimpClient, fake: FakeMailchimp, audience: str) -> None:
    fake.add_member(audience, "leaver@example.com")
    client.set_member_status(audience, "leaver@example.com", "unsubscribed")
    assert fake.member(audience, "leaver@example.com")["status"] == "unsubscribed"
    with pytest.raises(ValueError):
        client.set_member_status(audience, "leaver@example.com", "cleaned")


def test_member_with_unknown_merge_field_is_refused_until_the_field_exists(
    client: MailchimpClient, fake: FakeMailchimp, audience: str
) -> None:
    """Mailchimp refuses merge fields the audience lacks; add_merge_field makes them."""
    member = MemberUpsert("ann@example.com", merge_fields={"FNAME": "Ann", "TERRITORY": "North"})
    refused = client.batch_upsert_members(audience, [member])
    assert refused.new == 0
    assert refused.errors and "schemas" in refused.errors[0][2]

    assert "TERRITORY" not in {f.tag for f in client.merge_fields(audience)}
    made = client.add_merge_field(audience, MergeField("TERRITORY", "Territory", "text", "x"))
    assert made == MergeField("TERRITORY", "Territory", "text", "x")
    assert {"FNAME", "LNAME", "TERRITORY"} <= {f.tag for f in client.merge_fields(audience)}
    with pytest.raises(PermanentError):  # the tag is taken now
        client.add_merge_field(audience, MergeField("TERRITORY", "Again", "text"))
    assert client.batch_upsert_members(audience, [member]).new == 1
    assert fake.member(audience, "ann@example.com")["merge_fields"]["TERRITORY"] == "North"


def test_static_segment_add_remove_and_list(
    client: MailchimpClient, fake: FakeMailchimp, audience: str
) -> None:
    for email in ("a@example.com", "b@example.com", "c@example.com"):
        fake.add_member(audience, email)
    segment = client.create_static_segment(audience, "Decant list lst_1")
    assert [s.name for s in client.static_segments(audience)] == ["Decant list lst_1"]
    change = client.update_segment_members(
        audience, segment.id, add=["a@example.com", "B@example.com", "x@example.com"]
    )
    assert (change.added, change.removed) == (2, 0)
    assert change.errors == [(["x@example.com"], "Email addresses do not belong to list")]
    fake.member(audience, "b@example.com")["status"] = "unsubscribed"
    listed = sorted(client.iter_segment_members(audience, segment.id, page_size=1))
    assert listed == ["a@example.com", "b@example.com"]  # whatever their status
    assert (
        client.update_segment_members(audience, segment.id, remove=["a@example.com"]).removed == 1
    )
    with pytest.raises(ValueError):
        client.update_segment_members(audience, segment.id, add=["x@example.com"] * 501)


def test_campaign_to_a_segment_reaches_its_members_only(
    client: MailchimpClient, fake: FakeMailchimp, audience: str
) -> None:
    for email in ("in@example.com", "out@example.com"):
        fake.add_member(audience, email)
    segment = client.create_static_segment(audience, "Only some")
    client.update_segment_members(audience, segment.id, add=["in@example.com"])
    whole = client.create_campaign(audience, "All", "Decant", "a@example.com", "t")
    assert client.campaign_segment_id(whole) is None
    some = client.create_campaign(
        audience,
        "Some",
        "Decant",
        "a@example.com",
        "t",
        segment_opts={"saved_segment_id": int(segment.id)},
    )
    assert client.campaign_segment_id(some) == segment.id
    client.set_campaign_content(some, "<p>Hi</p>")
    client.send_campaign(some)
    assert list(fake.campaigns[some]["deliveries"]) == ["in@example.com"]
    with pytest.raises(PermanentError):  # a segment that does not exist
        client.create_campaign(
            audience, "x", "D", "a@example.com", "t", segment_opts={"saved_segment_id": 999}
        )


def test_unknown_audience_is_not_found(client: MailchimpClient) -> None:
    with pytest.raises(NotFoundError) as info:
        client.batch_upsert_members("nope", upserts(1))
    assert info.value.code == "404"
    with pytest.raises(NotFoundError):
        list(client.iter_members("nope"))


# --------------------------------------------------------------------------- campaigns


def test_campaign_create_content_send_and_report(
    client: MailchimpClient, fake: FakeMailchimp, audience: str
) -> None:
    for i in range(3):
        fake.add_member(audience, f"r{i}@example.com")
    fake.add_member(audience, "gone@example.com", status="unsubscribed")
    cid = client.create_campaign(audience, "Spring tasting", "Decant", "hi@decant.test", "Spring")
    assert fake.campaigns[cid]["settings"]["subject_line"] == "Spring tasting"
    with pytest.raises(PermanentError) as info:  # no content yet: Mailchimp refuses to send
        client.send_campaign(cid)
    assert info.value.code == "400" and "not ready" in str(info.value)

    client.set_campaign_content(cid, "<p>Hello</p>", text="Hello")
    assert fake.campaigns[cid]["content"] == {"html": "<p>Hello</p>", "plain_text": "Hello"}
    client.send_campaign(cid)
    assert fake.campaigns[cid]["status"] == "sent"

    fake.add_activity(cid, "r0@example.com", "open")
    fake.add_activity(cid, "r0@example.com", "open")
    fake.add_activity(cid, "r0@example.com", "click", url="https://decant.test/a")
    fake.add_activity(cid, "r1@example.com", "open")
    fake.add_activity(cid, "r2@example.com", "bounce", type="hard")
    fake.set_report(cid, unsubscribed=1)
    report = client.campaign_report(cid)
    assert (report.sends, report.opens, report.unique_opens) == (3, 3, 2)
    assert (report.clicks, report.unique_clicks) == (1, 1)
    assert (report.bounces, report.hard_bounces, report.unsubscribes) == (1, 1, 1)

    activity = {a.email: a for a in client.campaign_member_activity(cid, page_size=2)}
    assert set(activity) == {"r0@example.com", "r1@example.com", "r2@example.com"}
    assert (activity["r0@example.com"].opens, activity["r0@example.com"].clicks) == (2, 1)
    assert activity["r2@example.com"].bounced and not activity["r1@example.com"].bounced
    assert sum(1 for _, p in fake.requests if "email-activity" in p) == 2


def test_campaign_with_unknown_audience_is_permanent(client: MailchimpClient) -> None:
    with pytest.raises(PermanentError) as info:
        client.create_campaign("nope", "s", "f", "r@example.com", "t")
    assert info.value.code == "400"
    assert "recipients.list_id" in str(info.value)


def test_schedule_campaign(client: MailchimpClient, fake: FakeMailchimp, audience: str) -> None:
    cid = client.create_campaign(audience, "Later", "Decant", "hi@decant.test", "Later")
    client.set_campaign_content(cid, "<p>Later</p>")
    when = (datetime.now(UTC) + timedelta(days=2)).replace(minute=30, second=0, microsecond=0)
    with pytest.raises(ValueError, match="timezone"):
        client.schedule_campaign(cid, when.replace(tzinfo=None))
    with pytest.raises(ValueError, match="quarter"):
        client.schedule_campaign(cid, when.replace(minute=31))
    client.schedule_campaign(cid, when.astimezone(timezone(timedelta(hours=2))))
    assert fake.campaigns[cid]["status"] == "schedule"
    assert datetime.fromisoformat(fake.campaigns[cid]["send_time"]) == when


def test_report_of_unknown_campaign_is_not_found(client: MailchimpClient) -> None:
    with pytest.raises(NotFoundError):
        client.campaign_report("nope")


def test_create_webhook(client: MailchimpClient, fake: FakeMailchimp, audience: str) -> None:
    hook_id = client.create_webhook(
        audience, "https://decant.test/hooks/mailchimp/s3cret", ["unsubscribe", "cleaned"]
    )
    (hook,) = fake.audiences[audience].webhooks
    assert hook["id"] == hook_id
    assert hook["events"] == {
        "campaign": False,
        "cleaned": True,
        "profile": False,
        "subscribe": False,
        "unsubscribe": True,
        "upemail": False,
    }
    assert hook["sources"] == {"admin": True, "api": False, "user": True}
    with pytest.raises(ValueError):
        client.create_webhook(audience, "https://x.test", ["bogus"])


# --------------------------------------------------------------------------- failures


def test_429_is_transient_with_retry_after(client: MailchimpClient, fake: FakeMailchimp) -> None:
    fake.fail_next(1, 429, retry_after="7")
    with pytest.raises(TransientError) as info:
        client.ping()
    assert (info.value.code, info.value.retry_after) == ("429", 7.0)
    assert client.ping() is True  # the script is used up


def test_429_with_empty_body_still_raises(client: MailchimpClient, fake: FakeMailchimp) -> None:
    # The SDK returns empty-bodied answers raw instead of raising: the adapter must notice.
    fake.fail_next(1, 429, retry_after="3", body=False)
    with pytest.raises(TransientError) as info:
        client.list_audiences()
    assert (info.value.code, info.value.retry_after) == ("429", 3.0)


def test_503_is_transient(client: MailchimpClient, fake: FakeMailchimp) -> None:
    fake.fail_next(1, 503)
    with pytest.raises(TransientError) as info:
        client.ping()
    assert info.value.code == "503" and info.value.retry_after is None
    fake.fail_next(1, 503, body=False)
    with pytest.raises(TransientError):
        client.send_campaign("any")


def test_empty_4xx_on_no_content_call_is_permanent(
    client: MailchimpClient, fake: FakeMailchimp
) -> None:
    fake.fail_next(1, 400, body=False)
    with pytest.raises(PermanentError) as info:
        client.send_campaign("any")
    assert info.value.code == "400"
    assert not isinstance(info.value, TransientError)


def test_timeout_is_transient(fake: FakeMailchimp) -> None:
    fake.delay = 0.5
    slow = MailchimpClient(api_key=fake.api_key, base_url=fake.url, timeout=0.1)
    with pytest.raises(TransientError) as info:
        slow.ping()
    assert info.value.code == "timeout"


def test_connection_refused_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = MailchimpClient(
        api_key=DEFAULT_KEY, base_url=f"http://127.0.0.1:{port}/3.0", timeout=2
    )
    with pytest.raises(TransientError) as info:
        client.ping()
    assert info.value.code == "connection"


def test_seeded_failure_rate() -> None:
    def outcomes() -> list[bool]:
        with FakeMailchimp(failure_rate=0.5, seed=42) as server:
            client = MailchimpClient(api_key=server.api_key, base_url=server.url, timeout=5)
            results = []
            for _ in range(12):
                try:
                    results.append(client.ping())
                except TransientError:
                    results.append(False)
            return results

    first = outcomes()
    assert first == outcomes()  # same seed, same faults
    assert True in first and False in first


def test_thirty_threads_never_exceed_ten_connections(fake: FakeMailchimp) -> None:
    fake.delay = 0.03
    shared = MailchimpClient(api_key=fake.api_key, base_url=fake.url, timeout=5)
    errors: list[BaseException] = []
    start = threading.Barrier(30)

    def work(i: int) -> None:
        # Half the threads build their own client: the cap is per key, not per instance.
        client = shared if i % 2 else MailchimpClient(api_key=fake.api_key, base_url=fake.url)
        start.wait()
        try:
            for _ in range(3):
                client.ping()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert sum(1 for m, p in fake.requests if p == "/3.0/ping") == 90
    assert 5 <= fake.max_concurrent <= 10


# --------------------------------------------------------------------------- OAuth


def test_oauth_exchange_and_metadata(fake: FakeMailchimp) -> None:
    url = authorize_url(fake.client_id, "https://app.test/cb", "st4te")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://login.mailchimp.com/oauth2/authorize"
    )
    assert parse_qs(parts.query) == {
        "response_type": ["code"],
        "client_id": [fake.client_id],
        "redirect_uri": ["https://app.test/cb"],
        "state": ["st4te"],
    }

    code = fake.issue_code("https://app.test/cb")
    token = exchange_code(
        fake.client_id, fake.client_secret, "https://app.test/cb", code, token_url=fake.token_url
    )
    meta = fetch_metadata(token, metadata_url=fake.metadata_url)
    assert meta == {"dc": "us21", "api_endpoint": fake.root_url, "accountname": "Decant Test Wines"}

    client = MailchimpClient(
        access_token=token, server=meta["dc"], base_url=meta["api_endpoint"] + "/3.0"
    )
    assert client.ping() is True

    with pytest.raises(AuthenticationError):  # codes are single-use
        exchange_code(
            fake.client_id,
            fake.client_secret,
            "https://app.test/cb",
            code,
            token_url=fake.token_url,
        )
    with pytest.raises(AuthenticationError):
        exchange_code(fake.client_id, "wrong", "https://app.test/cb", "x", token_url=fake.token_url)
    with pytest.raises(AuthenticationError):
        fetch_metadata("bogus", metadata_url=fake.metadata_url)
    with pytest.raises(AuthenticationError):
        MailchimpClient(access_token="bogus", server="us21", base_url=fake.url).ping()


# --------------------------------------------------------------------------- throughput


def test_throughput_10000_members(
    client: MailchimpClient, fake: FakeMailchimp, audience: str, capsys: pytest.CaptureFixture
) -> None:
    members = upserts(10_000)
    started = time.perf_counter()
    new = sum(client.batch_upsert_members(audience, chunk).new for chunk in chunked(members))
    elapsed = time.perf_counter() - started
    assert new == 10_000
    assert fake.batch_calls == 20
    with capsys.disabled():
        print(f"\nmailchimp fake upsert: {10_000 / elapsed:,.0f} members/s ({elapsed:.2f}s)")
