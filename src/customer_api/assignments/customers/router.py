"""/api/v1.0/customers: the customers of /api/1, read-only, what ``customer.href`` points at."""

from typing import Annotated

from fastapi import Query, Request

from customer_api.assignments.customers import service
from customer_api.assignments.family.endpoints import (
    BOOLEAN,
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
from customer_api.assignments.family.query import is_true
from customer_api.assignments.schemas import CustomerRecord, DeletedRead, PageOf
from customer_api.auth.dependencies import CurrentPrincipal
from customer_api.core.db import SessionDep
from customer_api.customers.models import Customer
from customer_api.deletions import service as deletions

ListQuery = list_query(service.SORTS)
router = family_router("customers", "customers (v1.0)")
_FIND_BY_ID, _FIND_BY_REFERENCE = lookups(service.get_customer, CustomerRecord.of)


@router.get("", summary="List the customers")
async def list_customers(
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    params: ListQuery,
    reference: TextFilter = None,
    name: TextFilter = None,
    isActive: Annotated[
        str | None,
        Query(description="true: only active customers; false: only inactive ones"),
        BOOLEAN,
    ] = None,
) -> PageOf[CustomerRecord] | PageOf[DeletedRead]:
    group_id, resource = principal.group_id, deletions.CUSTOMER
    if tombstones := await deleted_page(request, session, group_id, params, resource):
        return tombstones
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
    return page_of(request, page=page, listing=listing, filters=echoed, show=CustomerRecord.of)


@router.get(BY_ID, summary="Show a customer", responses=FOUND)
async def show_customer(customer: Annotated[Customer, _FIND_BY_ID]) -> CustomerRecord:
    return CustomerRecord.of(customer)


@router.get(BY_REFERENCE, summary="Show a customer by reference", responses=FOUND)
async def show_customer_by_reference(
    customer: Annotated[Customer, _FIND_BY_REFERENCE],
) -> CustomerRecord:
    return CustomerRecord.of(customer)
