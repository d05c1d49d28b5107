"""POST /api/1/customer with a webhook listening: the event carries the same representation
as the answer, a refused create writes none, and on Postgres the create (customer, projects,
search entry and event) stays one statement."""

import pytest
from sqlalchemy import func, select

from customer_api.webhooks.dispatcher import Dispatcher
from customer_api.webhooks.models import WebhookEvent
from tests.helpers import Tenant
from tests.webhooks.helpers import subscribe, until
from tests.webhooks.receiver import Receiver

FULL = {
    "name": 'Åsa\'s Bakery "Nord"',
    "customerNumber": "C-77",
    "organizationNumber": "556000-0000",
    "email": "asa@example.com",
    "phone": "+46 8 123",
    "mobile": "+46 70 123",
    "address": "Storgatan 1\nBox 2",
    "postalCode": "111 22",
    "city": "Stockholm",
    "country": "SE",
    "latitude": 59.329323,
    "longitude": 18.068581,
    "notes": "Back door ☕ \\ \u0001",
    "organization": "North",
    "active": False,
    "customerProjects": [
        {"name": "Kitchen"},
        {"name": "Bakery", "active": False},
        {"name": "Attic"},
    ],
}


async def _event_count(app) -> int:
    async with app.state.database.reading() as session:
        return await session.scalar(select(func.count()).select_from(WebhookEvent))


async def test_the_created_event_shows_what_the_answer_shows(
    acme: Tenant, receiver: Receiver, dispatcher: Dispatcher, app
) -> None:
    hook = await subscribe(acme, receiver)
    answers = [
        await acme.client.post("/api/1/customer", json=body) for body in (FULL, {"name": "B"})
    ]
    assert [a.status_code for a in answers] == [200, 200], answers[0].text
    await until(lambda: len(receiver.accepted()) >= 2, dispatcher)
    payloads = receiver.verified(hook["secret"])
    assert [p["type"] for p in payloads] == ["customer.created"] * 2
    assert sorted((p["data"] for p in payloads), key=lambda d: d["id"]) == [
        a.json() for a in answers
    ]


async def test_a_refused_create_writes_no_event(
    acme: Tenant, receiver: Receiver, dispatcher: Dispatcher, app
) -> None:
    await subscribe(acme, receiver)
    first = await acme.client.post("/api/1/customer", json={"name": "A", "customerNumber": "N"})
    taken = await acme.client.post("/api/1/customer", json={"name": "B", "customerNumber": "N"})
    assert (first.status_code, taken.status_code) == (200, 409)
    assert await _event_count(app) == 1
    await until(lambda: len(receiver.accepted()) >= 1, dispatcher)
    await dispatcher.drain()
    assert [r.payload["data"]["name"] for r in receiver.accepted()] == ["A"]


async def test_nobody_listening_writes_no_event(
    acme: Tenant, globex: Tenant, receiver: Receiver, app
) -> None:
    await subscribe(globex, receiver)  # another group's webhook
    await subscribe(acme, receiver, channels=["document"])  # another channel
    assert (await acme.client.post("/api/1/customer", json={"name": "A"})).status_code == 200
    assert await _event_count(app) == 0


async def test_the_create_stays_one_statement_on_postgres(
    acme: Tenant, receiver: Receiver, backend: str, count_statements, app
) -> None:
    if backend != "postgres":
        pytest.skip("the one-statement create is Postgres'")
    await subscribe(acme, receiver)
    with count_statements() as counter:
        answer = await acme.client.post("/api/1/customer", json=FULL)
    assert answer.status_code == 200
    writes = [s for s in counter.statements if "INSERT" in s.upper()]
    assert len(writes) == 1, counter.statements
    assert await _event_count(app) == 1
