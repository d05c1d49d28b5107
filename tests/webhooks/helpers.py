import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable

from customer_api.webhooks.dispatcher import Dispatcher
from tests.conftest import Tenant
from tests.live_server import SOURCE
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
