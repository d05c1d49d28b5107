import asyncio
import time
from collections.abc import Callable

from customer_api.webhooks.dispatcher import Dispatcher
from tests.conftest import Tenant
from tests.webhooks.receiver import Receiver


async def subscribe(tenant: Tenant, receiver: Receiver, **fields) -> dict:
    body = {"url": receiver.url, "channels": ["customer", "document"], **fields}
    answer = await tenant.client.post("/api/1/webhook", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def until(check: Callable[[], bool], dispatcher: Dispatcher | None, seconds: float = 10):
    """Run dispatcher rounds (when given) until ``check`` holds."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("not within the time allowed")
        if dispatcher is not None:
            await dispatcher.drain()
        await asyncio.sleep(0.02)
