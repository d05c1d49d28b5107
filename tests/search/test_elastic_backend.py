"""Faults of Elasticsearch a real engine will not produce on demand, injected through a stand-in
(see its module): a bulk request refused as a whole, a delete answered
``index_not_found_exception``, a document refused during a rebuild, shards failing while a
rebuild reads back, a search answered 429 or 5xx. Everything else about the backend runs
against a real engine in test_elastic_engine.py."""

from pathlib import Path

import pytest
from sqlalchemy import select

from customer_api.config import Settings
from customer_api.core.timestamps import utcnow
from customer_api.search import elastic as elastic_module
from customer_api.search.elastic import (
    ElasticBackend,
    ElasticIndex,
    RebuildFailed,
    delete_action,
)
from customer_api.search.indexer import Indexer
from customer_api.search.models import SearchOutboxEntry
from tests.helpers import create_customer
from tests.search.helpers import RecordedProgress
from tests.search.stand_in_elasticsearch import StandInElasticsearch, client_for

# The tests put a backend of their own into the app.
pytestmark = pytest.mark.own_app


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        vault_dir=tmp_path / "vault",
        elasticsearch_url="http://127.0.0.1:9",
        indexer_in_process=False,
        _env_file=None,
    )


@pytest.fixture
def stand_in() -> StandInElasticsearch:
    return StandInElasticsearch()


@pytest.fixture
async def elastic(app, stand_in) -> ElasticBackend:
    """The app's Elasticsearch backend, talking to the stand-in."""
    backend = ElasticBackend(ElasticIndex(client_for(stand_in), "customers"))
    await backend.open()
    app.state.search = backend
    yield backend
    await backend.close()


async def test_rebuild_leaves_the_alias_when_elasticsearch_refuses(
    app, client, elastic, stand_in
) -> None:
    customer = await create_customer(client, "Wendy")
    stand_in.refused.add(str(customer["id"]))
    old_index = stand_in.alias_target()
    with pytest.raises(RebuildFailed, match="was refused"):
        await elastic.rebuild(app.state.database, RecordedProgress())
    assert stand_in.alias_target() == old_index
    assert list(stand_in.indices) == [old_index]  # the half-built index is gone


async def test_a_bulk_request_refused_as_a_whole_counts_as_an_outage(
    app, client, elastic, stand_in
) -> None:
    """An error status for the whole request is stamped on every item by the client's helper:
    a 404 there is no "nothing to delete", and no document is to blame."""
    customer = await create_customer(client, "Wendy")
    await client.delete(f"/api/1/customer/{customer['id']}")
    stand_in.bulk_status = 404
    result = await Indexer(app.state.database, elastic.index).run_once()
    assert result.claimed == 2 and result.indexed == 0 and result.error
    async with app.state.database.sessions() as session:
        entries = list(await session.scalars(select(SearchOutboxEntry)))
    assert [(entry.attempts, entry.refusals) for entry in entries] == [(1, 0), (1, 0)]


async def test_a_delete_that_finds_no_index_is_not_done(elastic, stand_in) -> None:
    stand_in.deletes_find_no_index = True
    outcome = await elastic.index.bulk([delete_action(7, 1, "customers")])
    assert outcome.done == set() and outcome.index_missing
    assert "index_not_found_exception" in outcome.failed[7]


async def test_shards_failing_while_a_rebuild_reads_back_is_a_rebuild_failure(
    app, client, elastic, stand_in
) -> None:
    await create_customer(client, "Wendy")
    stand_in.scroll_shards_fail = True
    with pytest.raises(RebuildFailed, match=r"reading .* back failed"):
        await elastic.rebuild(app.state.database, RecordedProgress())
    assert len(stand_in.indices) == 1  # the old index went all the same


async def test_index_names_never_collide(elastic, monkeypatch) -> None:
    frozen = utcnow()
    monkeypatch.setattr(elastic_module, "utcnow", lambda: frozen)
    assert len({elastic.index.new_index_name() for _ in range(50)}) == 50


@pytest.mark.parametrize("status", [429, 502, 503])
async def test_search_answers_503_while_the_engine_is_overloaded(
    client, elastic, stand_in, status
) -> None:
    await create_customer(client, "Wendy")
    stand_in.search_status = status
    response = await client.get("/api/1/customer/search", params={"q": "wendy"})
    assert response.status_code == 503
    assert response.json()["error"] == "service_unavailable"
