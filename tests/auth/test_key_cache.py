"""Keys are remembered for a few seconds, so an authenticated request costs no key lookup; a
revoked key stops working within that time; unknown keys are never remembered."""

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from customer_api.app import create_app
from customer_api.auth import service
from customer_api.config import Settings
from tests.helpers import empty_all_tables, make_key

CACHE_SECONDS = 0.5


@pytest.fixture
async def short_memory(settings: Settings) -> AsyncIterator:
    """An app that remembers keys for CACHE_SECONDS."""
    application = create_app(settings.model_copy(update={"key_cache_seconds": CACHE_SECONDS}))
    async with application.router.lifespan_context(application):
        try:
            yield application
        finally:
            await empty_all_tables(application.state.database)


async def revoke_all_keys(app) -> None:
    async with app.state.database.sessions() as session, session.begin():
        for info in await service.list_keys(session):
            await service.revoke_key(session, key_id=info.id)


async def test_a_revoked_key_stops_working_within_the_cache_time(short_memory) -> None:
    _, key = await make_key(short_memory, "Acme")
    transport = httpx.ASGITransport(app=short_memory)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"API-Key": key}
    ) as client:
        assert (await client.get("/api/1/customer")).status_code == 204
        await revoke_all_keys(short_memory)
        revoked_at = time.monotonic()
        while (await client.get("/api/1/customer")).status_code != 401:
            assert time.monotonic() - revoked_at < CACHE_SECONDS + 1, "the revoked key works"
            await asyncio.sleep(0.05)
        await asyncio.sleep(CACHE_SECONDS)
        assert (await client.get("/api/1/customer")).status_code == 401  # and stays refused


async def test_a_known_key_costs_no_lookup(client, count_statements) -> None:
    created = (await client.post("/api/1/customer", json={"name": "Wendy"})).json()
    with count_statements() as counter:
        response = await client.get(f"/api/1/customer/{created['id']}")
    assert response.status_code == 200
    assert counter.count == 1, counter.statements


async def test_unknown_keys_cost_one_lookup_each_and_are_not_remembered(
    client, anonymous, count_statements
) -> None:
    created = (await client.post("/api/1/customer", json={"name": "Wendy"})).json()
    for attempt in range(3):
        with count_statements() as counter:
            response = await anonymous.get(
                f"/api/1/customer/{created['id']}", headers={"API-Key": "cak_guessed"}
            )
        assert response.status_code == 401
        assert counter.count == 1, f"attempt {attempt}: {counter.statements}"


async def test_a_flood_of_unknown_keys_does_not_evict_a_known_one(
    client, anonymous, count_statements
) -> None:
    created = (await client.post("/api/1/customer", json={"name": "Wendy"})).json()
    for number in range(300):
        headers = {"API-Key": f"cak_guess_{number}"}
        assert (await anonymous.get("/api/1/customer", headers=headers)).status_code == 401
    with count_statements() as counter:
        assert (await client.get(f"/api/1/customer/{created['id']}")).status_code == 200
    assert counter.count == 1, counter.statements
