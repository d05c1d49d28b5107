"""Postgres notifications, on connections of their own (not the pool's): a listener lives as
long as its process, and a notifier's settings must not leak into pooled connections."""

from collections.abc import Callable

import asyncpg
from sqlalchemy.engine import make_url

from customer_api.core.db import Database


def driver_url(database: Database) -> str:
    """The database's URL as asyncpg takes it."""
    url = make_url(database.engine.url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def listen(
    database: Database, channel: str, on_notify: Callable[[], None]
) -> asyncpg.Connection:
    """A new connection that LISTENs on ``channel``, calling ``on_notify`` for each
    notification. Raises OSError or asyncpg.PostgresError when Postgres cannot be reached."""
    connection = await asyncpg.connect(driver_url(database))
    await connection.add_listener(channel, lambda *_: on_notify())
    return connection
