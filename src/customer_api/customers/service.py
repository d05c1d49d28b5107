"""The customer logic: listing, reading, writing and deleting a group's customers."""

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from operator import itemgetter
from types import SimpleNamespace
from typing import Any, Protocol
from uuid import UUID, uuid4

import orjson
from sqlalchemy import (
    ARRAY,
    CTE,
    BigInteger,
    Boolean,
    Executable,
    Insert,
    Integer,
    Select,
    String,
    TextClause,
    Uuid,
    bindparam,
    func,
    insert,
    select,
    text,
    true,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from customer_api.core.db import Database
from customer_api.core.errors import Conflict, NotFound, unique_violation
from customer_api.core.identifiers import parse_id_or_uuid
from customer_api.core.json_sql import decode_bool, decode_datetime, decode_uuid, json_array
from customer_api.core.schemas import JsonObject
from customer_api.core.timestamps import to_epoch_ms, utcnow
from customer_api.customers.models import Customer, CustomerProject
from customer_api.customers.schemas import (
    CustomerProjectWrite,
    CustomerWrite,
    customer_detail_json,
    customer_json,
    detail_json,
)
from customer_api.deletions import service as deletions
from customer_api.documents import service as documents_service
from customer_api.documents.models import CustomerDocument, Document
from customer_api.webhooks import service as webhooks


class CustomerIndex(Protocol):
    """What keeps a search index in step with customer writes. Search's backends implement it
    and the router passes the app's: customers know no search engine."""

    async def record_change(self, session: AsyncSession, customer: Customer) -> None:
        """Called after the flush of every create, update and delete, in its transaction."""

    def index_new(self, customer: CTE) -> Insert | None:
        """An insert indexing the customer that ``customer`` inserts, in the same statement."""

    def index_new_parameters(self, customer: Any, project_names: Sequence[str]) -> JsonObject:
        """The parameters of ``index_new``'s insert for this customer."""


def _in_group(group_id: int) -> Select[tuple[Customer]]:
    return select(Customer).where(Customer.group_id == group_id)


def _with_projects(statement: Select[tuple[Customer]]) -> Select[tuple[Customer]]:
    return statement.options(selectinload(Customer.projects))


def _with_documents(statement: Select[tuple[Customer]]) -> Select[tuple[Customer]]:
    """The detail representation's documents: one more statement."""
    return statement.options(
        selectinload(Customer.document_links).joinedload(CustomerDocument.document)
    )


async def list_customers(
    database: Database,
    *,
    group_id: int,
    include_inactive: bool,
    limit: int,
    offset: int,
    modified_since: datetime | None,
    after_id: int | None = None,
) -> list[JsonObject]:
    """A page of the group's customers in id order, with their projects: one statement whatever
    the page size, read as plain rows (no ORM objects: a page may hold a thousand customers).
    On Postgres the database writes each customer's JSON (see ``_list_json_statement``)."""
    statement = _list_statement(
        database.dialect,
        active_only=not include_inactive,
        since=modified_since is not None,
        after=after_id is not None,
    )
    rows = await database.fetch(
        statement,
        group_id=group_id,
        limit=limit,
        offset=offset,
        modified=modified_since,
        after_id=after_id,
    )
    if database.dialect == "postgresql":
        return [orjson.Fragment(row["json"]) for row in rows]
    return [customer_json(row, _projects(row["projects"])) for row in rows]


async def customer_detail(database: Database, *, group_id: int, ref: str) -> JsonObject:
    """The detail representation of the group's customer with this id or uuid: one statement
    for the customer, its projects and its documents."""
    key = parse_id_or_uuid(ref)
    rows: Sequence[Mapping[str, Any]] = ()
    if key is not None:
        statement = _detail_statement(database.dialect, by_uuid=isinstance(key, UUID))
        rows = await database.fetch(statement, group_id=group_id, key=key)
    if not rows:
        raise NotFound(f"No customer with id {ref!r}.")
    row = rows[0]
    return detail_json(row, _projects(row["projects"]), _documents(row["documents"]))


async def deleted_customers(
    session: AsyncSession, *, group_id: int, since: datetime | None, limit: int, offset: int
) -> list[JsonObject]:
    tombstones = await deletions.deleted_since(
        session,
        group_id=group_id,
        resource=deletions.CUSTOMER,
        since=since,
        limit=limit,
        offset=offset,
    )
    return [
        {
            "id": tombstone.resource_id,
            "uuid": tombstone.uuid,
            "customerNumber": tombstone.reference,
            "deleted": to_epoch_ms(tombstone.deleted),
        }
        for tombstone in tombstones
    ]


async def locked_detail(session: AsyncSession, *, group_id: int, ref: str) -> JsonObject | None:
    """The customer as a read shows it, its row locked until the transaction ends (None: no
    such customer): what a write's If-Match is compared with."""
    key = parse_id_or_uuid(ref)
    if key is None:
        return None
    by_uuid = isinstance(key, UUID)
    key_column = Customer.uuid if by_uuid else Customer.id
    lock = select(Customer.id).where(Customer.group_id == group_id, key_column == key)
    if await session.scalar(lock.with_for_update()) is None:
        return None
    statement = _detail_statement(session.get_bind().dialect.name, by_uuid=by_uuid)
    result = await session.execute(statement, {"group_id": group_id, "key": key})
    row = result.mappings().one()
    return detail_json(row, _projects(row["projects"]), _documents(row["documents"]))


@functools.cache
@functools.cache
def _list_statement(dialect: str, *, active_only: bool, since: bool, after: bool) -> Executable:
    if dialect == "postgresql":
        return _list_json_statement(active_only=active_only, since=since, after=after)
    statement = select(*Customer.__table__.columns, _projects_array(dialect).label("projects"))
    statement = statement.where(Customer.group_id == bindparam("group_id"))
    if active_only:
        statement = statement.where(Customer.active.is_(True))
    if since:
        statement = statement.where(Customer.modified >= bindparam("modified"))
    if after:
        statement = statement.where(Customer.id > bindparam("after_id"))
    return statement.order_by(Customer.id).limit(bindparam("limit")).offset(bindparam("offset"))


# The list representation (customer_json) by its JSON names and the columns they show, in its
# order; a test holds the two together.
_LIST_FIELDS = {
    "id": "id", "uuid": "uuid", "name": "name", "customerNumber": "customer_number",
    "organizationNumber": "organization_number", "email": "email", "phone": "phone",
    "mobile": "mobile", "address": "address", "postalCode": "postal_code", "city": "city",
    "country": "country", "latitude": "latitude", "longitude": "longitude", "notes": "notes",
    "organization": "organization", "active": "active",
}  # fmt: skip


def _epoch_ms(column: str) -> str:
    """Epoch milliseconds, floored, exactly as ``to_epoch_ms`` counts them."""
    return f"floor(extract(epoch FROM {column}) * 1000)::bigint"


def _list_json_statement(*, active_only: bool, since: bool, after: bool) -> TextClause:
    """Postgres: a page of customers, each as its list representation's JSON text, written by
    the database (``row_to_json``, compact as the API's JSON is): building a hundred
    representations in Python cost several times what reading them did (bench/README.md)."""
    fields = ", ".join(f'c.{column} AS "{name}"' for name, column in _LIST_FIELDS.items())
    filters = "".join(
        condition
        for condition, wanted in (
            (" AND c.active", active_only),
            (" AND c.modified >= :modified", since),
            (" AND c.id > :after_id", after),
        )
        if wanted
    )
    sql = f"""SELECT row_to_json(r)::text AS json FROM (
        SELECT {fields},
            coalesce((SELECT array_to_json(array_agg(p ORDER BY p.id))
                      FROM (SELECT id, uuid, name, active FROM customer_projects
                            WHERE customer_id = c.id) p), '[]') AS "customerProjects",
            {_epoch_ms("c.created")} AS created, {_epoch_ms("c.modified")} AS modified
        FROM customers c WHERE c.group_id = :group_id{filters}
        ORDER BY c.id LIMIT :limit OFFSET :offset) r
    ORDER BY r.id"""
    parameters = [
        bindparam("group_id", type_=Integer),
        bindparam("limit", type_=Integer),
        bindparam("offset", type_=BigInteger),
    ]
    if since:
        parameters.append(bindparam("modified", type_=Customer.__table__.c.modified.type))
    if after:
        parameters.append(bindparam("after_id", type_=BigInteger))
    return text(sql).bindparams(*parameters)


@functools.cache
def _detail_statement(dialect: str, *, by_uuid: bool) -> Select[Any]:
    key_column = Customer.uuid if by_uuid else Customer.id
    return select(
        *Customer.__table__.columns,
        _projects_array(dialect).label("projects"),
        _documents_array(dialect).label("documents"),
    ).where(Customer.group_id == bindparam("group_id"), key_column == bindparam("key"))


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


def _projects(items: list[JsonObject]) -> list[JsonObject]:
    """In id order, with the values the columns hold."""
    for item in items:
        item["uuid"] = decode_uuid(item["uuid"])
        item["active"] = decode_bool(item["active"])
    return sorted(items, key=itemgetter("id"))


def _documents(items: list[JsonObject]) -> list[JsonObject]:
    """In the customer's order (position; ties by id), with the values the columns hold."""
    for item in items:
        item["uuid"] = decode_uuid(item["uuid"])
        item["internal"] = decode_bool(item["internal"])
        item["created"] = decode_datetime(item["created"])
        item["modified"] = decode_datetime(item["modified"])
    return sorted(items, key=itemgetter("position", "id"))


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


async def add_customer(
    database: Database, *, index: CustomerIndex, group_id: int, data: CustomerWrite
) -> JsonObject:
    """Create a customer (POST), answering its detail representation: in one statement where
    that can be done, else in a transaction of its own, committed before this returns."""
    created = await insert_customer(database, index=index, group_id=group_id, data=data)
    if created is None:
        async with database.transaction() as session:
            customer = await create_customer(session, index=index, group_id=group_id, data=data)
            created = customer_detail_json(customer)
    return created


async def insert_customer(
    database: Database, *, index: CustomerIndex, group_id: int, data: CustomerWrite
) -> JsonObject | None:
    """Create a customer with its projects and its search entry in one statement (atomic on its
    own: no transaction round trips), answering its detail representation; None when that
    cannot be done here (not Postgres, documents given, or a search backend that must be kept
    otherwise, or a webhook listening to the group's customers: the statement then inserts
    nothing), and ``create_customer`` does it instead, writing the event too."""
    statement = _insert_statement(database.dialect, index)
    if statement is None or data.documents:
        return None
    now = utcnow()
    values = {column: None for column in _WRITABLE_COLUMNS}
    values.update(data.given_fields(), group_id=group_id, uuid=uuid4(), created=now, modified=now)
    values["customer_number"] = values["customer_number"] or None
    values["active"] = True if values["active"] is None else values["active"]
    projects = _new_projects(data.customer_projects or [])
    new_customer = SimpleNamespace(id=None, **values)
    try:
        rows = await database.fetch(
            statement,
            writes=True,
            **values,
            project_uuids=[project["uuid"] for project in projects],
            project_names=[project["name"] for project in projects],
            project_actives=[project["active"] for project in projects],
            **index.index_new_parameters(new_customer, [p["name"] for p in projects]),
        )
    except Exception as exc:
        if violated := unique_violation(exc):
            raise _taken(violated, values["customer_number"]) from exc
        raise
    if not rows:
        return None
    row = rows[0]
    return detail_json(row, _projects(row["projects"]), [])


def _new_projects(items: list[CustomerProjectWrite]) -> list[JsonObject]:
    """The projects of a new customer, as ``_reconcile_projects`` would make them."""
    for index, item in enumerate(items):
        _match_project(item, index, {}, {}, [])  # nothing to match: refuses an item's id
    return [
        {
            "uuid": item.uuid or uuid4(),
            "name": item.name,
            "active": True if item.active is None else item.active,
        }
        for item in items
    ]


_WRITABLE_COLUMNS = tuple(
    column.name for column in Customer.__table__.columns if column.name != "id"
)


@functools.cache
def _insert_statement(dialect: str, index: CustomerIndex) -> Select[Any] | None:
    """``WITH new_customer AS (INSERT ... RETURNING), new_projects AS (INSERT ... SELECT FROM
    unnest(...) RETURNING), (the search entry) SELECT new_customer.*, <projects as JSON>``."""
    if dialect != "postgresql":
        return None
    customers, projects = Customer.__table__, CustomerProject.__table__
    values = {name: bindparam(name, type_=customers.c[name].type) for name in _WRITABLE_COLUMNS}
    # Nothing when a webhook listens: its event needs the representation, made by the ORM path.
    unheard = select(*values.values()).where(
        ~webhooks.listening(group_id=values["group_id"], channel="customer")
    )
    new_customer = (
        insert(customers)
        .from_select(list(values), unheard)
        .returning(*customers.c)
        .cte("new_customer")
    )
    index_entry = index.index_new(new_customer)
    if index_entry is None:
        return None
    given = (
        func.unnest(
            bindparam("project_uuids", type_=ARRAY(Uuid)),
            bindparam("project_names", type_=ARRAY(String)),
            bindparam("project_actives", type_=ARRAY(Boolean)),
        )
        .table_valued("uuid", "name", "active", with_ordinality="position")
        .render_derived("given")
    )
    rows = (
        select(given.c.uuid, new_customer.c.id, given.c.name, given.c.active)
        .select_from(new_customer.join(given, true()))
        .order_by(given.c.position)  # ids in the order given
    )
    new_projects = (
        insert(projects)
        .from_select(["uuid", "customer_id", "name", "active"], rows)
        .returning(projects.c.id, projects.c.uuid, projects.c.name, projects.c.active)
        .cte("new_projects")
    )
    fields = {name: new_projects.c[name] for name in ("id", "uuid", "name", "active")}
    project_array = json_array(dialect, fields, source=new_projects, where=true())
    return select(*new_customer.c, project_array.label("projects")).add_cte(
        index_entry.cte("new_search_entry")
    )


async def create_customer(
    session: AsyncSession,
    *,
    index: CustomerIndex,
    group_id: int,
    data: CustomerWrite,
    uuid: UUID | None = None,
) -> Customer:
    """Create a customer; ``data.name`` is set (the router's CustomerCreate requires it)."""
    now = utcnow()
    customer = Customer(group_id=group_id, uuid=uuid or uuid4(), created=now, modified=now)
    customer.projects = []
    customer.document_links = []
    await _apply_changes(session, customer, data)
    session.add(customer)
    await _flush(session, customer)
    await index.record_change(session, customer)
    await _emit(session, customer, "created")
    return customer


async def _emit(session: AsyncSession, customer: Customer, change: str) -> None:
    await webhooks.emit(
        session,
        group_id=customer.group_id,
        channel="customer",
        change=change,
        resource_id=customer.id,
        data=customer_detail_json(customer),
    )


async def update_customer(
    session: AsyncSession, *, index: CustomerIndex, group_id: int, ref: str, data: CustomerWrite
) -> Customer:
    """Update the customer; an unknown UUID with a name creates it with that UUID (the documented
    upsert). Without a name there is nothing to create: no such customer."""
    customer = await find_customer(session, group_id=group_id, ref=ref)
    if customer is None:
        key = parse_id_or_uuid(ref)
        if isinstance(key, UUID) and data.name is not None:
            return await create_customer(
                session, index=index, group_id=group_id, data=data, uuid=key
            )
        hint = " To create it with this UUID, give a name." if isinstance(key, UUID) else ""
        raise NotFound(f"No customer with id {ref!r}.{hint}")
    await _apply_changes(session, customer, data)
    customer.modified = utcnow()
    await _flush(session, customer)
    await index.record_change(session, customer)
    await _emit(session, customer, "updated")
    return customer


async def delete_customer(
    session: AsyncSession, *, index: CustomerIndex, group_id: int, ref: str
) -> None:
    """Delete the customer, leaving tombstones for it and for its assignment (which the
    database deletes with it)."""
    customer = await get_customer(session, group_id=group_id, ref=ref)
    number = customer.customer_number
    await deletions.record(
        session, deletions.CUSTOMER, customer, uuid=str(customer.uuid), reference=number
    )
    await deletions.record_dependents(
        session,
        group_id=group_id,
        resource=deletions.ASSIGNMENT,
        table="customer_employees",
        foreign_key="customer_id",
        parent_id=customer.id,
    )
    data = {"id": customer.id, "uuid": str(customer.uuid), "customerNumber": number}
    await session.delete(customer)
    await session.flush()
    await index.record_change(session, customer)
    await webhooks.emit(
        session,
        group_id=group_id,
        channel="customer",
        change="deleted",
        resource_id=data["id"],
        data=data,
    )


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


async def _flush(session: AsyncSession, customer: Customer) -> None:
    """Flush, turning a unique value already taken into a 409 naming it.

    The unique constraints decide (no look-up first: it would cost a statement on every write
    and still lose a race); both databases name the violated columns in their message.
    """
    number = customer.customer_number  # read before: a failed flush expires the customer
    try:
        await session.flush()
    except IntegrityError as exc:
        raise _taken(str(exc.orig), number) from exc


def _taken(violation: str, customer_number: str | None) -> Conflict:
    """The 409 for a unique constraint violated (its name, or the database's message)."""
    if "customer_number" in violation:
        return Conflict(f"customerNumber: {customer_number!r} is already used by another customer.")
    return Conflict("uuid: already used by another customer.")
