"""Reading customers as search documents: for rebuilds (in id order) and for the indexer."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from customer_api.customers.models import Customer, CustomerProject
from customer_api.search.analysis import SearchDocument, document_of
from customer_api.search.models import SearchVersion

_COLUMNS = (
    Customer.id,
    Customer.group_id,
    Customer.name,
    Customer.customer_number,
    Customer.email,
    Customer.phone,
    Customer.mobile,
    Customer.address,
    Customer.postal_code,
    Customer.city,
    Customer.notes,
    Customer.active,
    Customer.modified,
    SearchVersion.version.label("search_version"),
)

REBUILD_BATCH = 2000


async def count_customers(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(Customer)) or 0


async def _project_names(session: AsyncSession, ids: Sequence[int]) -> dict[int, list[str]]:
    names: dict[int, list[str]] = defaultdict(list)
    if ids:
        rows = await session.execute(
            select(CustomerProject.customer_id, CustomerProject.name)
            .where(CustomerProject.customer_id.in_(ids))
            .order_by(CustomerProject.customer_id, CustomerProject.id)
        )
        for customer_id, name in rows:
            names[customer_id].append(name)
    return names


def _select(*where):
    """Customers with their change counter, read in one statement: the version always belongs
    to the data it is sent with (a customer written behind the service has none: version 0)."""
    return (
        select(*_COLUMNS)
        .outerjoin(SearchVersion, SearchVersion.customer_id == Customer.id)
        .where(*where)
    )


async def _documents(session: AsyncSession, statement) -> list[SearchDocument]:
    rows = (await session.execute(statement)).all()
    names = await _project_names(session, [row.id for row in rows])
    return [
        replace(document_of(row, names.get(row.id, ())), version=row.search_version or 0)
        for row in rows
    ]


async def documents_after(
    session: AsyncSession,
    *,
    after_id: int,
    size: int = REBUILD_BATCH,
    lock: bool = False,
    modified_since: datetime | None = None,
) -> list[SearchDocument]:
    """The next customers in id order, as documents; two statements per batch.

    ``lock`` takes a share lock on the rows (Postgres), so a concurrent update waits until the
    batch is written and then writes its own, newer document after it.
    """
    statement = _select(Customer.id > after_id).order_by(Customer.id).limit(size)
    if modified_since is not None:
        statement = statement.where(Customer.modified >= modified_since)
    if lock:
        statement = statement.with_for_update(read=True, of=Customer)
    return await _documents(session, statement)


async def documents_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, SearchDocument]:
    """The current documents of these customers; a deleted customer is simply absent."""
    if not ids:
        return {}
    documents = await _documents(session, _select(Customer.id.in_(ids)))
    return {document.customer_id: document for document in documents}
