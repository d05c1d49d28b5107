"""The Elasticsearch backend and its indexer against a real engine (osmem-server, or the
Elasticsearch CUSTOMER_API_TEST_ELASTICSEARCH_URL names): the index and its alias when many
processes start at once or the index goes away, versions when clocks disagree, refusals that
become dead letters, and what searches answer when the engine refuses a query."""

import asyncio
from datetime import timedelta
from uuid import uuid4

import pytest
from elasticsearch import AsyncElasticsearch
from sqlalchemy import select

from customer_api.config import Settings
from customer_api.core.timestamps import utcnow
from customer_api.customers import service as customers_service
from customer_api.search import outbox
from customer_api.search.elastic import (
    ElasticBackend,
    ElasticIndex,
    delete_action,
    index_definition,
)
from customer_api.search.indexer import Indexer
from customer_api.search.models import SearchOutboxEntry
from tests.helpers import create_customer
from tests.search.helpers import SEARCH, RecordedProgress, names, search


@pytest.fixture
def settings(settings: Settings, elasticsearch_url: str) -> Settings:
    return settings.model_copy(
        update={
            "elasticsearch_url": elasticsearch_url,
            "elasticsearch_index": f"engine-{uuid4().hex}",
            "indexer_in_process": False,
        }
    )


@pytest.fixture
async def elastic(app) -> ElasticBackend:
    backend = app.state.search
    yield backend
    await _delete_everything_named(backend.index)


async def _delete_everything_named(index: ElasticIndex) -> None:
    """The test's indices: its alias's, and any other that took one of its names."""
    found = await index.client.indices.get(index=f"{index.alias}*", ignore_unavailable=True)
    await index.delete_indices(list(found.body))


@pytest.fixture
async def settle(app, elastic):
    """Drain the outbox with one indexer for the whole test (as a running one would), then
    make what it wrote searchable."""
    indexer = Indexer(app.state.database, elastic.index)

    async def wait() -> None:
        await indexer.drain()
        await elastic.index.refresh()

    return wait


async def _is_alias(index: ElasticIndex) -> bool:
    return bool(await index.client.indices.exists_alias(name=index.alias))


async def _entries(app) -> list[SearchOutboxEntry]:
    async with app.state.database.sessions() as session:
        return list(await session.scalars(select(SearchOutboxEntry).order_by(SearchOutboxEntry.id)))


async def test_many_first_starts_at_once_make_one_index(elasticsearch_url: str) -> None:
    alias = f"starts-{uuid4().hex}"
    starters = [ElasticIndex.connect(elasticsearch_url, alias) for _ in range(8)]
    try:
        await asyncio.gather(*(starter.ensure() for starter in starters))
        indices = await starters[0].current_indices()
        assert len(indices) == 1, indices
        # Written through the alias: it has a write index.
        outcome = await starters[0].bulk([delete_action(1, 1, alias)], require_alias=True)
        assert outcome.done == {1}
    finally:
        await _delete_everything_named(starters[0])
        for starter in starters:
            await starter.close()


async def test_a_deleted_index_comes_back_behind_its_alias(app, client, elastic, settle) -> None:
    await create_customer(client, "Before")
    gone = await create_customer(client, "Gone")
    await settle()
    [index] = await elastic.index.current_indices()
    await elastic.index.client.indices.delete(index=index)

    await create_customer(client, "After")
    await settle()
    assert await _is_alias(elastic.index)  # not a plain index with guessed mappings
    assert await names(client, "after") == ["After"]
    # A delete too (an externally versioned delete would make the index it names).
    await client.delete(f"/api/1/customer/{gone['id']}")
    await settle()
    assert await _is_alias(elastic.index)
    assert await _entries(app) == []
    # What was in the deleted index needs a rebuild, which works from here.
    await elastic.rebuild(app.state.database, RecordedProgress())
    await settle()
    assert await names(client, "before") == ["Before"]


async def test_a_rebuild_replaces_a_plain_index_that_took_the_alias_name(
    app, client, elastic, settle
) -> None:
    """A write without ``require_alias`` that found no alias made a plain index (as before
    bulk writes required the alias): ``ensure`` says so, and a rebuild replaces it."""
    await create_customer(client, "Wendy")
    for index in await elastic.index.current_indices():
        await elastic.index.client.indices.delete(index=index)
    await elastic.index.client.index(index=elastic.index.alias, id="1", document={"name": "x"})

    with pytest.raises(Exception, match="reindex"):
        await elastic.index.ensure()
    await elastic.rebuild(app.state.database, RecordedProgress())
    assert await _is_alias(elastic.index)
    await settle()
    assert await names(client, "wendy") == ["Wendy"]


async def test_a_later_change_wins_when_the_clock_steps_back(
    client, elastic, settle, monkeypatch
) -> None:
    customer = await create_customer(client, "First Name")
    await settle()
    an_hour_ago = utcnow() - timedelta(hours=1)
    monkeypatch.setattr(customers_service, "utcnow", lambda: an_hour_ago)  # another host's clock
    await client.put(f"/api/1/customer/{customer['id']}", json={"name": "Second Name"})
    await settle()
    assert await names(client, "second") == ["Second Name"]
    assert await names(client, "first") == []


