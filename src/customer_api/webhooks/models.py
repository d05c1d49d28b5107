"""Subscriptions, the event outbox and the deliveries of each event to each subscription."""

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from customer_api.core.db import Base
from customer_api.core.timestamps import UTCDateTime, utcnow

_BIG_ID = BigInteger().with_variant(Integer, "sqlite")


class WebhookSubscription(Base):
    """A URL that hears about the group's changes on some channels."""

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (Index("ix_webhook_subscriptions_group_id_active", "group_id", "active"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    channels: Mapped[str] = mapped_column(String(200))
    """Comma-separated and framed by commas (``,customer,document,``): one LIKE finds a channel."""
    event_type_filter: Mapped[str | None] = mapped_column(String(256), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    secret: Mapped[str] = mapped_column(String(100))
    """Kept as given (``whsec_...``): signing needs the secret itself, not a hash of it."""
    previous_secret: Mapped[str | None] = mapped_column(String(100), default=None)
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    failures_in_a_row: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    disabled_reason: Mapped[str | None] = mapped_column(String(500), default=None)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookEvent(Base):
    """A change, written in the change's own transaction; fanned out to the subscriptions that
    want it by the dispatcher."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index(
            "ix_webhook_events_unfanned_id",
            "id",
            postgresql_where=text("NOT fanned_out"),
            sqlite_where=text("NOT fanned_out"),
        ),
        Index("ix_webhook_events_created", "created"),
    )

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(40))
    """The ``webhook-id`` header: the same on every attempt, so receivers can drop repeats."""
    type: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    resource: Mapped[str] = mapped_column(String(80))
    """``<channel>:<id>``: deliveries of one resource go out in event order."""
    body: Mapped[str] = mapped_column(Text)
    """The payload exactly as sent (and signed)."""
    fanned_out: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One event for one subscription: pending until a 2xx (delivered) or until it gives up
    (failed)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index(
            "ix_webhook_deliveries_pending_next_attempt_at",
            "next_attempt_at",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index(
            "ix_webhook_deliveries_pending_order",
            "subscription_id",
            "resource",
            "event_id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index("ix_webhook_deliveries_subscription_id_id", "subscription_id", "id"),
        Index("ix_webhook_deliveries_event_id", "event_id"),
    )

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    event_id: Mapped[int] = mapped_column(
        _BIG_ID, ForeignKey("webhook_events.id", ondelete="CASCADE")
    )
    resource: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    """Not tried before this moment: pushed back after a failure, and while an attempt is in
    flight (a lease: a dispatcher that dies mid-attempt leaves it to be tried again)."""
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    response_status: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
