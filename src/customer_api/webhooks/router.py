"""/api/1/webhook: HTTP in, service call, HTTP out."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from customer_api.auth.dependencies import CurrentPrincipal, current_principal
from customer_api.core.db import SessionDep
from customer_api.core.identifiers import MAX_ID
from customer_api.core.params import known_query_only
from customer_api.core.schemas import error_responses
from customer_api.webhooks import service
from customer_api.webhooks.outbound import Networks
from customer_api.webhooks.schemas import (
    DeliveryRead,
    EventPayload,
    PingSent,
    WebhookCreate,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
)

router = APIRouter(
    prefix="/api/1/webhook",
    tags=["webhooks"],
    dependencies=[Depends(current_principal), Depends(known_query_only)],
    responses=error_responses(400),  # an unknown query parameter, on every operation
    strict_content_type=False,
)
WebhookId = Annotated[int, Path(ge=1, le=MAX_ID)]
_EVENTS = {
    "description": "Each event is POSTed to the webhook's URL as JSON (the EventPayload "
    "schema), with the Standard Webhooks headers `webhook-id`, `webhook-timestamp` and "
    "`webhook-signature`; a 2xx answer acknowledges it.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EventPayload"}}},
}


def _allowed(request: Request) -> Networks:
    return request.app.state.webhook_allowed


@router.get("", summary="Get webhooks", response_model=list[WebhookRead])
async def list_webhooks(principal: CurrentPrincipal, session: SessionDep) -> list[WebhookRead]:
    found = await service.list_subscriptions(session, group_id=principal.group_id)
    return [WebhookRead.of(subscription) for subscription in found]


@router.post(
    "",
    summary="Create a webhook",
    description="Subscribe a URL to channels. The answer carries the signing `secret`, shown "
    "only this once.",
    response_model=WebhookWithSecret,
    responses=error_responses(406),
    callbacks=None,
    openapi_extra={
        "callbacks": {
            "event": {
                "{$request.body#/url}": {
                    "post": {
                        "summary": "An event",
                        "requestBody": {"required": True, **_EVENTS},
                        "responses": {"200": {"description": "Received (any 2xx)"}},
                    }
                }
            }
        }
    },
)
async def create_webhook(
    body: WebhookCreate, request: Request, principal: CurrentPrincipal, session: SessionDep
) -> WebhookWithSecret:
    subscription = await service.create_subscription(
        session,
        group_id=principal.group_id,
        url=body.url,
        channels=list(body.channels),
        event_type_filter=body.event_type_filter,
        active=body.active,
        allowed=_allowed(request),
    )
    return WebhookWithSecret.of(subscription)


@router.get(
    "/{webhook_id}",
    summary="Get a webhook",
    response_model=WebhookRead,
    responses=error_responses(404),
)
async def get_webhook(
    webhook_id: WebhookId, principal: CurrentPrincipal, session: SessionDep
) -> WebhookRead:
    found = await service.get_subscription(
        session, group_id=principal.group_id, subscription_id=webhook_id
    )
    return WebhookRead.of(found)


@router.put(
    "/{webhook_id}",
    summary="Update a webhook",
    description="Fields left out stay. `active: true` turns a webhook the dispatcher turned off "
    "back on: its waiting deliveries are sent again.",
    response_model=WebhookRead,
    responses=error_responses(404, 406),
)
async def update_webhook(
    webhook_id: WebhookId,
    body: WebhookUpdate,
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
) -> WebhookRead:
    found = await service.get_subscription(
        session, group_id=principal.group_id, subscription_id=webhook_id
    )
    updated = await service.update_subscription(
        session, found, changes=body.changes(), allowed=_allowed(request)
    )
    return WebhookRead.of(updated)


@router.delete(
    "/{webhook_id}",
    summary="Delete a webhook",
    response_class=Response,
    responses={200: {"description": "Deleted"}, **error_responses(404)},
)
async def delete_webhook(
    webhook_id: WebhookId, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    found = await service.get_subscription(
        session, group_id=principal.group_id, subscription_id=webhook_id
    )
    await service.delete_subscription(session, found)
    return Response(status_code=200)


@router.post(
    "/{webhook_id}/secret",
    summary="Rotate a webhook's secret",
    description="A new secret, shown once. For 24 hours deliveries carry two signatures, one "
    "with each secret, so receivers can switch without losing any.",
    response_model=WebhookWithSecret,
    responses=error_responses(404),
)
async def rotate_secret(
    webhook_id: WebhookId, principal: CurrentPrincipal, session: SessionDep
) -> WebhookWithSecret:
    found = await service.get_subscription(
        session, group_id=principal.group_id, subscription_id=webhook_id
    )
    return WebhookWithSecret.of(await service.rotate_secret(session, found))


@router.post(
    "/{webhook_id}/ping",
    summary="Send a ping event",
    description="A `ping` event to this webhook alone, to test the endpoint; follow it under "
    "/deliveries.",
    response_model=PingSent,
    responses=error_responses(404),
)
async def ping_webhook(
    webhook_id: WebhookId, principal: CurrentPrincipal, session: SessionDep
) -> PingSent:
    found = await service.get_subscription(
        session, group_id=principal.group_id, subscription_id=webhook_id
    )
    return PingSent(message_id=await service.ping(session, found))


@router.get(
    "/{webhook_id}/deliveries",
    summary="Get a webhook's last deliveries",
    description="The last 100 deliveries, newest first, with their status, attempts and the "
    "receiver's last answer. Finished ones are kept for 7 days.",
    response_model=list[DeliveryRead],
    responses=error_responses(404),
)
async def list_deliveries(
    webhook_id: WebhookId, principal: CurrentPrincipal, session: SessionDep
) -> list[DeliveryRead]:
    found = await service.get_subscription(
        session, group_id=principal.group_id, subscription_id=webhook_id
    )
    rows = await service.last_deliveries(session, found)
    return [DeliveryRead.of(delivery, event) for delivery, event in rows]


def describe_events(app) -> None:
    """Put the event payload's schema in the OpenAPI document (the create operation's
    callback refers to it)."""
    previous = app.openapi

    def openapi():
        document = previous()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        if "EventPayload" not in schemas:
            schemas["EventPayload"] = EventPayload.model_json_schema(
                by_alias=True, ref_template="#/components/schemas/{model}"
            )
        return document

    app.openapi = openapi
