"""Subscriptions, and the events the other domains write in their changes' transactions.

The other domains call ``emit`` with the representation they answer with; this package never
imports them.
"""

import ipaddress
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy import (
    CTE,
    ColumnElement,
    Exists,
    FromClause,
    Insert,
    Select,
    String,
    Text,
    bindparam,
    cast,
    exists,
    false,
    func,
    insert,
    literal,
    literal_column,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from customer_api.core.errors import InvalidBody, NotFound
from customer_api.core.identifiers import MAX_ID
from customer_api.core.json_sql import json_object
from customer_api.core.timestamps import utcnow
from customer_api.webhooks import filters, signing, wakeup
from customer_api.webhooks.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from customer_api.webhooks.outbound import Networks, forbidden_address

ROTATION_OVERLAP = timedelta(hours=24)
"""After a rotation the old secret still signs (beside the new one) for this long."""
DELIVERIES_SHOWN = 100


def _in_group(group_id: int) -> Select[tuple[WebhookSubscription]]:
    return select(WebhookSubscription).where(WebhookSubscription.group_id == group_id)


async def list_subscriptions(
    session: AsyncSession, *, group_id: int
) -> Sequence[WebhookSubscription]:
    return (await session.scalars(_in_group(group_id).order_by(WebhookSubscription.id))).all()


async def get_subscription(
    session: AsyncSession, *, group_id: int, subscription_id: int
) -> WebhookSubscription:
    subscription = None
    if 0 < subscription_id <= MAX_ID:
        statement = _in_group(group_id).where(WebhookSubscription.id == subscription_id)
        subscription = await session.scalar(statement)
    if subscription is None:
        raise NotFound(f"No webhook with id {subscription_id}.")
    return subscription


def check_url(url: str, allowed: Networks) -> str:
    """An absolute http(s) URL; one naming a private address outright is refused here already
    (names are checked at every delivery, after resolution)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # an unbalanced "[" of an IPv6 address
        raise InvalidBody("url: give an absolute http:// or https:// URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidBody("url: give an absolute http:// or https:// URL.")
    if parts.username or parts.password:
        raise InvalidBody("url: credentials in the URL are not accepted.")
    try:
        address = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return url
    if forbidden_address(address, allowed):
        raise InvalidBody("url: deliveries never go to private, loopback or link-local addresses.")
    return url


def check_filter(pattern: str | None) -> str | None:
    if pattern is None or pattern == "":
        return None
    try:
        return filters.check_filter(pattern)
    except filters.FilterError as exc:
        raise InvalidBody(f"eventTypeFilter: {exc}.") from None


async def create_subscription(
    session: AsyncSession,
    *,
    group_id: int,
    url: str,
    channels: list[str],
    event_type_filter: str | None,
    active: bool,
    allowed: Networks,
) -> WebhookSubscription:
    now = utcnow()
    subscription = WebhookSubscription(
        group_id=group_id,
        url=check_url(url, allowed),
        channels=filters.frame_channels(channels),
        event_type_filter=check_filter(event_type_filter),
        active=active,
        secret=signing.new_secret(),
        failures_in_a_row=0,
        created=now,
        modified=now,
    )
    session.add(subscription)
    await session.flush()
    return subscription


async def update_subscription(
    session: AsyncSession,
    subscription: WebhookSubscription,
    *,
    changes: dict[str, Any],
    allowed: Networks,
) -> WebhookSubscription:
    """Fields given replace; turning a subscription on again clears its failures and makes its
    waiting deliveries due now."""
    if "url" in changes:
        subscription.url = check_url(changes["url"], allowed)
    if "channels" in changes:
        subscription.channels = filters.frame_channels(changes["channels"])
    if "event_type_filter" in changes:
        subscription.event_type_filter = check_filter(changes["event_type_filter"])
    if "active" in changes:
        if changes["active"] and not subscription.active:
            subscription.failures_in_a_row = 0
            subscription.failing_since = None
            subscription.disabled_reason = None
            await session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.subscription_id == subscription.id,
                    WebhookDelivery.status == "pending",
                )
                .values(next_attempt_at=utcnow())
            )
            await wakeup.event_written(session)
        subscription.active = changes["active"]
    subscription.modified = utcnow()
    await session.flush()
    return subscription


async def delete_subscription(session: AsyncSession, subscription: WebhookSubscription) -> None:
    await session.delete(subscription)
    await session.flush()


async def rotate_secret(
    session: AsyncSession,
    subscription: WebhookSubscription,
    *,
    overlap: timedelta = ROTATION_OVERLAP,
) -> WebhookSubscription:
    """A new secret; the old one keeps signing beside it for ``overlap``."""
    now = utcnow()
    subscription.previous_secret = subscription.secret
    subscription.previous_secret_until = now + overlap
    subscription.secret = signing.new_secret()
    subscription.modified = now
    await session.flush()
    return subscription


def secrets_in_use(subscription: Any, now: datetime) -> list[str]:
    """The secrets that sign now (``subscription``: the model, or a row with its columns)."""
    used = [subscription.secret]
    if subscription.previous_secret and (subscription.previous_secret_until or now) > now:
        used.append(subscription.previous_secret)
    return used


def _payload(
    *, message_id: str, event_type: str, group_id: int, now: datetime, data: dict[str, Any]
) -> str:
    """The Standard Webhooks payload: type, timestamp and data, with the event's id and group."""
    body = {
        "type": event_type,
        "timestamp": _timestamp(now),
        "id": message_id,
        "groupId": group_id,
        "data": data,
    }
    return orjson.dumps(body).decode()


def _timestamp(now: datetime) -> str:
    return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def listening(*, group_id: Any, channel: str) -> Exists:
    """True when an active subscription of the group listens on the channel (``group_id`` may
    be a bound parameter)."""
    if channel not in filters.CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    return exists().where(
        WebhookSubscription.group_id == group_id,
        WebhookSubscription.active.is_(True),
        # Inline, not a parameter: statements sent straight to the driver carry only the
        # caller's parameters (the channel is one of ``filters.CHANNELS``, never client text).
        WebhookSubscription.channels.like(literal_column(f"'%,{channel},%'")),
    )


async def emit(
    session: AsyncSession,
    *,
    group_id: int,
    channel: str,
    change: str,
    resource_id: int | str,
    data: dict[str, Any],
) -> None:
    """Write the event of a change, in the change's transaction: one statement, which writes
    nothing when no active subscription of the group listens on the channel."""
    event_type = f"{channel}.{change}"
    now = utcnow()
    message_id = _new_message_id()
    columns = WebhookEvent.__table__.c
    values = {
        "group_id": group_id,
        "message_id": message_id,
        "type": event_type,
        "channel": channel,
        "resource": f"{channel}:{resource_id}",
        "body": _payload(
            message_id=message_id, event_type=event_type, group_id=group_id, now=now, data=data
        ),
        "fanned_out": False,
        "created": now,
    }
    source = select(*(literal(v, columns[k].type).label(k) for k, v in values.items())).where(
        listening(group_id=group_id, channel=channel)
    )
    result = await session.execute(insert(WebhookEvent).from_select(list(values), source))
    if result.rowcount:
        await wakeup.event_written(session)


def event_parameters() -> dict[str, Any]:
    """The parameters of a statement holding ``emit_from``: a new message id and the time."""
    now = utcnow()
    return {
        "event_message_id": _new_message_id(),
        "event_timestamp": _timestamp(now),
        "event_created": now,
    }


def emit_from(
    source: FromClause,
    *,
    group_id: ColumnElement[int],
    channel: str,
    change: str,
    resource_id: ColumnElement[Any],
    data: ColumnElement[Any],
) -> Insert:
    """``emit`` as part of a statement (Postgres): the outbox row of a change that the same
    statement makes, with ``data`` (a JSON expression over ``source``) as its representation.
    It inserts nothing when no active subscription of the group listens on the channel, and
    returns the event's id (so a caller can tell whether one was written). Its parameters come
    from ``event_parameters()``."""
    event_type = _constant(f"{channel}.{change}")
    message_id = bindparam("event_message_id", type_=String)
    payload = json_object(
        {
            "type": event_type,
            "timestamp": bindparam("event_timestamp", type_=String),
            "id": message_id,
            "groupId": group_id,
            "data": data,
        }
    )
    row = select(
        group_id,
        message_id,
        event_type,
        _constant(channel),
        _constant(f"{channel}:") + cast(resource_id, String),
        cast(payload, Text),
        false(),
        bindparam("event_created", type_=WebhookEvent.__table__.c.created.type),
    ).select_from(source)
    row = row.where(listening(group_id=group_id, channel=channel))
    columns = ["group_id", "message_id", "type", "channel", "resource", "body", "fanned_out"]
    return insert(WebhookEvent).from_select([*columns, "created"], row).returning(WebhookEvent.id)


def written_count(new_events: CTE) -> ColumnElement[int]:
    """How many events a statement holding ``emit_from`` (as the CTE ``new_events``) wrote."""
    return select(func.count()).select_from(new_events).scalar_subquery()


def events_committed() -> None:
    """After such a statement (committed on its own) wrote an event: wake the dispatchers,
    here and in other processes."""
    wakeup.events_committed()


def _constant(text: str) -> ColumnElement[str]:
    """A constant of the code (a channel, an event type) inline in a statement."""
    if not text.replace(".", "").replace(":", "").isalnum():
        raise ValueError(f"not a channel or event type: {text!r}")
    return literal_column(f"'{text}'", String)


async def ping(session: AsyncSession, subscription: WebhookSubscription) -> str:
    """A ``ping`` event for this subscription alone (whatever its channels and filter); its
    message id."""
    now = utcnow()
    message_id = _new_message_id()
    data = {"webhookId": subscription.id, "url": subscription.url}
    event = WebhookEvent(
        group_id=subscription.group_id,
        message_id=message_id,
        type=filters.PING,
        channel=filters.PING,
        resource=f"ping:{subscription.id}",
        body=_payload(
            message_id=message_id,
            event_type=filters.PING,
            group_id=subscription.group_id,
            now=now,
            data=data,
        ),
        fanned_out=True,
        created=now,
    )
    session.add(event)
    await session.flush()
    session.add(
        WebhookDelivery(
            subscription_id=subscription.id,
            event_id=event.id,
            resource=event.resource,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created=now,
        )
    )
    await session.flush()
    await wakeup.event_written(session)
    return message_id


async def last_deliveries(
    session: AsyncSession, subscription: WebhookSubscription, *, limit: int = DELIVERIES_SHOWN
) -> Sequence[tuple[WebhookDelivery, WebhookEvent]]:
    statement = (
        select(WebhookDelivery, WebhookEvent)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.subscription_id == subscription.id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    return [(row[0], row[1]) for row in (await session.execute(statement)).all()]


async def backlog(session: AsyncSession) -> dict[str, float]:
    """Figures for /metrics: deliveries kept by status, and the age in seconds of the oldest
    event still waiting (not yet fanned out, or with a delivery pending)."""
    counts = dict(
        (
            await session.execute(
                select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
            )
        ).all()
    )
    oldest_unfanned = await session.scalar(
        select(func.min(WebhookEvent.created)).where(WebhookEvent.fanned_out.is_(False))
    )
    oldest_pending = await session.scalar(
        select(func.min(WebhookEvent.created))
        .join(WebhookDelivery, WebhookDelivery.event_id == WebhookEvent.id)
        .where(WebhookDelivery.status == "pending")
    )
    oldest = min((t for t in (oldest_unfanned, oldest_pending) if t is not None), default=None)
    age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
    return {
        "delivered": counts.get("delivered", 0),
        "failed": counts.get("failed", 0),
        "pending": counts.get("pending", 0),
        "oldest_pending_seconds": max(0.0, age),
    }
