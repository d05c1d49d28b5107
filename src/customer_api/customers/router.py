"""/api/1/customer: HTTP in, service call, HTTP out."""

import re
from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from pydantic import ValidationError, WithJsonSchema
from sqlalchemy.ext.asyncio import AsyncSession

from customer_api.auth.dependencies import PRINCIPAL_STATE, CurrentPrincipal, current_principal
from customer_api.auth.service import Principal
from customer_api.core.conditional import require_match
from customer_api.core.db import Database, DatabaseDep, SessionDep
from customer_api.core.errors import is_json_media_type
from customer_api.core.express import ExpressAnswer, ExpressCall, ExpressRoute
from customer_api.core.identifiers import MAX_ID, parse_id_or_uuid
from customer_api.core.params import (
    MAX_MOMENT_LENGTH,
    MAX_PAGE,
    CustomerRefConvertor,
    InactiveParam,
    LimitParam,
    MomentSchema,
    OffsetParam,
    flag,
    known_query_only,
    moment_param,
)
from customer_api.core.responses import JsonResponse
from customer_api.core.schemas import error_responses
from customer_api.customers import service
from customer_api.customers.schemas import (
    CustomerCreate,
    CustomerDetail,
    CustomerRead,
    CustomerWrite,
    DeletedCustomer,
    customer_detail_json,
)
from customer_api.documents import service as documents_service

_ROUTER_OPTIONS: dict[str, Any] = {
    "prefix": "/api/1/customer",
    "dependencies": [Depends(current_principal), Depends(known_query_only)],
    "responses": error_responses(400),  # an unknown query parameter, on every operation
    # A JSON body sent without any Content-Type is read as JSON, as in /api/v1.0.
    "strict_content_type": False,
}
router = APIRouter(tags=["customers"], **_ROUTER_OPTIONS)

DOCUMENTED_EXAMPLE = Body(
    openapi_examples={
        "documented": {
            "summary": "A customer with two projects",
            "value": {
                "name": "Wendy Warner",
                "customerProjects": [
                    {"name": "Floor installation"},
                    {"name": "General maintenance"},
                ],
            },
        }
    }
)
NewCustomerBody = Annotated[CustomerCreate, DOCUMENTED_EXAMPLE]
# The id or the UUID, as documented (anything else is simply no such customer: 404); told so in
# the document, so that "search" or "deleted" are not read as ids.
CustomerRef = Annotated[
    str,
    Path(description="The customer's integer id or its UUID."),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^([0-9]{1,18}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}"
            "-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$",
        }
    ),
]
CustomerBody = Annotated[CustomerWrite, DOCUMENTED_EXAMPLE]


# The answer is built by hand (customer_json: the hot path skips validation) and returned as a
# Response, so response_model only documents it; tests hold the two shapes together.
@router.get(
    "",
    summary="Get customers",
    response_model=list[CustomerRead],
    responses={204: {"description": "No customer matches"}, **error_responses(400)},
)
async def list_customers(
    principal: CurrentPrincipal,
    database: DatabaseDep,
    inactive: InactiveParam = None,
    limit: LimitParam = MAX_PAGE,
    offset: OffsetParam = 0,
    modified: Annotated[
        str | None,
        Query(
            description="Only customers modified at or after this date (2015-10-05), "
            "ISO-8601 timestamp or epoch milliseconds.",
            max_length=MAX_MOMENT_LENGTH,
        ),
        MomentSchema,
    ] = None,
    after: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_ID,
            description="Only customers with an id above this one: page with the last id of "
            "the previous page (a cursor that no insert or deletion can shift).",
        ),
    ] = None,
) -> Response:
    customers = await service.list_customers(
        database,
        group_id=principal.group_id,
        include_inactive=flag(inactive),
        limit=limit,
        offset=offset,
        modified_since=moment_param("modified", modified),
        after_id=after,
    )
    if not customers:
        return Response(status_code=204)
    return JsonResponse(customers)


