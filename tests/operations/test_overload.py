"""Overload is a clear answer: no free connection, no turn to write, or no room for another
request answers 503 with Retry-After in the family's error shape (never 500), /ready says so,
and the server serves again as soon as the load is gone."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from customer_api.app import create_app
from customer_api.config import Settings
from customer_api.core.errors import Overloaded
from tests.helpers import empty_all_tables, make_key

POOL_TIMEOUT = 0.3


@pytest.fixture
async def small_app(settings: Settings) -> AsyncIterator:
    """An app with one pooled connection per pool, a short wait for it, and room for two
    requests at a time."""
    application = create_app(
        settings.model_copy(
            update={
                "database_pool_size": 1,
                "database_pool_timeout": POOL_TIMEOUT,
                "max_concurrent_requests": 2,
            }
        )
    )
    async with application.router.lifespan_context(application):
        try:
            yield application
        finally:
            await empty_all_tables(application.state.database)


@pytest.fixture
async def small_client(small_app) -> AsyncIterator[httpx.AsyncClient]:
    _, key = await make_key(small_app, "Acme")
    transport = httpx.ASGITransport(app=small_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"API-Key": key}
    ) as client:
        assert (await client.get("/api/1/customer")).status_code == 204  # the key is known
        yield client


async def hold_every_connection(database, stack: AsyncExitStack) -> int:
    """Check out connections until every pool is empty; they stay out until ``stack`` closes."""
    held = 0
    for engine in database.engines:
        while True:
            try:
                await stack.enter_async_context(engine.connect())  # checked out, kept idle
            except sa_exc.TimeoutError:
                break
            held += 1
    if database.dialect == "postgresql":  # and the driver's own pool, for single statements
        while True:
            try:
                await stack.enter_async_context(database.driver_connection())
            except Overloaded:
                break
            held += 1
    return held


def assert_unavailable_in_family_shape(response: httpx.Response, *, assignments: bool) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    body = response.json()
    if assignments:
        assert body["error"] == "service_unavailable" and body["error_description"]
    else:
        assert body["success"] is False and body["error"] == "service_unavailable"
        assert "nothing was changed" in body["message"]


async def test_no_free_connection_is_503_then_served_again(small_app, small_client) -> None:
    async with AsyncExitStack() as stack:
        assert await hold_every_connection(small_app.state.database, stack) >= 1
        listed = await small_client.get("/api/1/customer")
        assert_unavailable_in_family_shape(listed, assignments=False)
        created = await small_client.post("/api/1/customer", json={"name": "Wendy"})
        assert_unavailable_in_family_shape(created, assignments=False)
        users = await small_client.get("/api/v1.0/users")
        assert_unavailable_in_family_shape(users, assignments=True)
        ready = await small_client.get("/ready")
        assert ready.status_code == 503 and ready.json() == {"status": "unavailable"}
        assert "Retry-After" in ready.headers
    # the refused write was not applied; the server serves again at once
    assert (await small_client.get("/api/1/customer")).status_code == 204
    assert (await small_client.post("/api/1/customer", json={"name": "W"})).status_code == 200
    assert (await small_client.get("/ready")).status_code == 200


async def test_a_writer_waiting_too_long_for_its_turn_is_503(
    small_app, small_client, backend
) -> None:
    if backend != "sqlite":
        pytest.skip("writers take turns inside the process on SQLite; Postgres locks rows")
    async with small_app.state.database.transaction() as session:
        await session.execute(text("SELECT 1"))  # a long transaction holds the turn
        waiting = await small_client.post("/api/1/customer", json={"name": "Wendy"})
        assert_unavailable_in_family_shape(waiting, assignments=False)
        assert (await small_client.get("/api/1/customer")).status_code == 204  # reads go on
    assert (await small_client.post("/api/1/customer", json={"name": "W"})).status_code == 200


async def test_a_full_process_sheds_load_with_503(small_client) -> None:
    """Two uploads stall mid-body (the most the app takes at once); a third request is told to
    come back, probes still answer, and once the uploads end everything is served again."""
    release = asyncio.Event()

    async def stalled_body() -> AsyncIterator[bytes]:
        yield b"--b\r\nContent-Disposition: form-data; name=file; filename=a.txt\r\n\r\nab"
        await release.wait()
        yield b"c\r\n--b--\r\n"

    async def upload() -> httpx.Response:
        return await small_client.post(
            "/api/1/document/content",
            content=stalled_body(),
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )

    uploads = [asyncio.create_task(upload()) for _ in range(2)]
    try:
        await asyncio.sleep(0.2)
        shed = await small_client.get("/api/1/customer")
        assert_unavailable_in_family_shape(shed, assignments=False)
        assert (await small_client.get("/health")).status_code == 200
        assert (await small_client.get("/ready")).status_code == 503
    finally:
        release.set()
        answers = await asyncio.gather(*uploads)
    assert [answer.status_code for answer in answers] == [200, 200]
    assert (await small_client.get("/api/1/customer")).status_code == 204
    assert (await small_client.get("/ready")).status_code == 200
