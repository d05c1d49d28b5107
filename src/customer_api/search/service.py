"""Searching a group's customers, choosing the backend, and keeping it in step with changes."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from customer_api.config import Settings
from customer_api.core.db import Database
from customer_api.core.errors import InvalidParameter
from customer_api.customers.models import Customer
from customer_api.search import source
from customer_api.search.analysis import QueryError, SearchQuery
from customer_api.search.backend import RebuildProgress, SearchBackend
from customer_api.search.elastic import ElasticBackend, ElasticIndex
from customer_api.search.indexer import Indexer
from customer_api.search.native import DatabaseIndexBackend
from customer_api.search.postgres_fts import PostgresFtsBackend
from customer_api.search.sqlite_fts import SqliteFtsBackend
from customer_api.search.wakeup import WAKEUP_KEY, Wakeup, for_database

_BACKEND_KEY = "customer_api.search.backend"


def native_backend(dialect: str) -> SearchBackend:
    """The database's own full-text search."""
    if dialect == "postgresql":
        return PostgresFtsBackend()
    if dialect == "sqlite":
        return SqliteFtsBackend()
    raise ValueError(f"no search backend for the {dialect} database")


def choose_backend(settings: Settings, database: Database) -> SearchBackend:
    """Elasticsearch when ``ELASTICSEARCH_URL`` is set, else the database's own search."""
    if settings.elasticsearch_url:
        index = ElasticIndex.connect(settings.elasticsearch_url, settings.elasticsearch_index)
        return ElasticBackend(index)
    return native_backend(database.dialect)


def bind_backend(database: Database, backend: SearchBackend, wakeup: Wakeup | None = None) -> None:
    """Make every session of ``database`` keep ``backend`` in step with customer changes (and
    wake ``wakeup``, this process's indexer, when a change to send commits)."""
    database.sessions.configure(info={_BACKEND_KEY: backend, WAKEUP_KEY: wakeup})


@contextlib.asynccontextmanager
async def running_search(settings: Settings, database: Database) -> AsyncIterator[SearchBackend]:
    """The app's search backend for its lifetime, with the in-process indexer when
    Elasticsearch is configured (unless ``INDEXER_IN_PROCESS`` is off)."""
    backend = choose_backend(settings, database)
    await backend.open()
    stop = asyncio.Event()
    task, wakeup = None, None
    if isinstance(backend, ElasticBackend) and settings.indexer_in_process:
        wakeup = for_database(database)
        indexer = Indexer(database, backend.index, wakeup=wakeup)
        task = asyncio.create_task(indexer.run(stop), name="indexer")
    bind_backend(database, backend, wakeup)
    try:
        yield backend
    finally:
        stop.set()
        if task is not None:
            await task
        await backend.close()


async def rebuild_if_empty(
    database: Database, backend: SearchBackend, progress: RebuildProgress
) -> int | None:
    """Rebuild a database-native index that holds nothing while customers exist; the number
    indexed, or None when there was nothing to do."""
    if not isinstance(backend, DatabaseIndexBackend):
        return None
    async with database.sessions() as session:
        if await backend.indexed_count(session) or not await source.count_customers(session):
            return None
    return await backend.rebuild(database, progress)


async def customer_changed(session: AsyncSession, customer: Customer) -> None:
    """Keep search in step with a customer just created, updated or deleted (after the flush),
    in the caller's transaction: the change and its index entry commit or roll back together."""
    backend = session.info.get(_BACKEND_KEY) or native_backend(session.get_bind().dialect.name)
    await backend.record_change(session, customer)


@dataclass(frozen=True)
class FoundCustomer:
    customer: Customer
    score: float


def parse_query(text: str | None) -> SearchQuery:
    try:
        return SearchQuery.parse(text)
    except QueryError as exc:
        raise InvalidParameter(f"q: {exc}.") from None


async def search_customers(
    session: AsyncSession,
    *,
    backend: SearchBackend,
    group_id: int,
    text: str | None,
    include_inactive: bool,
    limit: int,
) -> Sequence[FoundCustomer]:
    """The group's customers matching ``text``, best first.

    The backend ranks; the customers themselves are read from the database (one statement),
    scoped by group and ``active`` again, so an index that lags behind can never show another
    group's customer or one that was deactivated meanwhile.
    """
    query = parse_query(text)
    if query.is_empty or limit == 0:
        return []
    hits = await backend.search(
        session,
        group_id=group_id,
        query=query,
        include_inactive=include_inactive,
        limit=limit,
    )
    if not hits:
        return []
    statement = select(Customer).where(
        Customer.group_id == group_id, Customer.id.in_([hit.customer_id for hit in hits])
    )
    if not include_inactive:
        statement = statement.where(Customer.active.is_(True))
    customers = {customer.id: customer for customer in await session.scalars(statement)}
    return [
        FoundCustomer(customers[hit.customer_id], hit.score)
        for hit in hits
        if hit.customer_id in customers
    ]
