"""The indexer is woken by the commit that wrote an outbox entry, not by its poll: in the same
process by the commit itself, across processes on Postgres by NOTIFY. The safety-net poll is
made an hour long here, so only a wake-up can explain a change arriving."""

import asyncio
import time
from pathlib import Path
from uuid import uuid4

import pytest

from customer_api.config import Settings
from customer_api.core.db import Database
from customer_api.search import wakeup as wakeup_module
from customer_api.search.indexer import Indexer
from customer_api.search.service import bind_wakeup
from customer_api.search.wakeup import Wakeup
from tests.helpers import create_customer

AN_HOUR = 3600.0

# The poll period is read when the app starts; one test binds a wake-up of its own.
pytestmark = pytest.mark.own_app


@pytest.fixture(autouse=True)
def no_poll(monkeypatch) -> None:
    monkeypatch.setattr(wakeup_module, "POLL_SECONDS", {"postgresql": AN_HOUR, "sqlite": AN_HOUR})


@pytest.fixture
def settings(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path, elasticsearch_url: str
) -> Settings:
    """With the in-process indexer, except where the test runs one of another process."""
    return Settings(
        database_url=database_url,
        vault_dir=tmp_path / "vault",
        elasticsearch_url=elasticsearch_url,
        elasticsearch_index=f"wakeup-{uuid4().hex}",
        indexer_in_process="another_process" not in request.function.__name__,
        _env_file=None,
    )


async def _wait_until_indexed(index, customer_id: int, seconds: float = 10) -> float:
    started = time.monotonic()
    while not await index.client.exists(index=index.alias, id=str(customer_id)):
        assert time.monotonic() - started < seconds, "never indexed"
        await asyncio.sleep(0.005)
    return time.monotonic() - started


async def test_a_commit_wakes_the_indexer_of_its_process(app, client) -> None:
    index = app.state.search.index
    await asyncio.sleep(0.2)  # the indexer found nothing and sleeps
    customer = await create_customer(client, "Wendy")
    assert await _wait_until_indexed(index, customer["id"]) < 0.5
    await index.delete_indices(await index.current_indices())


async def test_a_rolled_back_write_wakes_nobody(app, client) -> None:
    woken = Wakeup(AN_HOUR)
    bind_wakeup(app.state.database, woken)
    response = await client.post("/api/1/customer", json={"name": "X", "customerNumber": "C-1"})
    assert response.status_code == 200
    woken._event.clear()
    response = await client.post("/api/1/customer", json={"name": "Y", "customerNumber": "C-1"})
    assert response.status_code == 409  # written, then rolled back
    assert not woken._event.is_set()


async def test_notify_wakes_an_indexer_in_another_process(app, client, backend) -> None:
    """Another process: a Database of its own that the writer's sessions know nothing of."""
    if backend != "postgres":
        pytest.skip("SQLite has no notifications: another process's indexer polls")
    database = Database(app.state.settings.async_database_url)
    stop = asyncio.Event()
    indexer = Indexer(database, app.state.search.index, wakeup=Wakeup(AN_HOUR))
    task = asyncio.create_task(indexer.run(stop))
    try:
        await asyncio.sleep(0.3)  # listening, and asleep
        customer = await create_customer(client, "Wendy")
        assert await _wait_until_indexed(app.state.search.index, customer["id"]) < 0.5
    finally:
        stop.set()
        await task
        await database.dispose()
        index = app.state.search.index
        await index.delete_indices(await index.current_indices())
