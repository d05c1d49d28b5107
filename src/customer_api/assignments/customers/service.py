"""The customers of /api/1 as this family reads them: ``reference`` is the customerNumber."""

from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from customer_api.assignments.family.errors import NotFound
from customer_api.assignments.family.query import MomentFilter, Page
from customer_api.assignments.family.statements import (
    Listing,
    counting,
    ensure_id,
    fetch_page,
    moment_conditions,
    ordering,
    text_condition,
)
from customer_api.assignments.schemas import Key
from customer_api.customers.models import Customer

WHAT = "customer"
SORTS = {
    "id": Customer.id,
    "dateCreated": Customer.created,
    "lastUpdated": Customer.modified,
    "reference": Customer.customer_number,
    "name": Customer.name,
}
MOMENTS = {"dateCreated": Customer.created, "lastUpdated": Customer.modified}


@dataclass(frozen=True)
class CustomerFilters:
    moments: list[MomentFilter]
    reference: str | None = None
    name: str | None = None
    active: bool | None = None


def _in_group(group_id: int) -> Select[tuple[Customer]]:
    return select(Customer).where(Customer.group_id == group_id)


async def list_customers(
    session: AsyncSession, *, group_id: int, page: Page, filters: CustomerFilters
) -> Listing[Customer]:
    statement = _in_group(group_id).where(*moment_conditions(filters.moments, MOMENTS))
    if filters.reference is not None:
        statement = statement.where(text_condition(Customer.customer_number, filters.reference))
    if filters.name is not None:
        statement = statement.where(text_condition(Customer.name, filters.name))
    if filters.active is not None:
        statement = statement.where(Customer.active.is_(filters.active))
    rows = statement.order_by(
        *ordering(page, SORTS, Customer.id, nullable=frozenset({"reference"}))
    )
    return await fetch_page(session, rows=rows, count=counting(statement), page=page)


async def get_customer(session: AsyncSession, *, group_id: int, key: Key) -> Customer:
    """The customer with this id (int) or reference (str), or the family's 404."""
    statement = _in_group(group_id)
    if isinstance(key, int):
        statement = statement.where(Customer.id == ensure_id(WHAT, key))
    else:
        statement = statement.where(Customer.customer_number == key)
    customer = await session.scalar(statement)
    if customer is None:
        raise NotFound.of(WHAT, key)
    return customer
