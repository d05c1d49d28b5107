"""Waking dispatchers when an event commits, instead of letting them poll.

In this process the commit itself wakes the dispatchers running here; across processes on
Postgres the writing transaction sends ``NOTIFY`` (delivered at commit, never for a rolled-back
change) and each dispatcher ``LISTEN``s on a connection of its own. A short poll stays as the
safety net (retries falling due, other processes on SQLite).
"""

import asyncio
import contextlib
import logging

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from customer_api.core.db import Database

logger = logging.getLogger("customer_api.webhooks")

CHANNEL = "customer_api_webhook_events"
WRITTEN_KEY = "customer_api.webhooks.event_written"
_local: set["Wakeup"] = set()


class Wakeup:
    def __init__(self, poll_seconds: float = 1.0) -> None:
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

    async def wait(self, stop: asyncio.Event, seconds: float | None = None) -> None:
        """Until woken, stopped, or ``seconds`` (the poll period by default) passed."""
        if not self._event.is_set():
            waiters = [
                asyncio.ensure_future(self._event.wait()),
                asyncio.ensure_future(stop.wait()),
            ]
            _, pending = await asyncio.wait(
                waiters,
                timeout=self.poll_seconds if seconds is None else seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
            for waiter in pending:
                waiter.cancel()
        self._event.clear()

    async def listen(self, database: Database) -> None:
        """LISTEN on Postgres (again after the connection was lost); nothing elsewhere."""
        if database.dialect != "postgresql":
            return
        if self._listener is not None and not self._listener.is_closed():
            return
        url = make_url(database.engine.url).set(drivername="postgresql")
        try:
            connection = await asyncpg.connect(url.render_as_string(hide_password=False))
            await connection.add_listener(CHANNEL, lambda *_: self.wake())
        except (OSError, asyncpg.PostgresError) as exc:
            logger.warning("cannot listen for webhook events (%s); polling meanwhile", exc)
            return
        self._listener = connection
        self.wake()

    async def close(self) -> None:
        _local.discard(self)
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None


async def event_written(session: AsyncSession) -> None:
    """Called in the transaction that wrote an event: wake the dispatchers at commit."""
    if not session.info.get(WRITTEN_KEY):
        session.info[WRITTEN_KEY] = True
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text(f"NOTIFY {CHANNEL}"))


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
