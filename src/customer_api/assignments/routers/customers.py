"""/api/v1.0/customers: the customers of /api/1, read-only, what ``customer.href`` points at."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from customer_api.assignments.query import is_true
from customer_api.assignments.routers.common import (
    BOOLEAN,
    PathId,
    PathReference,
    TextFilter,
    given,
    known_query_only,
    list_query,
    page_of,
)
from customer_api.assignments.schemas import CustomerRead, PageOf, error_responses
from customer_api.assignments.service import customers as service
from customer_api.auth.dependencies import CurrentPrincipal
from customer_api.core.db import SessionDep
from customer_api.core.errors import ASSIGNMENTS_PREFIX

ListQuery = list_query(service.SORTS)
router = APIRouter(
    prefix=f"{ASSIGNMENTS_PREFIX}/customers",
    tags=["customers (v1.0)"],
    dependencies=[Depends(known_query_only)],
    responses=error_responses(400),
)
FOUND = error_responses(400, 404)


@router.get("", summary="List the customers")
async def list_customers(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    params: ListQuery,
    reference: TextFilter = None,
    name: TextFilter = None,
    isActive: Annotated[
        str | None,
        Query(description="true: only active customers; false: only inactive ones"),
        BOOLEAN,
    ] = None,
) -> PageOf[CustomerRead]:
    page = params.page()
    filters = service.CustomerFilters(
        params.moments(),
        reference=given(reference),
        name=given(name),
        active=is_true("isActive", isActive) if isActive else None,
    )
    listing = await service.list_customers(
        session, group_id=principal.group_id, page=page, filters=filters
    )
    echoed = params.filters_given(reference=reference, name=name, isActive=isActive)
    return page_of(request, page=page, listing=listing, filters=echoed, show=CustomerRead.of)


@router.get("/{id}", summary="Show a customer", responses=FOUND)
async def show_customer(
    id: PathId, session: SessionDep, principal: CurrentPrincipal
) -> CustomerRead:
    customer = await service.get_customer(session, group_id=principal.group_id, key=id)
    return CustomerRead.of(customer)


@router.get("/reference/{reference}", summary="Show a customer by reference", responses=FOUND)
async def show_customer_by_reference(
    reference: PathReference, session: SessionDep, principal: CurrentPrincipal
) -> CustomerRead:
    customer = await service.get_customer(session, group_id=principal.group_id, key=reference)
    return CustomerRead.of(customer)
