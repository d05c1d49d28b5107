"""A dispatcher in another process (``customer-api webhooks``) hears of events at once: on
Postgres a NOTIFY sent with the event wakes it (its poll is set to a minute here, so only the
notification can explain a prompt delivery); on SQLite it finds them at its next poll."""

import asyncio
import os
import signal
import time

from sqlalchemy import text

from customer_api.core.db import Database
from customer_api.webhooks.wakeup import CHANNEL
from tests.helpers import Tenant
from tests.webhooks.helpers import start_dispatcher, subscribe, until
from tests.webhooks.receiver import Receiver

PROMPTLY = 5.0


async def _until_listening(database: Database) -> None:
    statement = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND query LIKE :listen"
    )
    deadline = time.monotonic() + 60
    async with database.reading() as session:
        while not await session.scalar(statement, {"listen": f"LISTEN %{CHANNEL}%"}):
            assert time.monotonic() < deadline, "the dispatcher process never listened"
            await asyncio.sleep(0.1)


async def test_a_dispatcher_in_another_process_delivers_promptly(
    acme: Tenant, receiver: Receiver, app, backend: str, database_url: str, tmp_path
) -> None:
    hook = await subscribe(acme, receiver)
    postgres = backend == "postgres"
    poll = "60" if postgres else "0.2"
    process = start_dispatcher(database_url, tmp_path, WEBHOOK_POLL_SECONDS=poll)
    try:
        if postgres:
            await _until_listening(app.state.database)
        else:
            await asyncio.sleep(1)
        await asyncio.sleep(0.5)  # its first round (on listening) is over: it sleeps now
        created = await acme.client.post("/api/1/customer", json={"name": "One statement"})
        await until(lambda: len(receiver.accepted()) >= 1, None, seconds=PROMPTLY)
        await asyncio.sleep(0.5)
        changed = await acme.client.put(f"/api/1/customer/{created.json()['id']}", json={})
        assert changed.status_code == 200
        await until(lambda: len(receiver.accepted()) >= 2, None, seconds=PROMPTLY)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
    payloads = receiver.verified(hook["secret"])
    assert [p["type"] for p in payloads] == ["customer.created", "customer.updated"]
