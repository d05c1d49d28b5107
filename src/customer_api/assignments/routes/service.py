"""Routes: an employee's ordered visits to customers assigned to that employee."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from customer_api.assignments.family import events
from customer_api.assignments.family.errors import (
    InvalidParam,
    NotFound,
    NotUnique,
    SaveNotAuthorized,
)
from customer_api.assignments.family.query import MomentFilter, Page
from customer_api.assignments.family.statements import (
    Listing,
    can_exist,
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
from customer_api.assignments.schemas import Key, RouteCreate, RouteRead, RouteUpdate
from customer_api.assignments.users import service as users
from customer_api.core.timestamps import utcnow
from customer_api.customers.models import Customer
from customer_api.deletions import service as deletions

WHAT = "route"
SORTS = {
    "id": Route.id,
    "dateCreated": Route.created,
    "lastUpdated": Route.modified,
    "reference": Route.reference,
    "name": Route.name,
}
MOMENTS = {"dateCreated": Route.created, "lastUpdated": Route.modified}


@dataclass(frozen=True)
class RouteFilters:
    moments: list[MomentFilter]
    reference: str | None = None
    name: str | None = None


def _in_group(group_id: int) -> Select[tuple[Route]]:
    return select(Route).where(Route.group_id == group_id)


def _with_details(statement: Select[tuple[Route]]) -> Select[tuple[Route]]:
    """The route's employee in the same statement; its stops and their customers in one more."""
    return statement.options(
        joinedload(Route.employee).load_only(Employee.id, Employee.reference),
        selectinload(Route.visits)
        .joinedload(RouteVisit.customer)
        .load_only(Customer.id, Customer.customer_number, Customer.name),
    )


async def list_routes(
    session: AsyncSession, *, group_id: int, page: Page, filters: RouteFilters
) -> Listing[Route]:
    statement = _in_group(group_id).where(*moment_conditions(filters.moments, MOMENTS))
    if filters.reference is not None:
        statement = statement.where(text_condition(Route.reference, filters.reference))
    if filters.name is not None:
        statement = statement.where(text_condition(Route.name, filters.name))
    rows = _with_details(statement).order_by(
        *ordering(page, SORTS, Route.id, nullable=frozenset({"reference"}))
    )
    return await fetch_page(session, rows=rows, count=counting(statement), page=page)


async def get_route(session: AsyncSession, *, group_id: int, key: Key) -> Route:
    """The route with this id (int) or reference (str), or the family's 404."""
    statement = _with_details(_in_group(group_id))
    if isinstance(key, int):
        statement = statement.where(Route.id == ensure_id(WHAT, key))
    else:
        statement = statement.where(Route.reference == key)
    route = await session.scalar(statement)
    if route is None:
        raise NotFound.of(WHAT, key)
    return route


async def create_route(session: AsyncSession, *, group_id: int, data: RouteCreate) -> Route:
    employee = await users.get_user(session, group_id=group_id, key=data.user_id)
    now = utcnow()
    route = Route(
        group_id=group_id,
        reference=data.reference,
        name=data.name,
        employee=employee,
        created=now,
        modified=now,
        visits=[],
    )
    await _check_reference_free(session, route)
    stops = await _customers(session, group_id=group_id, keys=data.customer_ids)
    await _ensure_assigned(session, employee=employee, stops=stops)
    _set_stops(route, stops)
    session.add(route)
    await flush(session, on_duplicate=NotUnique())
    await _emit(session, route, "created", RouteRead.of(route))
    return route


async def _emit(session: AsyncSession, route: Route, change: str, shown) -> None:
    await events.emit(
        session,
        group_id=route.group_id,
        channel="route",
        change=change,
        resource_id=route.id,
        shown=shown,
    )


async def update_route(session: AsyncSession, *, route: Route, data: RouteUpdate) -> Route:
    """Fields given replace; ``customerIds`` given replaces the stops. The result must keep
    the rule: every stop is a customer assigned to the route's employee."""
    given = data.model_fields_set
    if "user_id" in given:
        route.employee = await users.get_user(session, group_id=route.group_id, key=data.user_id)
    if "customer_ids" in given:
        stops = await _customers(session, group_id=route.group_id, keys=data.customer_ids)
    else:
        stops = [visit.customer for visit in route.visits]
    await _ensure_assigned(session, employee=route.employee, stops=stops)
    if "reference" in given:
        route.reference = data.reference
        await _check_reference_free(session, route)
    if "name" in given:
        route.name = data.name
    _set_stops(route, stops)
    route.modified = utcnow()
    await flush(session, on_duplicate=NotUnique())
    await _emit(session, route, "updated", RouteRead.of(route))
    return route


async def delete_route(session: AsyncSession, *, route: Route) -> None:
    """Deleting a route frees its pairs: their assignments may then be moved or deleted."""
    await delete(session, route)
    await deletions.record(session, deletions.ROUTE, route, reference=route.reference)
    await _emit(session, route, "deleted", {"id": route.id, "reference": route.reference})


def _set_stops(route: Route, stops: Sequence[Customer]) -> None:
    """Make the route visit these customers in this order, keeping the rows of kept stops."""
    existing = {visit.customer_id: visit for visit in route.visits}
    visits = []
    for position, customer in enumerate(stops):
        visit = existing.get(customer.id) or RouteVisit(
            customer_id=customer.id, customer=customer, group_id=route.group_id
        )
        visit.position = position
        visits.append(visit)
    route.visits = visits


async def _customers(
    session: AsyncSession, *, group_id: int, keys: Sequence[Key]
) -> list[Customer]:
    """The customers named by ids (int) and references (str), in the order given."""
    _refuse_repeats(keys)
    ids = [key for key in keys if isinstance(key, int) and can_exist(key)]
    references = [key for key in keys if isinstance(key, str)]
    found: dict[Key, Customer] = {}
    if ids or references:
        statement = select(Customer).where(
            Customer.group_id == group_id,
            or_(Customer.id.in_(ids), Customer.customer_number.in_(references)),
        )
        for customer in await session.scalars(statement):
            found[customer.id] = customer
            if customer.customer_number is not None:
                found[customer.customer_number] = customer
    for key in keys:
        if key not in found:
            raise NotFound.of("customer", key)
    stops = [found[key] for key in keys]
    _refuse_repeats([customer.id for customer in stops])
    return stops


def _refuse_repeats(keys: Sequence[Key]) -> None:
    seen: set[Key] = set()
    for key in keys:
        if key in seen:
            raise InvalidParam.value("customerIds", f"the customer {key} is listed twice.")
        seen.add(key)


async def _ensure_assigned(
    session: AsyncSession, *, employee: Employee, stops: Sequence[Customer]
) -> None:
    """The route rule: a route may only visit customers assigned to its employee."""
    if not stops:
        return
    statement = select(CustomerEmployee.customer_id).where(
        CustomerEmployee.employee_id == employee.id,
        CustomerEmployee.customer_id.in_([customer.id for customer in stops]),
    )
    assigned = set(await session.scalars(statement))
    for customer in stops:
        if customer.id not in assigned:
            raise SaveNotAuthorized(
                f"The customer {customer.customer_number or customer.id} is not assigned to "
                f"the user {employee.reference}."
            )


async def _check_reference_free(session: AsyncSession, route: Route) -> None:
    if route.reference is None:
        return
    statement = select(Route.id).where(
        Route.group_id == route.group_id, Route.reference == route.reference
    )
    if route.id is not None:
        statement = statement.where(Route.id != route.id)
    with session.no_autoflush:
        if await session.scalar(statement.limit(1)) is not None:
            raise NotUnique()
