"""The Elasticsearch backend through the official client, against a stand-in for the few
Elasticsearch APIs it calls (this machine cannot run Elasticsearch; see the stand-in's module):
index and alias management, indexing through the outbox, hydrated results, rebuilds."""

from pathlib import Path

import pytest

from customer_api.config import Settings
from customer_api.search.elastic import (
    ElasticBackend,
    ElasticIndex,
    RebuildFailed,
    index_definition,
)
from customer_api.search.indexer import Indexer
from customer_api.search.service import bind_backend
from tests.search.helpers import RecordedProgress, create, search
from tests.search.stand_in_elasticsearch import StandInElasticsearch, client_for


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
    bind_backend(app.state.database, backend)
    yield backend
    await backend.close()


async def _drain(app, backend: ElasticBackend) -> None:
    await Indexer(app.state.database, backend.index).drain()


async def test_open_makes_the_index_behind_its_alias(elastic, stand_in) -> None:
    index = stand_in.alias_target()
    assert index.startswith("customers-")
    definition = stand_in.definitions[index]
    assert definition["mappings"] == index_definition()["mappings"]
    assert definition["settings"] == index_definition()["settings"]
    await elastic.open()  # a second start keeps what exists
    assert stand_in.alias_target() == index and len(stand_in.indices) == 1


async def test_search_reads_hits_of_the_callers_group(app, acme, globex, elastic) -> None:
    own = await create(acme.client, "Wendy", city="Malmö")
    await create(acme.client, "Sleeping", active=False)
    await create(globex.client, "Other Group")
    await _drain(app, elastic)

    found = await search(acme.client, "anything")
    assert [entry["id"] for entry in found] == [own["id"]]
    assert found[0]["city"] == "Malmö" and found[0]["score"] == 1.0
    assert len(await search(acme.client, "anything", inactive="")) == 2


async def test_a_hit_deactivated_meanwhile_is_not_shown(app, client, elastic) -> None:
    customer = await create(client, "Wendy")
    await _drain(app, elastic)
    await client.put(f"/api/1/customer/{customer['id']}", json={"active": False})
    # Not yet indexed: Elasticsearch still has it active, the database decides.
    assert await search(client, "wendy") == []


async def test_rebuild_builds_a_new_index_and_moves_the_alias(
    app, acme, client, elastic, stand_in
) -> None:
    first = await create(client, "Wendy", customerProjects=[{"name": "Barn"}])
    second = await create(client, "Warner")
    old_index = stand_in.alias_target()  # empty: nothing was drained

    progress = RecordedProgress()
    assert await elastic.rebuild(app.state.database, progress) == 2
    assert progress.total == progress.done == 2

    new_index = stand_in.alias_target()
    assert new_index != old_index
    assert old_index not in stand_in.indices  # deleted once the alias moved
    documents = stand_in.indices[new_index]
    assert documents[str(first["id"])] == (
        first["modified"],
        {
            "customer_id": first["id"],
            "group_id": str(acme.group_id),
            "active": True,
            "name": "wendy",
            "number": "",
            "contact": "",
            "place": "",
            "projects": "barn",
            "notes": "",
        },
    )
    assert str(second["id"]) in documents
    assert ("DELETE", "/_search/scroll") in stand_in.requests  # deleted customers were checked


async def test_rebuild_leaves_the_alias_when_elasticsearch_refuses(
    app, client, elastic, stand_in
) -> None:
    customer = await create(client, "Wendy")
    stand_in.refused.add(str(customer["id"]))
    old_index = stand_in.alias_target()
    with pytest.raises(RebuildFailed, match="was refused"):
        await elastic.rebuild(app.state.database, RecordedProgress())
    assert stand_in.alias_target() == old_index
    assert list(stand_in.indices) == [old_index]  # the half-built index is gone
