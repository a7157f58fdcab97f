"""The ticker's job: each occurrence creates exactly one campaign, from the template and
the occurrence's own edits, to the list as it is when the campaign starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from app.extensions import db
from app.messaging.models import Campaign
from app.recurring import engine, service
from app.recurring.models import RecurringCampaign, RecurringOccurrence
from tests.app.recurring.conftest import at_utc, soon, start_due_campaigns
from tests.blueprints.email.conftest import dev_messages


def _campaigns() -> list[Campaign]:
    return list(db.session.scalars(select(Campaign).order_by(Campaign.id)))


def test_an_occurrence_creates_exactly_one_campaign_even_when_the_tick_runs_twice(
    manager, audience, make_recurring
):
    list_id, _ = audience
    first = soon(30)
    rec = make_recurring(list_id, starts_at=first)
    assert engine.run_due() == 1
    assert engine.run_due() == 0  # the cursor moved on: nothing is due
    # a second ticker that read the cursor before the first one moved it
    db.session.execute(update(RecurringCampaign).values(next_at=at_utc(first)))
    db.session.commit()
    engine.run_due()
    engine.handle(rec, at_utc(first), datetime.now(UTC))  # and one more, straight at it

    [campaign] = _campaigns()
    assert campaign.status == "scheduled" and campaign.scheduled_at == at_utc(first)
    assert campaign.name.startswith("Weekly specials · ")
    row = db.session.scalars(select(RecurringOccurrence)).one()
    assert (row.state, row.campaign_id) == ("created", campaign.id)
    db.session.refresh(rec)
    assert rec.next_at == at_utc(first) + timedelta(days=1)


def test_the_list_is_read_again_for_each_occurrence(
    manager, audience, make_customer, make_recurring
):
    """A customer added to the list between two occurrences gets the second."""
    from blueprints.lists.models import EmailList, EmailListMember

    list_id, customers = audience
    first = soon(30)
    make_recurring(list_id, starts_at=first)
    engine.run_due()
    start_due_campaigns()
    assert sorted(m.to for m in dev_messages()) == sorted(c.email for c in customers)

    newcomer = make_customer(email="newcomer@example.com")
    lst = db.session.scalar(select(EmailList).where(EmailList.public_id == list_id))
    db.session.add(EmailListMember(list_id=lst.id, customer_id=newcomer.id))
    db.session.commit()

    engine.run_due(now=datetime.now(UTC) + timedelta(days=1))
    second = _campaigns()[-1]
    assert second.scheduled_at == at_utc(first) + timedelta(days=1)
    start_due_campaigns()
    sent = [m.to for m in dev_messages()]
    assert len(sent) == 7 and sent.count("newcomer@example.com") == 1


def test_a_skipped_occurrence_creates_nothing_and_the_next_one_goes(
    manager, audience, make_recurring
):
    list_id, _ = audience
    first = soon(30)
    rec = make_recurring(list_id, starts_at=first)
    service.skip(rec, at_utc(first))
    engine.run_due()
    assert _campaigns() == []
    row = db.session.scalars(select(RecurringOccurrence)).one()
    assert row.state == "skipped"
    engine.run_due(now=datetime.now(UTC) + timedelta(days=1))
    [campaign] = _campaigns()
    assert campaign.scheduled_at == at_utc(first) + timedelta(days=1)


def test_an_edited_occurrence_uses_its_own_subject_and_the_next_one_the_usual(
    manager, audience, make_recurring
):
    list_id, _ = audience
    first = soon(30)
    rec = make_recurring(list_id, starts_at=first)
    service.edit(rec, at_utc(first), subject="Only this week, {{ customer_name }}")
    engine.run_due()
    engine.run_due(now=datetime.now(UTC) + timedelta(days=1))
    edited, usual = _campaigns()
    assert edited.subject == "Only this week, {{ customer_name }}"
    assert edited.html == "<p>This week:</p>"  # what was not edited stays the usual
    assert usual.subject == "Specials for {{ customer_name }}"


def test_nine_in_new_york_stays_nine_across_the_fall_change_and_missed_ones_are_not_sent(
    manager, audience, make_recurring
):
    """Every Tuesday 09:00 New York: 13:00 UTC in October, 14:00 UTC after 7 November
    2027. The ticker was down for two occurrences: they are recorded as missed."""
    from zoneinfo import ZoneInfo

    list_id, _ = audience
    rec = make_recurring(
        list_id,
        rule="FREQ=WEEKLY;BYDAY=TU",
        starts_at=datetime(2027, 10, 26, 9, 0),
        time_zone="America/New_York",
    )
    assert rec.next_at == datetime(2027, 10, 26, 13, 0, tzinfo=UTC)
    engine.run_due(now=datetime(2027, 11, 9, 13, 30, tzinfo=UTC))
    states = dict(
        db.session.execute(select(RecurringOccurrence.occurs_at, RecurringOccurrence.state)).all()
    )
    assert states == {
        datetime(2027, 10, 26, 13, 0, tzinfo=UTC): "skipped",
        datetime(2027, 11, 2, 13, 0, tzinfo=UTC): "skipped",
        datetime(2027, 11, 9, 14, 0, tzinfo=UTC): "created",
    }
    [campaign] = _campaigns()
    assert campaign.scheduled_at == datetime(2027, 11, 9, 14, 0, tzinfo=UTC)
    local = campaign.scheduled_at.astimezone(ZoneInfo("America/New_York"))
    assert (local.hour, local.minute) == (9, 0)
    assert campaign.schedule_zone == "America/New_York"


def test_in_the_recipients_zone_the_campaign_is_made_a_day_ahead_for_the_east(
    manager, make_customer, make_list, make_recurring
):
    """09:00 in New York for each recipient: the Paris customer's 09:00 comes six hours
    earlier, so the campaign is created and queued for then."""
    from zoneinfo import ZoneInfo

    from app.crm.models import CommunicationPreference
    from app.jobs import ScheduledJob

    paris = make_customer(email="paris@example.com")
    db.session.add(CommunicationPreference(customer_id=paris.id, timezone="Europe/Paris"))
    db.session.commit()
    list_id = make_list(manager, [paris], name="Export")
    day = (datetime.now(UTC) + timedelta(days=3)).date()
    rec = make_recurring(
        list_id,
        starts_at=datetime(day.year, day.month, day.day, 9, 0),
        time_zone="America/New_York",
        send_local_time=True,
    )
    engine.run_due(now=rec.next_at - timedelta(hours=26))
    [campaign] = _campaigns()
    assert campaign.send_local_time and campaign.schedule_zone == "America/New_York"
    job = db.session.scalars(select(ScheduledJob)).one()
    paris_nine = datetime(day.year, day.month, day.day, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))
    assert job.run_at.astimezone(UTC) == paris_nine.astimezone(UTC)


def test_a_paused_recurring_campaign_creates_nothing_and_resumes_from_now(
    manager, audience, make_recurring
):
    list_id, _ = audience
    rec = make_recurring(list_id, starts_at=soon(30))
    service.set_status(rec, "pause")
    engine.run_due(now=datetime.now(UTC) + timedelta(days=2))
    assert _campaigns() == []
    service.set_status(rec, "resume")
    assert rec.next_at is not None and rec.next_at > datetime.now(UTC)


def test_a_list_nobody_can_get_fails_the_occurrence_with_the_reason(
    manager, make_customer, make_list, make_recurring
):
    list_id = make_list(manager, [make_customer(email="a@example.com")], name="Tiny")
    rec = make_recurring(list_id, starts_at=soon(30))
    from app.crm.models import Customer

    db.session.execute(update(Customer).values(email=None))
    db.session.commit()
    engine.run_due()
    row = db.session.scalars(select(RecurringOccurrence)).one()
    assert row.state == "failed" and "nobody" in (row.note or "")
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0
    db.session.refresh(rec)
    assert rec.next_at is not None  # the next one is tried in its turn


def test_two_tickers_at_once_the_one_that_loses_the_claim_creates_nothing(
    manager, audience, make_recurring
):
    """The race itself: this ticker read the occurrence as planned, then another one
    claimed it (its own connection) before this one did."""
    list_id, _ = audience
    first = at_utc(soon(30))
    rec = make_recurring(list_id, starts_at=first.replace(tzinfo=None))
    row = service.occurrence_row(rec, first)
    assert row.state == "planned"  # what this ticker has read
    with db.engine.begin() as other:
        other.execute(
            update(RecurringOccurrence)
            .where(RecurringOccurrence.id == row.id)
            .values(state="created")
        )
    engine.handle(rec, first, datetime.now(UTC))
    assert _campaigns() == []


def test_the_periodic_ticker_runs_the_engine(app, manager, audience, make_recurring):
    from app import jobs

    list_id, _ = audience
    make_recurring(list_id, starts_at=soon(30))
    assert "recurring-campaigns" in jobs.tick(app)
    assert len(_campaigns()) == 1


def test_an_sms_recurring_campaign_sends_its_text(
    manager, make_customer, make_list, make_recurring
):
    from app.messaging.consent import record

    customer = make_customer(email=None)
    record("sms", customer.phone, "opted_in", source="test", customer_id=customer.id)
    list_id = make_list(manager, [customer], name="Texters")
    make_recurring(
        list_id, channel="sms", subject=None, html=None, body="Specials are in, {{ customer_name }}"
    )
    engine.run_due()
    [campaign] = _campaigns()
    assert campaign.channel == "sms" and campaign.body.startswith("Specials are in")
    start_due_campaigns()
    assert [m.to for m in dev_messages("sms")] == [customer.phone]


def test_two_tickers_in_two_threads_make_one_campaign(
    app, database_url, manager, audience, make_recurring
):
    """Two processes' tickers at the same moment (PostgreSQL: real concurrent sessions)."""
    import threading

    import pytest

    if not database_url.startswith("postgres"):
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises them)")
    list_id, _ = audience
    make_recurring(list_id, starts_at=soon(30))
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def tick() -> None:
        with app.app_context():
            try:
                barrier.wait()
                engine.run_due()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    db.session.expire_all()
    assert len(_campaigns()) == 1
    assert db.session.scalar(select(func.count()).select_from(RecurringOccurrence)) == 1
