"""The customer logic: listing, reading, writing and deleting a group's customers."""

import functools
from datetime import datetime
from operator import attrgetter
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from customer_api.core.errors import Conflict, NotFound
from customer_api.core.identifiers import parse_id_or_uuid
from customer_api.core.json_sql import decode_bool, decode_datetime, decode_uuid, json_array
from customer_api.core.timestamps import utcnow
from customer_api.customers.models import Customer, CustomerProject
from customer_api.customers.schemas import (
    CustomerProjectWrite,
    CustomerWrite,
    customer_json,
    detail_json,
)
from customer_api.documents import service as documents_service
from customer_api.documents.models import CustomerDocument, Document
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


JsonObject = dict[str, Any]


async def list_customers(
    session: AsyncSession,
    *,
    group_id: int,
    include_inactive: bool,
    limit: int,
    offset: int,
    modified_since: datetime | None,
) -> list[JsonObject]:
    """A page of the group's customers in id order, with their projects: one statement whatever
    the page size.

    Reads plain rows rather than ORM objects: a page may hold a thousand customers with their
    projects, and skipping the identity map makes it several times faster.
    """
    statement = _list_statement(_dialect(session)).where(Customer.group_id == group_id)
    if not include_inactive:
        statement = statement.where(Customer.active.is_(True))
    if modified_since is not None:
        statement = statement.where(Customer.modified >= modified_since)
    statement = statement.order_by(Customer.id).limit(limit).offset(offset)
    rows = (await session.execute(statement)).all()
    return [customer_json(row, _projects(row.projects)) for row in rows]


async def customer_detail(session: AsyncSession, *, group_id: int, ref: str) -> JsonObject:
    """The detail representation of the group's customer with this id or uuid: one statement
    for the customer, its projects and its documents."""
    key = parse_id_or_uuid(ref)
    row = None
    if key is not None:
        column = Customer.uuid if isinstance(key, UUID) else Customer.id
        statement = _detail_statement(_dialect(session)).where(
            Customer.group_id == group_id, column == key
        )
        row = (await session.execute(statement)).first()
    if row is None:
        raise NotFound(f"No customer with id {ref!r}.")
    return detail_json(row, _projects(row.projects), _documents(row.documents))


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


@functools.cache
def _list_statement(dialect: str) -> Select[Any]:
    return select(*Customer.__table__.columns, _projects_array(dialect).label("projects"))


@functools.cache
def _detail_statement(dialect: str) -> Select[Any]:
    return select(
        *Customer.__table__.columns,
        _projects_array(dialect).label("projects"),
        _documents_array(dialect).label("documents"),
    )


def _projects_array(dialect: str):
    project = CustomerProject.__table__.c
    fields = {name: project[name] for name in ("id", "uuid", "name", "active")}
    return json_array(
        dialect, fields, source=CustomerProject.__table__, where=project.customer_id == Customer.id
    )


_DOCUMENT_FIELDS = (
    "id", "uuid", "group_id", "external_url", "thumb_url", "file_name", "mime_type", "size",
    "description", "internal", "created", "modified",
)  # fmt: skip


def _documents_array(dialect: str):
    document, link = Document.__table__.c, CustomerDocument.__table__.c
    fields = {name: document[name] for name in _DOCUMENT_FIELDS}
    return json_array(
        dialect,
        {**fields, "position": link.position},
        source=CustomerDocument.__table__.join(Document.__table__),
        where=link.customer_id == Customer.id,
    )


def _projects(items: list[JsonObject]) -> list[SimpleNamespace]:
    projects = [
        SimpleNamespace(
            id=item["id"],
            uuid=decode_uuid(item["uuid"]),
            name=item["name"],
            active=decode_bool(item["active"]),
        )
        for item in items
    ]
    projects.sort(key=attrgetter("id"))
    return projects


def _documents(items: list[JsonObject]) -> list[SimpleNamespace]:
    """In the customer's order (position; ties by id)."""
    return [
        SimpleNamespace(
            **{
                **item,
                "uuid": decode_uuid(item["uuid"]),
                "internal": decode_bool(item["internal"]),
                "created": decode_datetime(item["created"]),
                "modified": decode_datetime(item["modified"]),
            }
        )
        for item in sorted(items, key=lambda item: (item["position"], item["id"]))
    ]


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
