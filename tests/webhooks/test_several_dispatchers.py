"""Several dispatchers at once deliver each event once (Postgres: SKIP LOCKED and leases;
SQLite: the single writer takes them in turn)."""

import asyncio

from customer_api.webhooks.dispatcher import Dispatcher
from tests.helpers import Tenant
from tests.webhooks.helpers import policy, subscribe
from tests.webhooks.receiver import Receiver


async def test_three_dispatchers_deliver_each_event_once(
    acme: Tenant, receiver: Receiver, app
) -> None:
    await subscribe(acme, receiver)
    ids = []
    for number in range(30):
        answer = await acme.client.post("/api/1/customer", json={"name": f"C{number}"})
        ids.append(answer.json()["id"])
    dispatchers = [Dispatcher(app.state.database, policy()) for _ in range(3)]
    try:
        for _ in range(20):
            await asyncio.gather(*(d.run_once() for d in dispatchers))
            if len(receiver.accepted()) >= 30:
                break
        await asyncio.gather(*(d.drain() for d in dispatchers))
    finally:
        for dispatcher in dispatchers:
            await dispatcher.aclose()
    delivered = [r.payload["data"]["id"] for r in receiver.accepted()]
    assert sorted(delivered) == ids
