"""/api/v1.0/customerEmployees: which employee serves which customer."""

from typing import Annotated

from fastapi import Depends, Request

from customer_api.assignments.customer_employees import service
from customer_api.assignments.family.endpoints import (
    BY_ID,
    FOUND,
    PathId,
    PathReference,
    TextFilter,
    current_row,
    deleted_page,
    family_router,
    given,
    list_query,
    page_of,
)
from customer_api.assignments.models import CustomerEmployee
from customer_api.assignments.schemas import (
    AssignmentRead,
    AssignmentWrite,
    Deleted,
    DeletedRead,
    PageOf,
)
from customer_api.auth.dependencies import CurrentPrincipal
from customer_api.core.db import SessionDep
from customer_api.deletions import service as deletions

ListQuery = list_query(service.SORTS)
router = family_router("customerEmployees", "customer employees")


async def _by_id(
    id: PathId, request: Request, principal: CurrentPrincipal, session: SessionDep
) -> CustomerEmployee:
    return await current_row(
        request,
        session,
        service.get_assignment,
        AssignmentRead.of,
        group_id=principal.group_id,
        assignment_id=id,
    )


async def _by_references(
    customerRef: PathReference,
    userRef: PathReference,
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
) -> CustomerEmployee:
    return await current_row(
        request,
        session,
        service.get_assignment_by_references,
        AssignmentRead.of,
        group_id=principal.group_id,
        customer_reference=customerRef,
        user_reference=userRef,
    )


ById = Annotated[CustomerEmployee, Depends(_by_id)]
ByReferences = Annotated[CustomerEmployee, Depends(_by_references)]
BY_REFERENCES = "/reference/{customerRef}/{userRef}"


@router.get("", summary="List the assigned customers to employees")
async def list_assignments(
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    params: ListQuery,
    customerReference: TextFilter = None,
    employeeReference: TextFilter = None,
) -> PageOf[AssignmentRead] | PageOf[DeletedRead]:
    group_id, resource = principal.group_id, deletions.ASSIGNMENT
    if tombstones := await deleted_page(request, session, group_id, params, resource):
        return tombstones
    page = params.page()
    filters = service.AssignmentFilters(
        params.moments(),
        customer_reference=given(customerReference),
        employee_reference=given(employeeReference),
    )
    listing = await service.list_assignments(
        session, group_id=principal.group_id, page=page, filters=filters
    )
    echoed = params.filters_given(
        customerReference=customerReference, employeeReference=employeeReference
    )
    return page_of(request, page=page, listing=listing, filters=echoed, show=AssignmentRead.of)


@router.get(BY_ID, summary="Show an assigned customer to an employee", responses=FOUND)
async def show_assignment(assignment: ById) -> AssignmentRead:
    return AssignmentRead.of(assignment)


@router.get(BY_REFERENCES, summary="Show an assignment by references", responses=FOUND)
async def show_assignment_by_references(assignment: ByReferences) -> AssignmentRead:
    return AssignmentRead.of(assignment)


@router.post(
    "",
    status_code=201,
    summary="Assign a customer to an employee",
    description="The customer can only be assigned one time (400 already_assigned).",
    responses=FOUND,
)
async def create_assignment(
    body: AssignmentWrite, principal: CurrentPrincipal, session: SessionDep
) -> AssignmentRead:
    assignment = await service.create_assignment(
        session, group_id=principal.group_id, user=body.user_id, customer=body.customer_id
    )
    return AssignmentRead.of(assignment)


async def _update(
    session: SessionDep, assignment: CustomerEmployee, body: AssignmentWrite
) -> AssignmentRead:
    updated = await service.update_assignment(
        session, assignment=assignment, user=body.user_id, customer=body.customer_id
    )
    return AssignmentRead.of(updated)


UPDATE = {
    "status_code": 201,
    "responses": FOUND,
    "description": "Not allowed (400 update_not_authorized) while the current customer and "
    "employee are on a route together.",
}


@router.put(BY_ID, summary="Assign an assigned customer to a new employee", **UPDATE)
async def update_assignment(
    assignment: ById, body: AssignmentWrite, session: SessionDep
) -> AssignmentRead:
    return await _update(session, assignment, body)


@router.put(BY_REFERENCES, summary="Reassign, by references", **UPDATE)
async def update_assignment_by_references(
    assignment: ByReferences, body: AssignmentWrite, session: SessionDep
) -> AssignmentRead:
    return await _update(session, assignment, body)


DELETE = {
    "responses": FOUND,
    "description": "Not allowed (400 delete_not_authorized) while the customer and employee "
    "are on a route together.",
}


@router.delete(BY_ID, summary="Dissociate a customer from an employee", **DELETE)
async def delete_assignment(assignment: ById, session: SessionDep) -> Deleted:
    await service.delete_assignment(session, assignment=assignment)
    return Deleted()


@router.delete(BY_REFERENCES, summary="Dissociate, by references", **DELETE)
async def delete_assignment_by_references(assignment: ByReferences, session: SessionDep) -> Deleted:
    await service.delete_assignment(session, assignment=assignment)
    return Deleted()