async def test_a_rebuild_that_fails_after_the_swap_leaves_no_old_index(
    app, client, elastic, settle, monkeypatch
) -> None:
    await create_customer(client, "Wendy")
    await settle()
    [old] = await elastic.index.current_indices()

    async def fail(*_args) -> None:
        raise RuntimeError("lost the database")

    monkeypatch.setattr(elastic, "_drop_deleted", fail)
    with pytest.raises(RuntimeError, match="lost the database"):
        await elastic.rebuild(app.state.database, RecordedProgress())
    [new] = await elastic.index.current_indices()
    assert new != old
    assert not await elastic.index.client.indices.exists(index=old)
    assert await names(client, "wendy") == ["Wendy"]


async def test_a_refused_document_becomes_a_dead_letter_and_blocks_nothing(
    app, client, elastic, settle
) -> None:
    poison = await create_customer(client, "Poison")
    await _refusing_names_that_are_no_numbers(elastic.index)
    indexer = Indexer(app.state.database, elastic.index)
    for attempt in range(1, outbox.MAX_REFUSALS + 1):
        result = await indexer.run_once()
        assert (result.claimed, result.failed, result.error) == (1, 1, None), attempt
        await _make_due(app)
    [dead] = await _entries(app)
    assert dead.dead_since is not None and dead.refusals == outbox.MAX_REFUSALS
    assert "status 400" in dead.last_error

    # Never claimed again, and the others go through.
    await create_customer(client, "12345")
    result = await indexer.run_once()
    assert (result.claimed, result.indexed) == (1, 1)
    async with app.state.database.sessions() as session:
        assert await outbox.waiting(session) == 0
        assert await outbox.count_dead_letters(session) == 1
    exposition = (await client.get("/metrics")).text
    assert "customer_api_indexer_dead_letters 1.0" in exposition

    # Once the mapping is fixed, a retry takes it.
    [index] = await elastic.index.current_indices()
    await elastic.index.client.indices.delete(index=index)
    await elastic.index.ensure()
    async with app.state.database.sessions() as session, session.begin():
        assert await outbox.retry_dead_letters(session) == 1
    await settle()
    assert await _entries(app) == []
    assert await names(client, "poison") == ["Poison"]
    assert poison["id"]


async def _refusing_names_that_are_no_numbers(index: ElasticIndex) -> str:
    """Replace the index behind the alias by one whose mapping refuses a document with a name
    that is no number, and takes the others (as a field changed by hand would): a 400 for
    such a document's item. The index's name."""
    [name] = await index.current_indices()
    await index.client.indices.delete(index=name)
    await index.client.indices.create(
        index=name,
        mappings={"properties": {"name": {"type": "long"}}},
        aliases={index.alias: {"is_write_index": True}},
    )
    return name


async def _make_due(app) -> None:
    async with app.state.database.sessions() as session, session.begin():
        for entry in await session.scalars(select(SearchOutboxEntry)):
            entry.available_at = utcnow()


async def test_a_query_the_engine_refuses_is_a_500_with_the_request_id(
    acme, client, elastic, settle
) -> None:
    await create_customer(client, "Wendy")
    await settle()
    # An index without the mapping the query sorts by: the engine answers 400.
    [index] = await elastic.index.current_indices()
    await elastic.index.client.indices.delete(index=index)
    await elastic.index.client.indices.create(
        index=index, aliases={elastic.index.alias: {"is_write_index": True}}
    )
    document = {"group_id": str(acme.group_id), "active": True, "name": "wendy"}
    await elastic.index.client.index(index=index, document=document, refresh=True)
    response = await client.get(SEARCH, params={"q": "wendy"}, headers={"X-Request-ID": "r-42"})
    assert response.status_code == 500
    body = response.json()
    assert body["success"] is False and body["error"] == "server_error"
    assert "r-42" in body["message"]
    assert response.headers["X-Request-ID"] == "r-42"


async def test_an_unreachable_engine_is_a_503(client, elastic, monkeypatch) -> None:
    unreachable = AsyncElasticsearch("http://127.0.0.1:9", node_class="httpxasync", max_retries=0)
    monkeypatch.setattr(elastic.index, "client", unreachable)
    try:
        response = await client.get(SEARCH, params={"q": "wendy"})
    finally:
        await unreachable.close()
    assert response.status_code == 503
    assert response.json()["error"] == "service_unavailable"


async def test_no_index_behind_the_alias_is_a_503(client, elastic) -> None:
    await elastic.index.delete_indices(await elastic.index.current_indices())
    response = await client.get(SEARCH, params={"q": "wendy"})
    assert response.status_code == 503
    assert response.json()["error"] == "service_unavailable"


