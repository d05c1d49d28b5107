"""/api/v1.0/routes: an employee's ordered visits to the customers assigned to them."""

from typing import Annotated

from fastapi import Request

from customer_api.assignments.family.endpoints import (
    BY_ID,
    BY_REFERENCE,
    FOUND,
    TextFilter,
    deleted_page,
    family_router,
    given,
    list_query,
    lookups,
    page_of,
)
from customer_api.assignments.models import Route
from customer_api.assignments.routes import service
from customer_api.assignments.schemas import (
    Deleted,
    DeletedRead,
    PageOf,
    RouteCreate,
    RouteRead,
    RouteUpdate,
)
from customer_api.auth.dependencies import CurrentPrincipal
from customer_api.core.db import SessionDep
from customer_api.deletions import service as deletions

ListQuery = list_query(service.SORTS)
router = family_router("routes", "routes")


_FIND_BY_ID, _FIND_BY_REFERENCE = lookups(service.get_route, RouteRead.of)
ById = Annotated[Route, _FIND_BY_ID]
ByReference = Annotated[Route, _FIND_BY_REFERENCE]
RULE = (
    "Every customer visited must be assigned to the route's user (400 save_not_authorized). "
    "With `useExternalId: true`, `userId` and `customerIds` are references."
)


@router.get("", summary="List the routes")
async def list_routes(
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    params: ListQuery,
    reference: TextFilter = None,
    name: TextFilter = None,
) -> PageOf[RouteRead] | PageOf[DeletedRead]:
    group_id, resource = principal.group_id, deletions.ROUTE
    if tombstones := await deleted_page(request, session, group_id, params, resource):
        return tombstones
    page = params.page()
    filters = service.RouteFilters(params.moments(), reference=given(reference), name=given(name))
    listing = await service.list_routes(
        session, group_id=principal.group_id, page=page, filters=filters
    )
    echoed = params.filters_given(reference=reference, name=name)
    return page_of(request, page=page, listing=listing, filters=echoed, show=RouteRead.of)


@router.get(BY_ID, summary="Show a route", responses=FOUND)
async def show_route(route: ById) -> RouteRead:
    return RouteRead.of(route)


@router.get(BY_REFERENCE, summary="Show a route by reference", responses=FOUND)
async def show_route_by_reference(route: ByReference) -> RouteRead:
    return RouteRead.of(route)


@router.post("", status_code=201, summary="Create a route", description=RULE, responses=FOUND)
async def create_route(
    body: RouteCreate, principal: CurrentPrincipal, session: SessionDep
) -> RouteRead:
    route = await service.create_route(session, group_id=principal.group_id, data=body)
    return RouteRead.of(route)


UPDATE = {
    "status_code": 201,
    "responses": FOUND,
    "description": "Fields given replace, fields left out stay; `customerIds` replaces the "
    "stops. " + RULE,
}


@router.put(BY_ID, summary="Update a route", **UPDATE)
async def update_route(route: ById, body: RouteUpdate, session: SessionDep) -> RouteRead:
    return RouteRead.of(await service.update_route(session, route=route, data=body))


@router.put(BY_REFERENCE, summary="Update a route by reference", **UPDATE)
async def update_route_by_reference(
    route: ByReference, body: RouteUpdate, session: SessionDep
) -> RouteRead:
    return RouteRead.of(await service.update_route(session, route=route, data=body))


DELETE = {
    "responses": FOUND,
    "description": "Always allowed; the route's customers and user may then be reassigned.",
}


@router.delete(BY_ID, summary="Delete a route", **DELETE)
async def delete_route(route: ById, session: SessionDep) -> Deleted:
    await service.delete_route(session, route=route)
    return Deleted()


@router.delete(BY_REFERENCE, summary="Delete a route by reference", **DELETE)
async def delete_route_by_reference(route: ByReference, session: SessionDep) -> Deleted:
    await service.delete_route(session, route=route)
    return Deleted()
