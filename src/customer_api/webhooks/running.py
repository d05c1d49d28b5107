"""The dispatcher as the app (``serve``) or its own command runs it, from the settings."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from customer_api.config import Settings
from customer_api.core.db import Database
from customer_api.webhooks.dispatcher import Dispatcher, Policy
from customer_api.webhooks.outbound import Networks, parse_networks
from customer_api.webhooks.wakeup import Notifier


def allowed_networks(settings: Settings) -> Networks:
    return parse_networks(settings.webhook_allowed_networks)


def policy_of(settings: Settings) -> Policy:
    return Policy(
        retry_delays=tuple(float(d) for d in settings.webhook_retry_delays.split(",") if d),
        disable_after_failures=settings.webhook_disable_after_failures,
        disable_after=timedelta(hours=settings.webhook_disable_after_hours),
        allowed=allowed_networks(settings),
        lease=timedelta(seconds=settings.webhook_lease_seconds),
        poll_seconds=settings.webhook_poll_seconds,
    )


DISPATCHER_POOL_SIZE = 2


@contextlib.asynccontextmanager
async def running_dispatcher(
    settings: Settings, *, in_process: bool | None = None
) -> AsyncIterator[Dispatcher | None]:
    """A dispatcher running beside the app, unless turned off; with a small pool of its own, so
    that deliveries and requests never wait for each other's connections. On Postgres, the
    notifier that wakes other processes' dispatchers runs beside the app either way."""
    database = Database(settings.async_database_url, pool_size=DISPATCHER_POOL_SIZE)
    notifying = None
    if database.dialect == "postgresql":
        notifying = asyncio.create_task(Notifier(database).run(), name="webhook-notifier")
    dispatcher, dispatching, stop = None, None, asyncio.Event()
    if settings.webhook_dispatcher_in_process if in_process is None else in_process:
        dispatcher = Dispatcher(database, policy_of(settings))
        dispatching = asyncio.create_task(dispatcher.run(stop), name="webhook-dispatcher")
    try:
        yield dispatcher
    finally:
        stop.set()
        if notifying is not None:
            notifying.cancel()
        for task in (dispatching, notifying):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await database.dispose()