@router.get(
    "/deleted",
    summary="Get deleted customers",
    description="Tombstones of the group's deleted customers (id, uuid, customerNumber and when "
    "it was deleted, in epoch milliseconds), oldest first; kept for "
    "CUSTOMER_API_DELETION_RETENTION_DAYS (90 by default). With `modified` for changes, this "
    "is how a sync learns of deletions.",
    response_model=list[DeletedCustomer],
    responses={204: {"description": "No customer was deleted since then"}, **error_responses(400)},
)
async def list_deleted_customers(
    principal: CurrentPrincipal,
    session: SessionDep,
    since: Annotated[
        str | None,
        Query(
            description="Only customers deleted at or after this date (2015-10-05), ISO-8601 "
            "timestamp or epoch milliseconds.",
            max_length=MAX_MOMENT_LENGTH,
        ),
        MomentSchema,
    ] = None,
    limit: LimitParam = MAX_PAGE,
    offset: OffsetParam = 0,
) -> list[DeletedCustomer] | Response:
    deleted = await service.deleted_customers(
        session,
        group_id=principal.group_id,
        since=moment_param("since", since),
        limit=limit,
        offset=offset,
    )
    if not deleted:
        return Response(status_code=204)
    return JsonResponse(deleted)


@router.get(
    "/{customer_id:customer_ref}",
    summary="Get a customer",
    response_model=CustomerDetail,
    responses=error_responses(404),
)
async def get_customer(
    customer_id: CustomerRef, principal: CurrentPrincipal, database: DatabaseDep
) -> JsonResponse:
    return JsonResponse(
        await service.customer_detail(database, group_id=principal.group_id, ref=customer_id)
    )


@router.post(
    "",
    summary="Create a customer",
    response_model=CustomerDetail,
    responses=error_responses(404, 406, 409),
)
async def create_customer(
    body: NewCustomerBody, request: Request, principal: CurrentPrincipal, database: DatabaseDep
) -> JsonResponse:
    created = await service.add_customer(
        database, index=request.app.state.search, group_id=principal.group_id, data=body
    )
    return JsonResponse(created)


@router.put(
    "/{customer_id:customer_ref}",
    summary="Update or create a customer",
    description="Update an existing customer, or create it if it does not exist and the id is "
    "a UUID. Fields left out are left unchanged.",
    response_model=CustomerDetail,
    responses=error_responses(404, 406, 409),
)
async def update_customer(
    customer_id: CustomerRef,
    body: CustomerBody,
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
) -> JsonResponse:
    await _require_current(request, session, group_id=principal.group_id, ref=customer_id)
    customer = await service.update_customer(
        session,
        index=request.app.state.search,
        group_id=principal.group_id,
        ref=customer_id,
        data=body,
    )
    return JsonResponse(customer_detail_json(customer))


