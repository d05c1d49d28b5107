"""Waking dispatchers when an event commits, instead of letting them wait for their poll.

In this process the commit itself wakes the dispatchers running here (so ``serve``'s own
dispatcher starts a round as soon as a change commits). Across processes on Postgres, each
dispatcher ``LISTEN``s on ``CHANNEL`` on a connection of its own, and the process that wrote
events sends a ``NOTIFY`` there once they committed: its ``Notifier``, one notification at a
time on a connection of its own, covering every commit since the one before (so never for a
rolled-back change). Not in the writing transaction itself: a notifying transaction takes a
database-wide lock at commit and keeps it until its commit is on disk, so every change would
wait for the previous one's flush (about 30 creates per second on the development machine,
against several hundred). Every ``POLL_SECONDS`` a dispatcher looks anyway: for retries
falling due, for a notification lost (a process stopped between a commit and its
notification, a listening connection down), and for other processes on SQLite, which has no
notifications.
"""

import asyncio
import contextlib
import logging

import asyncpg
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from customer_api.core import notifications
from customer_api.core.db import Database
from customer_api.core.waiting import until_set

logger = logging.getLogger("customer_api.webhooks")

CHANNEL = "customer_api_webhook_events"
WRITTEN_KEY = "customer_api.webhooks.event_written"
POLL_SECONDS = 0.1
NOTIFY_INTERVAL = 0.02
"""Seconds between two notifications from one process, at least."""
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
        try:
            connection = await notifications.listen(database, CHANNEL, self.wake)
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


class Notifier:
    """Sends ``NOTIFY`` for the events this process committed: one at a time, on a connection
    of its own whose commits need not wait for the disk (a notification carries no data)."""

    def __init__(self, database: Database) -> None:
        self._url = notifications.driver_url(database)
        self._due = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._connection: asyncpg.Connection | None = None

    def request(self) -> None:
        """Safe from any thread: a notification is sent soon (one for many requests)."""
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._due.set)

    async def run(self) -> None:
        """Until cancelled."""
        _notifiers.add(self)
        try:
            while True:
                await self._due.wait()
                self._due.clear()
                await self._notify()
                # Commits meanwhile make one more notification, not one each: under load a
                # dispatcher is busy with rounds anyway, and each notification costs a commit.
                await asyncio.sleep(NOTIFY_INTERVAL)
        finally:
            _notifiers.discard(self)
            if self._connection is not None:
                with contextlib.suppress(Exception):
                    await self._connection.close()

    async def _notify(self) -> None:
        try:
            if self._connection is None or self._connection.is_closed():
                self._connection = await asyncpg.connect(self._url)
                await self._connection.execute("SET synchronous_commit TO off")
            await self._connection.execute(f"NOTIFY {CHANNEL}")
        except (OSError, asyncpg.PostgresError) as exc:
            logger.warning("cannot notify of webhook events (%s); dispatchers will poll", exc)
            self._connection = None


_notifiers: set[Notifier] = set()


async def event_written(session: AsyncSession) -> None:
    """Called in the transaction that wrote an event: at its commit, wake this process's
    dispatchers and notify other processes' (never for a rolled-back change)."""
    session.info[WRITTEN_KEY] = True


def events_committed() -> None:
    """Events were committed (by this process): wake the dispatchers, here and elsewhere."""
    for wakeup in list(_local):
        wakeup.wake()
    for notifier in list(_notifiers):
        notifier.request()


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    if session.info.pop(WRITTEN_KEY, False):
        events_committed()


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(WRITTEN_KEY, None)
