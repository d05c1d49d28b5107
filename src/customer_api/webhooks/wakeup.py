"""Waking dispatchers when an event commits, instead of letting them wait for their poll.

In this process the commit itself wakes the dispatchers running here (so ``serve``'s own
dispatcher starts a round as soon as a change commits). Across processes on Postgres, the
transaction that writes an event sends ``NOTIFY`` on ``CHANNEL`` (delivered at commit, never
for a rolled-back change; several in one transaction arrive as one) and each dispatcher
``LISTEN``s on a connection of its own. Every ``POLL_SECONDS`` a dispatcher looks anyway: for
retries falling due, for notifications missed while its listening connection was down, and for
other processes on SQLite, which has no notifications.
"""

import asyncio
import contextlib
import logging

import asyncpg
from sqlalchemy import ColumnElement, event, func, literal_column, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import CTE

from customer_api.core.db import Database
from customer_api.core.waiting import until_set

logger = logging.getLogger("customer_api.webhooks")

CHANNEL = "customer_api_webhook_events"
WRITTEN_KEY = "customer_api.webhooks.event_written"
POLL_SECONDS = 0.1
_local: set["Wakeup"] = set()


class Wakeup:
    def __init__(self, poll_seconds: float = POLL_SECONDS) -> None:
        self.poll_seconds = poll_seconds
        self._event = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._listener: asyncpg.Connection | None = None
        _local.add(self)

    def wake(self) -> None:
        """Safe from any thread or loop."""
        if self._loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._event.set()
        else:
            self._loop.call_soon_threadsafe(self._event.set)

    async def wait(self, stop: asyncio.Event) -> None:
        """Until woken, stopped, or the poll period passed."""
        await until_set(self._event, stop, seconds=self.poll_seconds)

    async def listen(self, database: Database) -> None:
        """LISTEN on Postgres, on a connection of its own (not one of the pool's); again after
        the connection was lost. Does nothing elsewhere, or while Postgres cannot be reached
        (the poll goes on meanwhile)."""
        if database.dialect != "postgresql" or not self._listener_lost():
            return
        url = make_url(database.engine.url).set(drivername="postgresql")
        try:
            connection = await asyncpg.connect(url.render_as_string(hide_password=False))
            await connection.add_listener(CHANNEL, lambda *_: self.wake())
        except (OSError, asyncpg.PostgresError) as exc:
            logger.warning("cannot listen for webhook events (%s); polling meanwhile", exc)
            return
        self._listener = connection
        self.wake()  # events may have committed while nobody listened

    def _listener_lost(self) -> bool:
        return self._listener is None or self._listener.is_closed()

    async def close(self) -> None:
        _local.discard(self)
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None


async def event_written(session: AsyncSession) -> None:
    """Called in the transaction that wrote an event: wake this process's dispatchers at
    commit, and other processes' on Postgres (never for a rolled-back change)."""
    if session.info.get(WRITTEN_KEY):
        return
    session.info[WRITTEN_KEY] = True
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text(f"NOTIFY {CHANNEL}"))


def notified_count(new_events: CTE) -> ColumnElement[int]:
    """For a statement that writes events itself (Postgres): how many it wrote, notifying the
    other processes' dispatchers (at the statement's commit) when there was one."""
    notify = func.pg_notify(literal_column(f"'{CHANNEL}'"), literal_column("''"))
    return select(func.count(notify)).select_from(new_events).scalar_subquery()


def wake_local() -> None:
    for wakeup in list(_local):
        wakeup.wake()


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    if session.info.pop(WRITTEN_KEY, False):
        wake_local()


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(WRITTEN_KEY, None)
