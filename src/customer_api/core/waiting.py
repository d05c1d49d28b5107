"""Waiting for whichever comes first: a wake-up, a stop, or the end of a period."""

import asyncio


async def until_set(event: asyncio.Event, stop: asyncio.Event, *, seconds: float) -> None:
    """Until ``event`` or ``stop`` is set, or ``seconds`` passed; ``event`` is cleared after."""
    if not event.is_set():
        waiters = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(stop.wait())]
        _, pending = await asyncio.wait(
            waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in pending:
            waiter.cancel()
    event.clear()
