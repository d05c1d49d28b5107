"""Subscriptions as clients send and read them, deliveries, and the event payloads (for the
OpenAPI document)."""

from typing import Annotated, Any, Literal

from pydantic import Field

from customer_api.core.schemas import CamelInput, CamelModel, Flag, omittable, text_field
from customer_api.core.timestamps import to_epoch_ms
from customer_api.webhooks.filters import EVENT_TYPES, PING, unframe_channels
from customer_api.webhooks.models import WebhookDelivery, WebhookEvent, WebhookSubscription

Channel = Literal["customer", "document", "customerEmployee", "user", "route"]
Url = Annotated[
    text_field(2000, min_length=1),
    # No white space, NUL, credentials, or brackets (an IPv6 address: give a name for it).
    Field(pattern=r"^https?://[^\s\x00/?#@\[\]]+([/?#][^\s\x00]*)?$"),
]
Filter = text_field(256)


class WebhookCreate(CamelInput):
    url: Url = Field(description="Absolute http:// or https:// URL the events are POSTed to.")
    channels: list[Channel] = Field(min_length=1, max_length=5)
    event_type_filter: Filter | None = Field(
        default=None,
        description="A regular expression searched in the event type (`customer.deleted`); "
        "only matching events are sent. Refused when invalid or too costly to run.",
    )
    active: Flag = True


class WebhookUpdate(CamelInput):
    url: Url = omittable()
    channels: list[Channel] = omittable(min_length=1, max_length=5)
    event_type_filter: Filter | None = None
    active: Flag = omittable()

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class WebhookRead(CamelModel):
    id: int
    url: str
    channels: list[Channel]
    event_type_filter: str | None
    active: bool
    disabled_reason: str | None = Field(
        description="Why the dispatcher turned the webhook off (set `active` to true again to "
        "resume); null when it did not."
    )
    failures_in_a_row: int
    created: int
    modified: int

    @classmethod
    def of(cls, subscription: WebhookSubscription) -> "WebhookRead":
        return cls(
            id=subscription.id,
            url=subscription.url,
            channels=unframe_channels(subscription.channels),
            event_type_filter=subscription.event_type_filter,
            active=subscription.active,
            disabled_reason=subscription.disabled_reason,
            failures_in_a_row=subscription.failures_in_a_row,
            created=to_epoch_ms(subscription.created),
            modified=to_epoch_ms(subscription.modified),
        )


class WebhookWithSecret(WebhookRead):
    secret: str = Field(
        description="The signing secret (`whsec_...`, Standard Webhooks). Shown only here: at "
        "creation and at rotation."
    )

    @classmethod
    def of(cls, subscription: WebhookSubscription) -> "WebhookWithSecret":
        return cls(**WebhookRead.of(subscription).model_dump(), secret=subscription.secret)


class DeliveryRead(CamelModel):
    id: int
    message_id: str = Field(description="The `webhook-id` header: the same on every attempt.")
    type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    response_status: int | None
    last_error: str | None
    created: int
    last_attempt: int | None
    next_attempt: int | None
    finished: int | None

    @classmethod
    def of(cls, delivery: WebhookDelivery, event: WebhookEvent) -> "DeliveryRead":
        def ms(value):
            return None if value is None else to_epoch_ms(value)

        return cls(
            id=delivery.id,
            message_id=event.message_id,
            type=event.type,
            status=delivery.status,  # type: ignore[arg-type]
            attempts=delivery.attempts,
            response_status=delivery.response_status,
            last_error=delivery.last_error,
            created=to_epoch_ms(delivery.created),
            last_attempt=ms(delivery.last_attempt_at),
            next_attempt=ms(delivery.next_attempt_at) if delivery.status == "pending" else None,
            finished=ms(delivery.finished),
        )


class PingSent(CamelModel):
    success: bool = True
    message_id: str


EventType = Literal[(*EVENT_TYPES, PING)]  # type: ignore[valid-type]


class EventPayload(CamelModel):
    """What each delivery POSTs (Standard Webhooks payload), signed in the `webhook-id`,
    `webhook-timestamp` and `webhook-signature` headers."""

    type: EventType = Field(description="`<channel>.<change>`, or `ping`.")  # type: ignore[valid-type]
    timestamp: str = Field(description="When the change was made, ISO-8601 UTC.")
    id: str = Field(description="The event's id (also the `webhook-id` header).")
    group_id: int
    data: dict[str, Any] = Field(
        description="The resource as the API shows it after the change (customer: the Customer "
        "of GET /api/1/customer/{id}; user, route, customerEmployee: as /api/v1.0 shows them; "
        "document: the Document). For a deletion: its id, uuid and reference. For attached and "
        "detached: `customer` {id, uuid} and `document`."
    )
