"""Customers assigned to employees: list, read, assign, reassign, dissociate."""

from dataclasses import dataclass

from sqlalchemy import Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager

from customer_api.assignments.customers import service as customers
from customer_api.assignments.family import events
from customer_api.assignments.family.errors import (
    AlreadyAssigned,
    DeleteNotAuthorized,
    NotFound,
    UpdateNotAuthorized,
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
from customer_api.assignments.models import CustomerEmployee, Employee, Route, RouteVisit
from customer_api.assignments.schemas import AssignmentRead
from customer_api.assignments.users import service as users
from customer_api.core.timestamps import utcnow
from customer_api.customers.models import Customer
from customer_api.deletions import service as deletions

WHAT = "customer employee"
SORTS = {
    "id": CustomerEmployee.id,
    "dateCreated": CustomerEmployee.created,
    "lastUpdated": CustomerEmployee.modified,
    "customerReference": Customer.customer_number,
    "employeeReference": Employee.reference,
}
MOMENTS = {"dateCreated": CustomerEmployee.created, "lastUpdated": CustomerEmployee.modified}


@dataclass(frozen=True)
class AssignmentFilters:
    moments: list[MomentFilter]
    customer_reference: str | None = None
    employee_reference: str | None = None


def _filtered(
    statement: Select, *, group_id: int, filters: AssignmentFilters, join_all: bool
) -> Select:
    """Scope and filter; the customer and employee are joined when a filter (or the page) needs
    them, so a count without reference filters reads the assignments alone.

    Each joined table is scoped by the group too (it cannot differ): that lets Postgres walk
    the (group_id, reference) indexes of customers and employees, for filters and for order.
    """
    statement = statement.where(CustomerEmployee.group_id == group_id)
    if join_all or filters.customer_reference is not None:
        statement = statement.join(CustomerEmployee.customer).where(Customer.group_id == group_id)
    if join_all or filters.employee_reference is not None:
        statement = statement.join(CustomerEmployee.employee).where(Employee.group_id == group_id)
    statement = statement.where(*moment_conditions(filters.moments, MOMENTS))
    if filters.customer_reference is not None:
        statement = statement.where(
            text_condition(Customer.customer_number, filters.customer_reference)
        )
    if filters.employee_reference is not None:
        statement = statement.where(text_condition(Employee.reference, filters.employee_reference))
    return statement


def _with_parties(statement: Select) -> Select:
    """Load what an assignment shows of its customer and employee, in the same statement."""
    return statement.options(
        contains_eager(CustomerEmployee.customer).load_only(
            Customer.id, Customer.customer_number, Customer.name
        ),
        contains_eager(CustomerEmployee.employee).load_only(
            Employee.id, Employee.reference, Employee.organization
        ),
    )


async def list_assignments(
    session: AsyncSession, *, group_id: int, page: Page, filters: AssignmentFilters
) -> Listing[CustomerEmployee]:
    """One page and the total: two statements whatever the page size."""
    rows = _filtered(select(CustomerEmployee), group_id=group_id, filters=filters, join_all=True)
    rows = _with_parties(rows).order_by(
        *ordering(page, SORTS, CustomerEmployee.id, nullable=frozenset({"customerReference"}))
    )
    count = _filtered(
        select(CustomerEmployee.id), group_id=group_id, filters=filters, join_all=False
    )
    return await fetch_page(session, rows=rows, count=counting(count), page=page)


def _one(group_id: int) -> Select:
    filters = AssignmentFilters(moments=[])
    statement = _filtered(
        select(CustomerEmployee), group_id=group_id, filters=filters, join_all=True
    )
    return _with_parties(statement)


async def get_assignment(
    session: AsyncSession, *, group_id: int, assignment_id: int
) -> CustomerEmployee:
    statement = _one(group_id).where(CustomerEmployee.id == ensure_id(WHAT, assignment_id))
    assignment = await session.scalar(statement)
    if assignment is None:
        raise NotFound.of(WHAT, assignment_id)
    return assignment


async def get_assignment_by_references(
    session: AsyncSession, *, group_id: int, customer_reference: str, user_reference: str
) -> CustomerEmployee:
    statement = _one(group_id).where(
        Customer.customer_number == customer_reference, Employee.reference == user_reference
    )
    assignment = await session.scalar(statement)
    if assignment is None:
        raise NotFound(
            f"The customer employee with the customer reference {customer_reference} "
            f"and the user reference {user_reference} doesn't exist."
        )
    return assignment


async def create_assignment(
    session: AsyncSession, *, group_id: int, user: int | str, customer: int | str
) -> CustomerEmployee:
    """Assign the customer to the user; a customer is assigned at most once."""
    employee = await users.get_user(session, group_id=group_id, key=user)
    target = await customers.get_customer(session, group_id=group_id, key=customer)
    await _ensure_unassigned(session, target)
    now = utcnow()
    assignment = CustomerEmployee(
        group_id=group_id, customer=target, employee=employee, created=now, modified=now
    )
    session.add(assignment)
    await flush(session, on_duplicate=AlreadyAssigned())
    await _emit(session, assignment, "created", AssignmentRead.of(assignment))
    return assignment


async def _emit(session: AsyncSession, assignment: CustomerEmployee, change: str, shown) -> None:
    await events.emit(
        session,
        group_id=assignment.group_id,
        channel="customerEmployee",
        change=change,
        resource_id=assignment.id,
        shown=shown,
    )


async def update_assignment(
    session: AsyncSession, *, assignment: CustomerEmployee, user: int | str, customer: int | str
) -> CustomerEmployee:
    """Reassign: another employee and/or another customer, unless the pair is on a route."""
    group_id = assignment.group_id
    employee = await users.get_user(session, group_id=group_id, key=user)
    target = await customers.get_customer(session, group_id=group_id, key=customer)
    if (employee.id, target.id) == (assignment.employee_id, assignment.customer_id):
        return assignment
    if await on_route(session, assignment=assignment):
        raise UpdateNotAuthorized()
    if target.id != assignment.customer_id:
        await _ensure_unassigned(session, target)
    assignment.customer = target
    assignment.employee = employee
    assignment.modified = utcnow()
    await flush(session, on_duplicate=AlreadyAssigned())
    await _emit(session, assignment, "updated", AssignmentRead.of(assignment))
    return assignment


async def delete_assignment(session: AsyncSession, *, assignment: CustomerEmployee) -> None:
    if await on_route(session, assignment=assignment):
        raise DeleteNotAuthorized(DeleteNotAuthorized.ON_ROUTE)
    references = f"{assignment.customer.customer_number}/{assignment.employee.reference}"
    await delete(session, assignment)
    await deletions.record(session, deletions.ASSIGNMENT, assignment, reference=references)
    shown = {"id": assignment.id, "reference": references}
    await _emit(session, assignment, "deleted", shown)


async def on_route(session: AsyncSession, *, assignment: CustomerEmployee) -> bool:
    """Whether a route of the assignment's employee visits its customer."""
    visited = exists().where(
        RouteVisit.customer_id == assignment.customer_id,
        Route.id == RouteVisit.route_id,
        Route.employee_id == assignment.employee_id,
    )
    return bool(await session.scalar(select(visited)))


async def _ensure_unassigned(session: AsyncSession, customer: Customer) -> None:
    taken = exists().where(CustomerEmployee.customer_id == customer.id)
    if await session.scalar(select(taken)):
        raise AlreadyAssigned()
