"""Searching a group's customers, choosing the backend, and keeping it in step with changes."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

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
from customer_api.search.schemas import FoundCustomer
from customer_api.search.sqlite_fts import SqliteFtsBackend
from customer_api.search.wakeup import WAKEUP_KEY, Wakeup, for_database


class SearchSettings(Protocol):
    """The settings search reads: the app's ``Settings`` has them (search knows no app)."""

    @property
    def elasticsearch_url(self) -> str | None: ...

    @property
    def elasticsearch_index(self) -> str: ...

    @property
    def indexer_in_process(self) -> bool: ...


def native_backend(dialect: str) -> SearchBackend:
    """The database's own full-text search."""
    if dialect == "postgresql":
        return PostgresFtsBackend()
    if dialect == "sqlite":
        return SqliteFtsBackend()
    raise ValueError(f"no search backend for the {dialect} database")


def choose_backend(settings: SearchSettings, database: Database) -> SearchBackend:
    """Elasticsearch when ``ELASTICSEARCH_URL`` is set, else the database's own search."""
    if settings.elasticsearch_url:
        index = ElasticIndex.connect(settings.elasticsearch_url, settings.elasticsearch_index)
        return ElasticBackend(index)
    return native_backend(database.dialect)


def bind_wakeup(database: Database, wakeup: Wakeup | None) -> None:
    """Make every session of ``database`` wake ``wakeup``, this process's indexer, when a
    change to send to Elasticsearch commits."""
    database.sessions.configure(info={WAKEUP_KEY: wakeup})


@contextlib.asynccontextmanager
async def running_search(
    settings: SearchSettings, database: Database
) -> AsyncIterator[SearchBackend]:
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
    bind_wakeup(database, wakeup)
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