@router.delete(
    "/{customer_id:customer_ref}",
    summary="Delete a customer",
    response_class=Response,
    responses={200: {"description": "Deleted"}, **error_responses(404)},
)
async def delete_customer(
    customer_id: CustomerRef, request: Request, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    await _require_current(request, session, group_id=principal.group_id, ref=customer_id)
    await service.delete_customer(
        session, index=request.app.state.search, group_id=principal.group_id, ref=customer_id
    )
    return Response(status_code=200)


# The express lane (core/express.py): the same operations as get_customer, list_customers and
# create_customer above, for plain requests.

_PAGE_BOUNDS = {"limit": MAX_PAGE, "offset": 2**53, "after": MAX_ID}
_NUMBER = re.compile("[0-9]{1,19}")


async def express_detail(call: ExpressCall) -> ExpressAnswer:
    principal: Principal = call.state[PRINCIPAL_STATE]
    database: Database = call.app_state.database
    ref = call.params["customer_id"]
    return 200, await service.customer_detail(database, group_id=principal.group_id, ref=ref)


async def express_list(call: ExpressCall) -> ExpressAnswer:
    """A page of active customers by ``limit``, ``offset`` and ``after`` given as plain numbers
    within their bounds (anything else goes the usual way, which says what is wrong)."""
    if not all(_NUMBER.fullmatch(value) for value in call.query.values()):
        return None
    page = {name: int(value) for name, value in call.query.items()}
    if any(page[name] > bound for name, bound in _PAGE_BOUNDS.items() if name in page):
        return None
    principal: Principal = call.state[PRINCIPAL_STATE]
    customers = await service.list_customers(
        call.app_state.database,
        group_id=principal.group_id,
        include_inactive=False,
        limit=page.get("limit", MAX_PAGE),
        offset=page.get("offset", 0),
        modified_since=None,
        after_id=page.get("after"),
    )
    return (200, customers) if customers else (204, None)


async def express_create(call: ExpressCall) -> ExpressAnswer:
    """A JSON body that is a valid new customer (anything else goes the usual way, which
    says what is wrong)."""
    media = call.headers.get("content-type", "").split(";")[0].strip().lower()
    if media and not is_json_media_type(media):
        return None
    try:
        data = CustomerCreate.model_validate(orjson.loads(call.body))
    except (orjson.JSONDecodeError, ValidationError):
        return None
    principal: Principal = call.state[PRINCIPAL_STATE]
    created = await service.add_customer(
        call.app_state.database,
        index=call.app_state.search,
        group_id=principal.group_id,
        data=data,
    )
    return 200, created


_REF = "(?P<customer_id>" + CustomerRefConvertor.regex + ")"
EXPRESS_ROUTES = [
    ExpressRoute("GET", "/api/1/customer/{customer_id}", "/api/1/customer/" + _REF, express_detail),
    ExpressRoute(
        "GET", "/api/1/customer", "/api/1/customer", express_list, query=frozenset(_PAGE_BOUNDS)
    ),
    ExpressRoute("POST", "/api/1/customer", "/api/1/customer", express_create, body=True),
]


async def _require_current(request: Request, session: AsyncSession, **customer: Any) -> None:
    """412 unless If-Match (when given) names the customer's current answer. A customer that
    does not exist is the route's own 404 (RFC 9110 ignores the condition then), except for the
    upsert, which would create it."""
    if_match = request.headers.get("if-match")
    if if_match is None:
        return
    current = await service.locked_detail(session, **customer)
    upsert = request.method == "PUT" and isinstance(parse_id_or_uuid(customer["ref"]), UUID)
    if current is not None or upsert:
        require_match(if_match, None if current is None else JsonResponse.render_of(current))


# A customer's documents, attached and detached: listed with the documents in the API's
# document (their tag), hence a router of their own.
documents_router = APIRouter(tags=["documents"], **_ROUTER_OPTIONS)
_NO_CONTENT = {200: {"description": "Done (no content)"}, **error_responses(404)}


@documents_router.put(
    "/{customer_id}/document/{document_id}",
    summary="Attach a document to a customer",
    description="Idempotent: attaching an attached document changes nothing.",
    response_class=Response,
    responses={**_NO_CONTENT, **error_responses(404, 409)},
)
async def attach_document(
    customer_id: str, document_id: str, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    customer = await service.get_customer(session, group_id=principal.group_id, ref=customer_id)
    await documents_service.attach(
        session, group_id=principal.group_id, customer=customer, document_ref=document_id
    )
    return Response(status_code=200)


@documents_router.delete(
    "/{customer_id}/document/{document_id}",
    summary="Detach a document from a customer",
    description="The document itself stays (and can be attached again).",
    response_class=Response,
    responses=_NO_CONTENT,
)
async def detach_document(
    customer_id: str, document_id: str, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    customer = await service.get_customer(session, group_id=principal.group_id, ref=customer_id)
    await documents_service.detach(
        session, group_id=principal.group_id, customer=customer, document_ref=document_id
    )
    return Response(status_code=200)