async def test_open_makes_the_index_behind_its_alias(elastic) -> None:
    [index] = await elastic.index.current_indices()
    assert index == elastic.index.first_index_name
    aliases = (await elastic.index.client.indices.get_alias(name=elastic.index.alias)).body
    assert aliases[index]["aliases"][elastic.index.alias].get("is_write_index") is True
    mapping = (await elastic.index.client.indices.get_mapping(index=index)).body
    expected = index_definition()["mappings"]
    assert set(mapping[index]["mappings"]["properties"]) == set(expected["properties"])
    await elastic.open()  # a second start keeps what exists
    assert await elastic.index.current_indices() == [index]


async def test_search_reads_hits_of_the_callers_group(acme, globex, elastic, settle) -> None:
    own = await create_customer(acme.client, "Wendy", city="Malmö")
    await create_customer(acme.client, "Wendy Sleeping", active=False)
    await create_customer(globex.client, "Wendy Other")
    await settle()
    found = await search(acme.client, "wendy")
    assert [entry["id"] for entry in found] == [own["id"]]
    assert found[0]["city"] == "Malmö" and found[0]["score"] > 0
    assert len(await search(acme.client, "wendy", inactive="")) == 2


async def test_a_hit_deactivated_meanwhile_is_not_shown(client, elastic, settle) -> None:
    customer = await create_customer(client, "Wendy")
    await settle()
    await client.put(f"/api/1/customer/{customer['id']}", json={"active": False})
    # Not yet indexed: the engine still has it active, the database decides.
    assert await search(client, "wendy") == []


async def test_the_indexer_sends_the_current_customer_and_deletes_entries(
    app, client, elastic, settle
) -> None:
    customer = await create_customer(client, "Wendy", customerProjects=[{"name": "Barn"}])
    await client.put(f"/api/1/customer/{customer['id']}", json={"name": "Wendy Warner"})
    await settle()
    assert await _entries(app) == []
    document = await elastic.index.client.get(index=elastic.index.alias, id=str(customer["id"]))
    assert document["_version"] == 2  # its second change
    assert document["_source"]["name"] == "wendy warner"
    assert document["_source"]["projects"] == "barn"

    await client.delete(f"/api/1/customer/{customer['id']}")
    await settle()
    assert not await elastic.index.client.exists(index=elastic.index.alias, id=str(customer["id"]))
    assert await _entries(app) == []


async def test_a_replay_never_overwrites_newer_data(app, client, elastic, settle) -> None:
    customer = await create_customer(client, "Old")
    await elastic.index.client.index(
        index=elastic.index.alias,
        id=str(customer["id"]),
        document={"customer_id": customer["id"], "name": "newer"},
        version=7,
        version_type="external",
    )
    await settle()
    document = await elastic.index.client.get(index=elastic.index.alias, id=str(customer["id"]))
    assert (document["_version"], document["_source"]["name"]) == (7, "newer")
    assert await _entries(app) == []  # the conflict means "already newer": done


async def test_a_rebuild_builds_a_new_index_and_moves_the_alias(
    app, acme, client, elastic, settle
) -> None:
    first = await create_customer(client, "Wendy", customerProjects=[{"name": "Barn"}])
    await create_customer(client, "Warner")
    [old] = await elastic.index.current_indices()  # empty: nothing was drained

    progress = RecordedProgress()
    assert await elastic.rebuild(app.state.database, progress) == 2
    assert progress.total == progress.done == 2
    [new] = await elastic.index.current_indices()
    assert new != old and new.startswith(f"{elastic.index.alias}-")
    assert not await elastic.index.client.indices.exists(index=old)  # deleted once moved
    document = await elastic.index.client.get(index=new, id=str(first["id"]))
    assert document["_version"] == 1
    assert document["_source"] == {
        "customer_id": first["id"],
        "group_id": str(acme.group_id),
        "active": True,
        "name": "wendy",
        "number": "",
        "contact": "",
        "place": "",
        "projects": "barn",
        "notes": "",
    }
    await settle()
    assert sorted(await names(client, "wendy warner")) == ["Warner", "Wendy"]


async def test_refused_documents_wait_and_the_rest_go_through(app, client, elastic) -> None:
    refused = await create_customer(client, "Refused")
    accepted = await create_customer(client, "4711")
    await _refusing_names_that_are_no_numbers(elastic.index)

    indexer = Indexer(app.state.database, elastic.index)
    result = await indexer.run_once()
    assert (result.claimed, result.indexed, result.failed, result.error) == (2, 1, 1, None)
    [waiting] = await _entries(app)
    assert waiting.customer_id == refused["id"]
    assert (waiting.attempts, waiting.refusals, waiting.dead_since) == (1, 1, None)
    assert "status 400" in waiting.last_error
    assert await elastic.index.client.exists(index=elastic.index.alias, id=str(accepted["id"]))

    [index] = await elastic.index.current_indices()
    await elastic.index.client.indices.delete(index=index)
    await elastic.index.ensure()
    await _make_due(app)
    await indexer.drain()
    assert await _entries(app) == []
    assert await elastic.index.client.exists(index=elastic.index.alias, id=str(refused["id"]))
