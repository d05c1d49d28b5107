"""Waking the indexer when an outbox entry commits, instead of letting it poll.

In the process that wrote the entry, the commit itself sets the indexer's event (a session
event: the transaction is known to have committed, so the indexer cannot claim too early and
miss it). Across processes on Postgres, the writing transaction sends ``NOTIFY`` on
``CHANNEL`` (delivered at commit, never for a rolled-back change; several in one transaction
arrive as one) and each indexer ``LISTEN``s on a connection of its own. A slow poll stays as a
safety net: for entries whose retry delay ran out, for notifications missed while the listening
connection was down, and for other processes on SQLite, which has no notifications.
"""

import asyncio
import contextlib
import logging

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from customer_api.core import notifications
from customer_api.core.db import Database
from customer_api.core.waiting import until_set

logger = logging.getLogger("customer_api.search.wakeup")

CHANNEL = "customer_api_search_outbox"
WRITTEN_KEY = "customer_api.search.outbox_written"
WAKEUP_KEY = "customer_api.search.wakeup"
POLL_SECONDS = {"postgresql": 5.0, "sqlite": 1.0}
"""The safety net's period: longer where other processes' commits wake the indexer too."""


class Wakeup:
    """What an indexer waits on between rounds."""

    def __init__(self, poll_seconds: float = 1.0) -> None:
        self.poll_seconds = poll_seconds
        self._event = asyncio.Event()
        self._listener: asyncpg.Connection | None = None

    def wake(self) -> None:
        self._event.set()

    async def wait(self, stop: asyncio.Event) -> None:
        """Until woken, stopped, or the safety net's period passed."""
        await until_set(self._event, stop, seconds=self.poll_seconds)

    async def listen(self, database: Database) -> None:
        """LISTEN on Postgres, on a connection of its own (not one of the pool's); again after
        the connection was lost. Does nothing elsewhere, or while Postgres cannot be reached."""
        if database.dialect != "postgresql" or not self._listener_lost():
            return
        try:
            connection = await notifications.listen(database, CHANNEL, self.wake)
        except (OSError, asyncpg.PostgresError) as exc:
            logger.warning("cannot listen for outbox entries (%s); polling meanwhile", exc)
            return
        self._listener = connection
        self.wake()  # entries may have committed while nobody listened

    def _listener_lost(self) -> bool:
        return self._listener is None or self._listener.is_closed()

    async def close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None


def for_database(database: Database) -> Wakeup:
    return Wakeup(POLL_SECONDS.get(database.dialect, 1.0))


async def entry_written(session: AsyncSession) -> None:
    """Called in the transaction that wrote an outbox entry: tell this process's indexer at
    commit, and other processes' on Postgres."""
    if not session.info.get(WRITTEN_KEY):
        session.info[WRITTEN_KEY] = True
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text(f"NOTIFY {CHANNEL}"))


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    if session.info.pop(WRITTEN_KEY, False) and (wakeup := session.info.get(WAKEUP_KEY)):
        wakeup.wake()


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(WRITTEN_KEY, None)
