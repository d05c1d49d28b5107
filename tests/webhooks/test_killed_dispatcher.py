"""``customer-api webhooks`` killed (SIGKILL) while a request is in flight: the claim falls due
again when its lease ends, and the event is delivered by another dispatcher."""

import asyncio
import os
import signal
import threading

from sqlalchemy import select

from customer_api.webhooks.models import WebhookDelivery
from tests.helpers import Tenant
from tests.webhooks.helpers import start_dispatcher, subscribe
from tests.webhooks.receiver import Receiver


async def test_a_dispatcher_killed_mid_delivery_loses_nothing(
    acme: Tenant, receiver: Receiver, dispatcher, app, database_url: str, tmp_path
) -> None:
    await subscribe(acme, receiver)
    arrived = threading.Event()
    receiver.hold = threading.Event()
    receiver.on_arrival = arrived.set
    process = start_dispatcher(database_url, tmp_path, WEBHOOK_LEASE_SECONDS="1")
    try:
        await acme.client.post("/api/1/customer", json={"name": "First"})
        assert await _wait(arrived), "the dispatcher process sent nothing"
        os.killpg(process.pid, signal.SIGKILL)  # mid-request: the receiver holds it
        process.wait(10)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    receiver.on_arrival = None
    receiver.hold.set()
    receiver.hold = None
    await asyncio.sleep(1.1)  # the lease the killed dispatcher took runs out
    for _ in range(200):
        await dispatcher.drain()
        async with app.state.database.reading() as session:
            statuses = (await session.scalars(select(WebhookDelivery.status))).all()
        if statuses == ["delivered"]:
            break
        await asyncio.sleep(0.05)
    assert statuses == ["delivered"]
    assert {r.payload["data"]["name"] for r in receiver.accepted()} == {"First"}


async def _wait(event: threading.Event, seconds: float = 30) -> bool:
    return await asyncio.to_thread(event.wait, seconds)
