"""The dispatcher as the app (``serve``) or its own command runs it, from the settings."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from customer_api.config import Settings
from customer_api.core.db import Database
from customer_api.webhooks.dispatcher import Dispatcher, Policy
from customer_api.webhooks.outbound import Networks, parse_networks


def allowed_networks(settings: Settings) -> Networks:
    return parse_networks(settings.webhook_allowed_networks)


def policy_of(settings: Settings) -> Policy:
    return Policy(
        retry_delays=tuple(float(d) for d in settings.webhook_retry_delays.split(",") if d),
        disable_after_failures=settings.webhook_disable_after_failures,
        disable_after=timedelta(hours=settings.webhook_disable_after_hours),
        allowed=allowed_networks(settings),
        lease=timedelta(seconds=settings.webhook_lease_seconds),
    )


DISPATCHER_POOL_SIZE = 2


@contextlib.asynccontextmanager
async def running_dispatcher(
    settings: Settings, *, in_process: bool | None = None
) -> AsyncIterator[Dispatcher | None]:
    """A dispatcher running beside the app, unless turned off; with a small pool of its own, so
    that deliveries and requests never wait for each other's connections."""
    if not (settings.webhook_dispatcher_in_process if in_process is None else in_process):
        yield None
        return
    database = Database(settings.async_database_url, pool_size=DISPATCHER_POOL_SIZE)
    dispatcher = Dispatcher(database, policy_of(settings))
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop), name="webhook-dispatcher")
    try:
        yield dispatcher
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await task
        await database.dispose()
