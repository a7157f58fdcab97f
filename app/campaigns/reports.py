"""What a campaign did: counts by status, engagement, a chart whose series end at the
counters, each recipient's status and engagement (filterable, exportable) and clicks
per link."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select

from app.attribution.reports import campaign_revenue
from app.campaigns import registry, zones
from app.crm.models import Customer
from app.experiments import campaigns as ab_tests
from app.experiments import holdout
from app.extensions import db
from app.messaging import delivery, outbox
from app.messaging.models import Campaign
from app.models_base import utcnow

#: recipient filters every channel has (outbox statuses)
STATUS_FILTERS = outbox.STATUSES


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def progress(counts: dict[str, int], total: int) -> dict[str, int]:
    done = sum(counts.get(s, 0) for s in outbox.FINAL_STATUSES)
    return {
        "done": done,
        "total": max(total, done),
        "percent": round(100 * done / total) if total else 0,
    }


def campaign_json(campaign: Campaign, *, detail: bool = False) -> dict[str, Any]:
    """The API's and the pages' view of a campaign (JSON-ready)."""
    counts = delivery.status_counts(campaign)
    support = registry.support(campaign.channel)
    out: dict[str, Any] = {
        "id": campaign.public_id,
        "channel": campaign.channel,
        "name": campaign.name,
        "subject": campaign.subject,
        "status": campaign.status,
        "listId": campaign.audience_ref,
        "audience": {"type": campaign.audience_type, "id": campaign.audience_ref},
        "audienceName": campaign.audience_name,
        "recipientsTotal": campaign.recipients_total,
        "counts": counts,
        "progress": progress(counts, campaign.recipients_total),
        "scheduledAt": _iso(campaign.scheduled_at),
        "scheduleZone": campaign.schedule_zone,
        "sendLocalTime": bool(campaign.send_local_time),
        "includeSunset": bool(campaign.include_sunset),
        # sunset customers left out when the audience was materialised (None before)
        "sunsetSkipped": campaign.sunset_skipped,
        "startedAt": _iso(campaign.started_at),
        "finishedAt": _iso(campaign.finished_at),
        "lastError": campaign.last_error,
        "actions": list(delivery.campaign_actions(campaign.status)),
        # a channel without campaign support (a plug-in's own campaigns) is not edited here
        "editable": campaign.status in ("draft", "scheduled") and support is not None,
        "createdAt": _iso(campaign.created_at),
    }
    if support is not None and support.stats is not None:
        out["stats"] = support.stats(campaign)
        if detail:
            out["timeline"] = timeline(campaign)
    if detail and support is not None and support.details is not None:
        out.update(support.details(campaign))
    out["abTest"] = ab_tests.ab_json(campaign, detail=detail)
    # orders credited to the campaign (last human touch) and those it influenced
    out.update(campaign_revenue([campaign.id])[campaign.id])
    # the share held back and the lift measured against it (None: no holdout)
    out["holdoutPercent"] = campaign.holdout_percent or 0
    out["holdout"] = holdout.report(campaign)
    return out


def timeline(campaign: Campaign, buckets: int = 24) -> dict[str, Any]:
    """Cumulative unique opens and clicks per time bucket since the campaign started:
    built from each recipient's first open and click, so the last point of each series
    is the unique-opens and unique-clicks counter."""
    support = registry.support(campaign.channel)
    times = support.engagement_times(campaign) if support and support.engagement_times else []
    start = _aware(campaign.started_at or campaign.created_at) or utcnow()
    moments = [_as_utc(t) for pair in times for t in pair if t is not None]
    end = max([utcnow(), *moments])
    width = max((end - start).total_seconds(), 60.0) / buckets
    labels = [start + timedelta(seconds=width * (i + 1)) for i in range(buckets)]
    opens, clicks = [0] * buckets, [0] * buckets
    for opened, clicked in times:
        for when, series in ((opened, opens), (clicked, clicks)):
            if when is not None:
                offset = (_as_utc(when) - start).total_seconds()
                series[min(buckets - 1, max(0, int(offset // width)))] += 1
    return {
        "start": start.isoformat(),
        "bucketSeconds": width,
        "labels": [t.isoformat() for t in labels],
        "opens": _running(opens),
        "clicks": _running(clicks),
    }


def _running(values: list[int]) -> list[int]:
    total, out = 0, []
    for v in values:
        total += v
        out.append(total)
    return out


def _as_utc(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _aware(when: datetime | None) -> datetime | None:
    if when is not None and when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when


# --- recipients ----------------------------------------------------------------------


def recipients_query(campaign: Campaign, status: str | None, engagement: str | None) -> Select[Any]:
    """The campaign's recipients (its outbox rows with the customer's name), filtered by
    outbox status and by an engagement the channel records (opened, clicked...)."""
    model = delivery.channel_for(campaign.channel).model
    stmt = (
        select(model, Customer.name, Customer.public_id)
        .outerjoin(Customer, Customer.id == model.customer_id)
        .where(model.campaign_id == campaign.id)
        .order_by(model.id)
    )
    if status:
        stmt = stmt.where(model.status == status)
    if engagement:
        column = engagement_filters(campaign.channel).get(engagement)
        if column is not None:
            stmt = stmt.where(getattr(model, column).is_not(None))
    return stmt


def engagement_filters(channel: str) -> dict[str, str]:
    support = registry.support(channel)
    return dict(support.engagement) if support else {}


def recipient_json(
    row: Any, customer_name: str | None, customer_id: str | None, filters: dict[str, str]
) -> dict[str, Any]:
    """A recipient: status, the reason it was suppressed or the provider's error, and
    when the channel recorded each engagement (``filters``: name -> column)."""
    error = None
    if row.status in ("failed", "suppressed") or row.error_code:
        error = {"code": row.error_code, "message": row.error_message}
    engagement = {key: _iso(getattr(row, column, None)) for key, column in filters.items()}
    return {
        "id": row.public_id,
        "to": row.to_address,
        "customerId": customer_id,
        "customerName": customer_name,
        "status": row.status,
        "provider": row.provider,
        "sentAt": _iso(row.sent_at),
        "error": error,
        "engagement": engagement,
        "opens": getattr(row, "open_count", None),
        "clicks": getattr(row, "click_count", None),
    }


def recipients_page(
    campaign: Campaign, status: str | None, engagement: str | None, page: int, per_page: int
) -> dict[str, Any]:
    """One page of recipients in the API's collection shape."""
    stmt = recipients_query(campaign, status, engagement)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    filters = engagement_filters(campaign.channel)
    return {
        "items": [recipient_json(row, name, pid, filters) for row, name, pid in rows],
        "total": total or 0,
        "page": page,
        "perPage": per_page,
    }


CSV_COLUMNS = ("to", "customer", "status", "reason or error", "sent at", "opens", "clicks")


def recipients_csv(
    campaign: Campaign, status: str | None, engagement: str | None, zone: str
) -> Iterator[str]:
    """The filtered recipients as CSV lines (times in the reader's zone), streamed."""
    filters = engagement_filters(campaign.channel)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*CSV_COLUMNS, *filters])
    yield _drain(buffer)
    stmt = recipients_query(campaign, status, engagement).execution_options(yield_per=500)
    for row, name, _pid in db.session.execute(stmt):
        writer.writerow(
            [
                row.to_address,
                name or "",
                row.status,
                row.error_message or "",
                zones.show(row.sent_at, zone) if row.sent_at else "",
                getattr(row, "open_count", "") or 0,
                getattr(row, "click_count", "") or 0,
                *(
                    zones.show(getattr(row, c), zone) if getattr(row, c) else ""
                    for c in filters.values()
                ),
            ]
        )
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def links(campaign: Campaign) -> list[dict[str, Any]]:
    """Clicks per link, most clicked first ([] for a channel without link tracking)."""
    support = registry.support(campaign.channel)
    return support.links(campaign) if support and support.links else []
