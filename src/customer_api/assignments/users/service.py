"""The group's users (employees): listing, reading, writing and deleting them."""

from dataclasses import dataclass

from sqlalchemy import Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from customer_api.assignments.family import events
from customer_api.assignments.family.errors import (
    DeleteNotAuthorized,
    NotFound,
    NotUnique,
)
from customer_api.assignments.family.query import MomentFilter, Page
from customer_api.assignments.family.statements import (
    Listing,
    counting,
    delete,
    ensure_id,
    fetch_page,
    flush,
    moment_conditions,
    ordering,
    text_condition,
)
from customer_api.assignments.models import CustomerEmployee, Employee, Route
from customer_api.assignments.schemas import Key, UserCreate, UserRead, UserUpdate
from customer_api.core.timestamps import utcnow
from customer_api.deletions import service as deletions

WHAT = "user"
SORTS = {
    "id": Employee.id,
    "dateCreated": Employee.created,
    "lastUpdated": Employee.modified,
    "reference": Employee.reference,
}
MOMENTS = {"dateCreated": Employee.created, "lastUpdated": Employee.modified}


@dataclass(frozen=True)
class UserFilters:
    moments: list[MomentFilter]
    reference: str | None = None


def _in_group(group_id: int) -> Select[tuple[Employee]]:
    return select(Employee).where(Employee.group_id == group_id)


async def list_users(
    session: AsyncSession, *, group_id: int, page: Page, filters: UserFilters
) -> Listing[Employee]:
    statement = _in_group(group_id).where(*moment_conditions(filters.moments, MOMENTS))
    if filters.reference is not None:
        statement = statement.where(text_condition(Employee.reference, filters.reference))
    rows = statement.order_by(*ordering(page, SORTS, Employee.id))
    return await fetch_page(session, rows=rows, count=counting(statement), page=page)


async def get_user(session: AsyncSession, *, group_id: int, key: Key) -> Employee:
    """The user with this id (int) or reference (str), or the family's 404."""
    statement = _in_group(group_id)
    if isinstance(key, int):
        statement = statement.where(Employee.id == ensure_id(WHAT, key))
    else:
        statement = statement.where(Employee.reference == key)
    employee = await session.scalar(statement)
    if employee is None:
        raise NotFound.of(WHAT, key)
    return employee


async def create_user(session: AsyncSession, *, group_id: int, data: UserCreate) -> Employee:
    now = utcnow()
    employee = Employee(group_id=group_id, created=now, modified=now, enabled=True)
    for name, value in data.given().items():
        setattr(employee, name, value)
    await _check_reference_free(session, employee)
    session.add(employee)
    await flush(session, on_duplicate=NotUnique())
    await _emit(session, employee, "created", UserRead.of(employee))
    return employee


async def _emit(session: AsyncSession, employee: Employee, change: str, shown) -> None:
    await events.emit(
        session,
        group_id=employee.group_id,
        channel="user",
        change=change,
        resource_id=employee.id,
        shown=shown,
    )


async def update_user(session: AsyncSession, *, employee: Employee, data: UserUpdate) -> Employee:
    """Fields given replace; fields left out stay."""
    for name, value in data.given().items():
        setattr(employee, name, value)
    employee.modified = utcnow()
    await _check_reference_free(session, employee)
    await flush(session, on_duplicate=NotUnique())
    await _emit(session, employee, "updated", UserRead.of(employee))
    return employee


async def delete_user(session: AsyncSession, *, employee: Employee) -> None:
    """Delete a user that serves no customer and drives no route (disable it otherwise)."""
    if await session.scalar(select(exists().where(CustomerEmployee.employee_id == employee.id))):
        raise DeleteNotAuthorized("The user is assigned to customers")
    if await session.scalar(select(exists().where(Route.employee_id == employee.id))):
        raise DeleteNotAuthorized("The user is assigned to routes")
    await delete(session, employee)
    await deletions.record(session, deletions.USER, employee, reference=employee.reference)
    shown = {"id": employee.id, "reference": employee.reference}
    await _emit(session, employee, "deleted", shown)


async def _check_reference_free(session: AsyncSession, employee: Employee) -> None:
    statement = select(Employee.id).where(
        Employee.group_id == employee.group_id, Employee.reference == employee.reference
    )
    if employee.id is not None:
        statement = statement.where(Employee.id != employee.id)
    with session.no_autoflush:
        if await session.scalar(statement.limit(1)) is not None:
            raise NotUnique()
