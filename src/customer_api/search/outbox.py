"""The transactional outbox: enqueue in the writer's transaction, claim, complete, postpone.

Claiming is safe with several indexers: on Postgres, ``FOR UPDATE SKIP LOCKED`` gives each
indexer its own entries, locked until its transaction ends (so a crashed indexer's entries
come back). SQLite has a single writer and no row locks: there, run one indexer (the one inside
``serve`` is enough). A second one would only do some work twice, which is harmless, because
every write to Elasticsearch carries an external version.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from customer_api.core.timestamps import utcnow
from customer_api.search.models import SearchOutboxEntry

MAX_RETRY_DELAY = timedelta(seconds=60)


def retry_delay(attempts: int) -> timedelta:
    """1 s after the first failure, doubling up to a minute."""
    return min(MAX_RETRY_DELAY, timedelta(seconds=2 ** min(attempts - 1, 16)))


async def enqueue(session: AsyncSession, *, customer_id: int, version: int) -> None:
    now = utcnow()
    session.add(
        SearchOutboxEntry(customer_id=customer_id, version=version, available_at=now, created=now)
    )
    await session.flush()


async def claim(
    session: AsyncSession, *, limit: int, now: datetime | None = None
) -> Sequence[SearchOutboxEntry]:
    """The oldest entries that are due, locked for this transaction on Postgres."""
    statement = (
        select(SearchOutboxEntry)
        .where(SearchOutboxEntry.available_at <= (now or utcnow()))
        .order_by(SearchOutboxEntry.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return (await session.scalars(statement)).all()


async def complete(session: AsyncSession, entries: Sequence[SearchOutboxEntry]) -> None:
    """Delete entries whose change is in Elasticsearch."""
    if entries:
        ids = [entry.id for entry in entries]
        await session.execute(delete(SearchOutboxEntry).where(SearchOutboxEntry.id.in_(ids)))


async def postpone(
    session: AsyncSession, entries: Sequence[SearchOutboxEntry], *, error: str
) -> None:
    """Keep entries that could not be indexed, to be tried again later (never dropped)."""
    now = utcnow()
    for entry in entries:
        entry.attempts += 1
        entry.available_at = now + retry_delay(entry.attempts)
        entry.last_error = error[:500]
    await session.flush()


async def waiting(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(SearchOutboxEntry)) or 0
