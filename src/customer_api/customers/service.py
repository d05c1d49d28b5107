"""The customer logic: listing, reading, writing and deleting a group's customers."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Row, Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from customer_api.core.errors import Conflict, NotFound
from customer_api.core.identifiers import parse_id_or_uuid
from customer_api.core.timestamps import utcnow
from customer_api.customers.models import Customer, CustomerProject
from customer_api.customers.schemas import CustomerProjectWrite, CustomerWrite
from customer_api.documents import service as documents_service
from customer_api.documents.models import CustomerDocument
from customer_api.search.service import customer_changed


def _in_group(group_id: int) -> Select[tuple[Customer]]:
    return select(Customer).where(Customer.group_id == group_id)


def _with_projects(statement: Select[tuple[Customer]]) -> Select[tuple[Customer]]:
    return statement.options(selectinload(Customer.projects))


def _with_documents(statement: Select[tuple[Customer]]) -> Select[tuple[Customer]]:
    """The detail representation's documents: one more statement."""
    return statement.options(
        selectinload(Customer.document_links).joinedload(CustomerDocument.document)
    )


@dataclass(frozen=True)
class CustomerPage:
    """A page of customers as plain rows, with each one's projects (in id order)."""

    customers: Sequence[Row[Any]]
    projects: dict[int, list[Row[Any]]]


async def list_customers(
    session: AsyncSession,
    *,
    group_id: int,
    include_inactive: bool,
    limit: int,
    offset: int,
    modified_since: datetime | None,
) -> CustomerPage:
    """A page of the group's customers in id order: two statements whatever the page size.

    Reads plain rows rather than ORM objects: a page may hold a thousand customers with their
    projects, and skipping the identity map makes it several times faster.
    """
    statement = select(*Customer.__table__.columns).where(Customer.group_id == group_id)
    if not include_inactive:
        statement = statement.where(Customer.active.is_(True))
    if modified_since is not None:
        statement = statement.where(Customer.modified >= modified_since)
    statement = statement.order_by(Customer.id).limit(limit).offset(offset)
    customers = (await session.execute(statement)).all()
    return CustomerPage(customers, await _projects_by_customer(session, [c.id for c in customers]))


async def _projects_by_customer(
    session: AsyncSession, customer_ids: list[int]
) -> dict[int, list[Row[Any]]]:
    projects: dict[int, list[Row[Any]]] = defaultdict(list)
    if customer_ids:
        statement = (
            select(*CustomerProject.__table__.columns)
            .where(CustomerProject.customer_id.in_(customer_ids))
            .order_by(CustomerProject.id)
        )
        for project in (await session.execute(statement)).all():
            projects[project.customer_id].append(project)
    return projects


async def find_customer(session: AsyncSession, *, group_id: int, ref: str) -> Customer | None:
    key = parse_id_or_uuid(ref)
    if key is None:
        return None
    column = Customer.uuid if isinstance(key, UUID) else Customer.id
    statement = _with_documents(_with_projects(_in_group(group_id).where(column == key)))
    return await session.scalar(statement)


async def get_customer(session: AsyncSession, *, group_id: int, ref: str) -> Customer:
    customer = await find_customer(session, group_id=group_id, ref=ref)
    if customer is None:
        raise NotFound(f"No customer with id {ref!r}.")
    return customer


async def create_customer(
    session: AsyncSession, *, group_id: int, data: CustomerWrite, uuid: UUID | None = None
) -> Customer:
    """Create a customer; ``data.name`` is set (the router's CustomerCreate requires it)."""
    now = utcnow()
    customer = Customer(group_id=group_id, uuid=uuid or uuid4(), created=now, modified=now)
    customer.projects = []
    customer.document_links = []
    await _apply_changes(session, customer, data)
    await _check_customer_number(session, customer)
    session.add(customer)
    await _flush(session)
    await customer_changed(session, customer)
    return customer


async def update_customer(
    session: AsyncSession, *, group_id: int, ref: str, data: CustomerWrite
) -> Customer:
    """Update the customer; an unknown UUID with a name creates it with that UUID (the documented
    upsert). Without a name there is nothing to create: no such customer."""
    customer = await find_customer(session, group_id=group_id, ref=ref)
    if customer is None:
        key = parse_id_or_uuid(ref)
        if isinstance(key, UUID) and data.name is not None:
            return await create_customer(session, group_id=group_id, data=data, uuid=key)
        hint = " To create it with this UUID, give a name." if isinstance(key, UUID) else ""
        raise NotFound(f"No customer with id {ref!r}.{hint}")
    await _apply_changes(session, customer, data)
    customer.modified = utcnow()
    await _check_customer_number(session, customer)
    await _flush(session)
    await customer_changed(session, customer)
    return customer


async def delete_customer(session: AsyncSession, *, group_id: int, ref: str) -> None:
    customer = await get_customer(session, group_id=group_id, ref=ref)
    await session.delete(customer)
    await session.flush()
    await customer_changed(session, customer)


async def _apply_changes(session: AsyncSession, customer: Customer, data: CustomerWrite) -> None:
    _apply_fields(customer, data)
    if data.customer_projects is not None:
        _reconcile_projects(customer, data.customer_projects)
    if data.documents is not None:
        await documents_service.set_customer_documents(
            session, group_id=customer.group_id, customer=customer, items=data.documents
        )


def _apply_fields(customer: Customer, data: CustomerWrite) -> None:
    for name, value in data.given_fields().items():
        if name == "customer_number" and value == "":
            value = None
        setattr(customer, name, value)


def _reconcile_projects(customer: Customer, wanted: list[CustomerProjectWrite]) -> None:
    """Make the customer's projects the given list: match by id, then uuid, then name."""
    unmatched = list(customer.projects)
    by_id = {project.id: project for project in unmatched}
    by_uuid = {project.uuid: project for project in unmatched}
    kept: list[CustomerProject] = []
    for index, item in enumerate(wanted):
        project = _match_project(item, index, by_id, by_uuid, unmatched)
        if project is None:
            project = CustomerProject(uuid=item.uuid or uuid4(), active=True)
        elif project in kept:
            raise Conflict(f"customerProjects[{index}]: the same project is listed twice.")
        else:
            unmatched.remove(project)
        project.name = item.name
        if item.active is not None:
            project.active = item.active
        kept.append(project)
    customer.projects = kept


def _match_project(
    item: CustomerProjectWrite,
    index: int,
    by_id: dict[int, CustomerProject],
    by_uuid: dict[UUID, CustomerProject],
    unmatched: list[CustomerProject],
) -> CustomerProject | None:
    if item.id is not None:
        if item.id not in by_id:
            raise Conflict(
                f"customerProjects[{index}].id: {item.id} is not a project of this customer."
            )
        return by_id[item.id]
    if item.uuid is not None:
        return by_uuid.get(item.uuid)
    return next((project for project in unmatched if project.name == item.name), None)


async def _check_customer_number(session: AsyncSession, customer: Customer) -> None:
    if customer.customer_number is None:
        return
    statement = select(Customer.id).where(
        Customer.group_id == customer.group_id,
        Customer.customer_number == customer.customer_number,
    )
    if customer.id is not None:
        statement = statement.where(Customer.id != customer.id)
    with session.no_autoflush:
        taken = await session.scalar(statement.limit(1))
    if taken is not None:
        raise Conflict(
            f"customerNumber: {customer.customer_number!r} is already used by another customer."
        )


async def _flush(session: AsyncSession) -> None:
    """Flush, turning a lost race on a unique value into the 409 the check would have given."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("customerNumber or uuid: already used by another customer.") from exc
