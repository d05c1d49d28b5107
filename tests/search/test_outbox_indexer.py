"""The outbox and the indexer on the real database, with Elasticsearch configured at an address
where nothing listens: changes must wait in the outbox, not be lost. The indexer against a
reachable engine is in test_elastic_engine.py."""

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from customer_api.config import Settings
from customer_api.core.timestamps import utcnow
from customer_api.search import outbox
from customer_api.search.indexer import Indexer, backoff_delay
from customer_api.search.models import SearchOutboxEntry
from tests.helpers import create_customer
from tests.search.helpers import SEARCH

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing answers there


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"elasticsearch_url": UNREACHABLE, "indexer_in_process": False}
    )


async def _entries(app) -> list[SearchOutboxEntry]:
    async with app.state.database.sessions() as session:
        statement = select(SearchOutboxEntry).order_by(SearchOutboxEntry.id)
        return list(await session.scalars(statement))


async def _make_due(app) -> None:
    async with app.state.database.sessions() as session, session.begin():
        await session.execute(update(SearchOutboxEntry).values(available_at=utcnow()))


async def test_every_change_writes_an_entry_in_its_transaction(client, app) -> None:
    customer = await create_customer(client, "Wendy", customerNumber="C-1")
    [created] = await _entries(app)
    assert created.customer_id == customer["id"]
    assert created.version == 1  # the customer's first change

    await client.put(f"/api/1/customer/{customer['id']}", json={"name": "W"})
    assert [entry.version for entry in await _entries(app)] == [1, 2]

    # A write that fails leaves no entry: it is rolled back with the change.
    response = await client.post("/api/1/customer", json={"name": "X", "customerNumber": "C-1"})
    assert response.status_code == 409
    assert len(await _entries(app)) == 2

    await client.delete(f"/api/1/customer/{customer['id']}")
    deleted = (await _entries(app))[-1]
    assert deleted.version == 3  # a deletion outranks every earlier version
    assert len(await _entries(app)) == 3


async def test_search_answers_503_while_elasticsearch_is_down(client) -> None:
    await create_customer(client, "Wendy")
    response = await client.get(SEARCH, params={"q": "wendy"})
    assert response.status_code == 503
    assert response.json() == {
        "success": False,
        "error": "service_unavailable",
        "message": "Search is unavailable at the moment.",
    }


async def test_unreachable_elasticsearch_leaves_entries_waiting(client, app) -> None:
    await create_customer(client, "Wendy")
    await create_customer(client, "Warner")
    indexer = Indexer(app.state.database, app.state.search.index)

    before = utcnow()
    result = await indexer.run_once()
    assert result.claimed == 2 and result.indexed == 0 and result.error
    entries = await _entries(app)
    assert len(entries) == 2
    for entry in entries:
        assert entry.attempts == 1
        assert "Connection" in entry.last_error
        assert entry.available_at >= before + timedelta(seconds=1)

    # Not due again yet: the next round does not hammer Elasticsearch with them.
    assert (await indexer.run_once()).claimed == 0

    await _make_due(app)
    await indexer.run_once()
    entries = await _entries(app)
    assert [entry.attempts for entry in entries] == [2, 2]
    assert all(entry.available_at >= utcnow() + timedelta(seconds=1.5) for entry in entries)


async def test_the_indexer_loop_backs_off_and_stops(client, app) -> None:
    await create_customer(client, "Wendy")
    stop = asyncio.Event()
    task = asyncio.create_task(Indexer(app.state.database, app.state.search.index).run(stop))

    async def first_attempt() -> None:
        while not (await _entries(app))[0].attempts:  # noqa: ASYNC110 (polling the database)
            await asyncio.sleep(0.01)

    await asyncio.wait_for(first_attempt(), timeout=10)
    stop.set()
    await asyncio.wait_for(task, timeout=10)
    [entry] = await _entries(app)
    assert entry.attempts == 1  # kept, and tried once: the loop is backing off


def test_backoff_grows_and_is_capped() -> None:
    delays = [backoff_delay(failures) for failures in range(1, 12)]
    assert 1 <= delays[0] <= 1.1 and 2 <= delays[1] <= 2.2 and 4 <= delays[2] <= 4.4
    assert all(60 <= delay <= 66 for delay in delays[6:])
    assert [outbox.retry_delay(n).total_seconds() for n in (1, 2, 3, 7, 50)] == [1, 2, 4, 60, 60]


async def test_concurrent_claims_never_overlap(client, app, backend) -> None:
    if backend != "postgres":
        pytest.skip("row locks (FOR UPDATE SKIP LOCKED) exist on Postgres; SQLite runs one indexer")
    for number in range(5):
        await create_customer(client, f"C{number}")
    sessions = app.state.database.sessions
    async with sessions() as first, first.begin(), sessions() as second, second.begin():
        mine = await outbox.claim(first, limit=3)
        theirs = await outbox.claim(second, limit=3)
        assert len(mine) == 3 and len(theirs) == 2
        assert not {entry.id for entry in mine} & {entry.id for entry in theirs}


async def test_serve_runs_the_indexer_in_process(settings, client) -> None:
    from customer_api.app import create_app

    application = create_app(settings.model_copy(update={"indexer_in_process": True}))
    async with application.router.lifespan_context(application):
        tasks = [task for task in asyncio.all_tasks() if task.get_name() == "indexer"]
        assert len(tasks) == 1
    assert tasks[0].done() and not tasks[0].cancelled()


async def test_metrics_report_the_waiting_entries(client, app) -> None:
    await client.post("/api/1/customer", json={"name": "Waiting"})
    await client.post("/api/1/customer", json={"name": "Also waiting"})
    exposition = (await client.get("/metrics")).text
    assert "customer_api_indexer_backlog 2.0" in exposition


async def test_an_app_host_clock_ahead_delays_nothing(client, app, backend, monkeypatch) -> None:
    """On Postgres the entries' due times come from the database's clock, not the hosts'."""
    if backend != "postgres":
        pytest.skip("on SQLite writers and indexers share one host, and its clock")
    an_hour_ahead = utcnow() + timedelta(hours=1)
    monkeypatch.setattr(outbox, "utcnow", lambda: an_hour_ahead)
    await create_customer(client, "Wendy")
    monkeypatch.undo()
    async with app.state.database.sessions() as session, session.begin():
        assert len(await outbox.claim(session, limit=10)) == 1
