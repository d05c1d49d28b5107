"""The transactional outbox: enqueue in the writer's transaction, claim, complete, postpone,
and set aside as a dead letter what Elasticsearch refuses for good.

Claiming is safe with several indexers: on Postgres, ``FOR UPDATE SKIP LOCKED`` gives each
indexer its own entries, locked until its transaction ends (so a crashed indexer's entries
come back). SQLite has a single writer and no row locks: there, run one indexer (the one inside
``serve`` is enough). A second one would only do some work twice, which is harmless, because
every write to Elasticsearch carries an external version.
"""

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from customer_api.core.timestamps import utcnow
from customer_api.search import wakeup
from customer_api.search.models import SearchOutboxEntry, SearchVersion

MAX_RETRY_DELAY = timedelta(seconds=60)
MAX_REFUSALS = 5
"""Refusals of a document itself before its entry becomes a dead letter: enough to ride out a
mapping being fixed by hand, few enough that a poison entry stops costing a bulk item a minute."""

_UPSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def _clock(session: AsyncSession):
    """ "Now" for ``available_at``: the database's clock on Postgres, where the writers and the
    indexers may run on hosts whose clocks differ (an app host ahead of an indexer's would
    otherwise make every new entry wait for the difference); this host's on SQLite, whose
    writers and indexers share one host."""
    if session.get_bind().dialect.name == "postgresql":
        return func.now()
    return utcnow()


def retry_delay(attempts: int) -> timedelta:
    """1 s after the first failure, doubling up to a minute."""
    return min(MAX_RETRY_DELAY, timedelta(seconds=2 ** min(attempts - 1, 16)))


async def next_version(session: AsyncSession, customer_id: int) -> int:
    """One more than the customer's last version (1 for a first change), in one statement.

    The counter's row lock (Postgres) or the single writer (SQLite) orders two changes of one
    customer, so versions follow the order of the commits, not of anyone's clock.
    """
    upsert = _UPSERTS[session.get_bind().dialect.name](SearchVersion)
    statement = (
        upsert.values(customer_id=customer_id, version=1)
        .on_conflict_do_update(
            index_elements=[SearchVersion.customer_id],
            set_={"version": SearchVersion.version + 1},
        )
        .returning(SearchVersion.version)
    )
    return (await session.execute(statement)).scalar_one()


async def enqueue(session: AsyncSession, *, customer_id: int, version: int) -> None:
    now = _clock(session)
    await session.execute(
        insert(SearchOutboxEntry).values(
            customer_id=customer_id,
            version=version,
            attempts=0,
            refusals=0,
            available_at=now,
            created=now,
        )
    )
    await wakeup.entry_written(session)


async def claim(
    session: AsyncSession, *, limit: int, now: datetime | None = None
) -> Sequence[SearchOutboxEntry]:
    """The oldest entries that are due (dead letters never are), locked for this transaction
    on Postgres."""
    statement = (
        select(SearchOutboxEntry)
        .where(
            SearchOutboxEntry.available_at <= (now or _clock(session)),
            SearchOutboxEntry.dead_since.is_(None),
        )
        .order_by(SearchOutboxEntry.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return (await session.scalars(statement)).all()


async def complete(session: AsyncSession, entries: Sequence[SearchOutboxEntry]) -> None:
    """Delete entries whose change is in Elasticsearch, and the dead letters of the same
    customers: the document now there is their customer's current one."""
    if not entries:
        return
    ids = [entry.id for entry in entries]
    customers = {entry.customer_id for entry in entries}
    await session.execute(delete(SearchOutboxEntry).where(SearchOutboxEntry.id.in_(ids)))
    await session.execute(
        delete(SearchOutboxEntry).where(
            SearchOutboxEntry.customer_id.in_(customers), SearchOutboxEntry.dead_since.is_not(None)
        )
    )


async def postpone(
    session: AsyncSession, entries: Sequence[SearchOutboxEntry], *, error: str
) -> None:
    """Keep entries that could not be indexed, to be tried again later (never dropped)."""
    now = _clock(session)
    for entry in entries:
        entry.attempts += 1
        entry.available_at = now + retry_delay(entry.attempts)
        entry.last_error = error[:500]
    await session.flush()


async def refuse(
    session: AsyncSession, entries: Sequence[SearchOutboxEntry], *, error: str
) -> list[SearchOutboxEntry]:
    """Postpone entries whose document Elasticsearch refused; those refused ``MAX_REFUSALS``
    times become dead letters. The new dead letters."""
    now = utcnow()
    dead = []
    for entry in entries:
        entry.refusals += 1
        if entry.refusals >= MAX_REFUSALS:
            entry.dead_since = now
            dead.append(entry)
    await postpone(session, entries, error=error)
    return dead


async def waiting(session: AsyncSession) -> int:
    """Entries the indexer still has to send (dead letters are not waiting: they are set aside)."""
    statement = (
        select(func.count())
        .select_from(SearchOutboxEntry)
        .where(SearchOutboxEntry.dead_since.is_(None))
    )
    return await session.scalar(statement) or 0


async def count_dead_letters(session: AsyncSession) -> int:
    statement = (
        select(func.count())
        .select_from(SearchOutboxEntry)
        .where(SearchOutboxEntry.dead_since.is_not(None))
    )
    return await session.scalar(statement) or 0


async def dead_letters(session: AsyncSession) -> Sequence[SearchOutboxEntry]:
    statement = (
        select(SearchOutboxEntry)
        .where(SearchOutboxEntry.dead_since.is_not(None))
        .order_by(SearchOutboxEntry.id)
    )
    return (await session.scalars(statement)).all()


async def retry_dead_letters(session: AsyncSession, ids: Collection[int] | None = None) -> int:
    """Put dead letters (all, or those of ``ids``) back in line with a clean slate; how many."""
    statement = (
        update(SearchOutboxEntry)
        .where(SearchOutboxEntry.dead_since.is_not(None))
        .values(dead_since=None, refusals=0, attempts=0, available_at=_clock(session))
    )
    if ids is not None:
        statement = statement.where(SearchOutboxEntry.id.in_(list(ids)))
    result = await session.execute(statement)
    return result.rowcount or 0
