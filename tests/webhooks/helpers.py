"""Subscribing, waiting for deliveries, and the dispatcher policy of the webhook tests."""

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta

from customer_api.webhooks.dispatcher import Dispatcher, Policy
from customer_api.webhooks.outbound import parse_networks
from tests.helpers import Tenant
from tests.live_server import SOURCE
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


def start_dispatcher(database_url: str, tmp_path, **settings: str) -> subprocess.Popen:
    """``customer-api webhooks`` in a process (and session) of its own, allowed to reach the
    loopback receiver; ``settings`` are more ``CUSTOMER_API_`` variables."""
    env = {
        **os.environ,
        "PYTHONPATH": str(SOURCE),
        "CUSTOMER_API_DATABASE_URL": database_url,
        "CUSTOMER_API_VAULT_DIR": str(tmp_path / "vault"),
        "CUSTOMER_API_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "CUSTOMER_API_LOG_LEVEL": "warning",
        **{f"CUSTOMER_API_{name}": value for name, value in settings.items()},
    }
    return subprocess.Popen(
        [sys.executable, "-m", "customer_api", "webhooks"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


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
