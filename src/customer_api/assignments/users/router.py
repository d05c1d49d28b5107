"""/api/v1.0/users: the group's employees, what an assignment's ``user.href`` points at."""

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
from customer_api.assignments.models import Employee
from customer_api.assignments.schemas import (
    Deleted,
    DeletedRead,
    PageOf,
    UserCreate,
    UserRead,
    UserUpdate,
)
from customer_api.assignments.users import service
from customer_api.auth.dependencies import CurrentPrincipal
from customer_api.core.db import SessionDep
from customer_api.deletions import service as deletions

ListQuery = list_query(service.SORTS)
router = family_router("users", "users")


_FIND_BY_ID, _FIND_BY_REFERENCE = lookups(service.get_user, UserRead.of)
ById = Annotated[Employee, _FIND_BY_ID]
ByReference = Annotated[Employee, _FIND_BY_REFERENCE]


@router.get("", summary="List the users")
async def list_users(
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    params: ListQuery,
    reference: TextFilter = None,
) -> PageOf[UserRead] | PageOf[DeletedRead]:
    group_id, resource = principal.group_id, deletions.USER
    if tombstones := await deleted_page(request, session, group_id, params, resource):
        return tombstones
    page = params.page()
    filters = service.UserFilters(params.moments(), reference=given(reference))
    listing = await service.list_users(
        session, group_id=principal.group_id, page=page, filters=filters
    )
    echoed = params.filters_given(reference=reference)
    return page_of(request, page=page, listing=listing, filters=echoed, show=UserRead.of)


@router.get(BY_ID, summary="Show a user", responses=FOUND)
async def show_user(employee: ById) -> UserRead:
    return UserRead.of(employee)


@router.get(BY_REFERENCE, summary="Show a user by reference", responses=FOUND)
async def show_user_by_reference(employee: ByReference) -> UserRead:
    return UserRead.of(employee)


@router.post(
    "",
    status_code=201,
    summary="Create a user",
    description="`reference` is required and unique in the group (400 not_unique).",
)
async def create_user(
    body: UserCreate, principal: CurrentPrincipal, session: SessionDep
) -> UserRead:
    employee = await service.create_user(session, group_id=principal.group_id, data=body)
    return UserRead.of(employee)


UPDATE = {
    "status_code": 201,
    "responses": FOUND,
    "description": "Fields given replace, fields left out stay. 201, as every update of this "
    "family.",
}


@router.put(BY_ID, summary="Update a user", **UPDATE)
async def update_user(employee: ById, body: UserUpdate, session: SessionDep) -> UserRead:
    return UserRead.of(await service.update_user(session, employee=employee, data=body))


@router.put(BY_REFERENCE, summary="Update a user by reference", **UPDATE)
async def update_user_by_reference(
    employee: ByReference, body: UserUpdate, session: SessionDep
) -> UserRead:
    return UserRead.of(await service.update_user(session, employee=employee, data=body))


DELETE = {
    "responses": FOUND,
    "description": "Not allowed (400 delete_not_authorized) while customers are assigned to "
    "the user or the user has routes: reassign them, or disable the user (`enabled: false`).",
}


@router.delete(BY_ID, summary="Delete a user", **DELETE)
async def delete_user(employee: ById, session: SessionDep) -> Deleted:
    await service.delete_user(session, employee=employee)
    return Deleted()


@router.delete(BY_REFERENCE, summary="Delete a user by reference", **DELETE)
async def delete_user_by_reference(employee: ByReference, session: SessionDep) -> Deleted:
    await service.delete_user(session, employee=employee)
    return Deleted()
