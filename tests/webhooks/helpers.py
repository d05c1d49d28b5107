"""Subscribing, waiting for deliveries, and the dispatcher policy of the webhook tests."""

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta

from customer_api.webhooks.dispatcher import Dispatcher, Policy
from customer_api.webhooks.outbound import parse_networks
from tests.helpers import Tenant
from tests.webhooks.receiver import Receiver

LOOPBACK = "127.0.0.0/8"
FAST_RETRIES = (0.05, 0.05, 0.1, 0.1, 0.2)


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


def policy(**changes) -> Policy:
    values = {
        "retry_delays": FAST_RETRIES,
        "allowed": parse_networks(LOOPBACK),
        "lease": timedelta(seconds=5),
        "disable_after_failures": 100,
        "disable_after": timedelta(0),
        **changes,
    }
    return Policy(**values)
