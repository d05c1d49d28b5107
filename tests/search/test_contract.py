"""The search contract, identical on every backend: SQLite FTS5 and Postgres (whichever database
the run has), and Elasticsearch's API on a real engine (osmem-server, or the Elasticsearch that
CUSTOMER_API_TEST_ELASTICSEARCH_URL names; see conftest.py).

Against Elasticsearch the real indexer drains the outbox after each change (``settle``), as the
in-process indexer of ``serve`` would a moment later.
"""

from uuid import uuid4

import pytest

from customer_api.config import Settings
from customer_api.search.elastic import ElasticBackend
from customer_api.search.indexer import Indexer
from tests.helpers import create_customer
from tests.search.helpers import SEARCH, RecordedProgress, names, search


@pytest.fixture(params=["database", "elasticsearch"])
def search_engine(request: pytest.FixtureRequest) -> str | None:
    """None for the database's own search, else the URL of a real engine."""
    if request.param == "database":
        return None
    return request.getfixturevalue("elasticsearch_url")


@pytest.fixture
def settings(settings: Settings, search_engine: str | None) -> Settings:
    """The database's own search, or Elasticsearch under an index alias of this test's own."""
    index = f"test-customers-{uuid4().hex}" if search_engine else settings.elasticsearch_index
    return settings.model_copy(
        update={
            "elasticsearch_url": search_engine,
            "elasticsearch_index": index,
            "indexer_in_process": False,
            # The key stays cached through a test, however slow the machine: a key lookup
            # falling between two counted searches would make their statement counts differ.
            "key_cache_seconds": 60,
        }
    )


@pytest.fixture
async def settle(app):
    """Wait until search reflects every change so far (immediate for database search)."""
    backend = app.state.search

    async def wait() -> None:
        if isinstance(backend, ElasticBackend):
            await Indexer(app.state.database, backend.index).drain()
            await backend.index.refresh()

    yield wait
    if isinstance(backend, ElasticBackend):
        await backend.index.delete_indices(await backend.index.current_indices())


async def test_q_is_required_and_not_blank(client, settle) -> None:
    for params in ({}, {"q": ""}, {"q": "   "}):
        response = await client.get(SEARCH, params=params)
        assert response.status_code == 400, params
        body = response.json()
        assert body["success"] is False and body["error"] == "invalid_parameter"
        assert body["message"].startswith("q")


async def test_needs_a_key(anonymous, settle) -> None:
    assert (await anonymous.get(SEARCH, params={"q": "x"})).status_code == 401


async def test_entries_have_the_search_entry_fields(client, settle) -> None:
    created = await create_customer(
        client,
        "Wendy Warner",
        customerNumber="C-1",
        address="Storgatan 1",
        city="Malmö",
        notes="not shown",
    )
    await settle()
    [entry] = await search(client, "wendy")
    assert set(entry) == {
        "id",
        "uuid",
        "name",
        "customerNumber",
        "address",
        "city",
        "active",
        "score",
    }
    assert entry["id"] == created["id"] and entry["uuid"] == created["uuid"]
    assert (entry["customerNumber"], entry["address"], entry["city"]) == (
        "C-1",
        "Storgatan 1",
        "Malmö",
    )
    assert entry["active"] is True and entry["score"] > 0


async def test_whole_words_case_insensitive(client, settle) -> None:
    await create_customer(client, "Wendy Warner")
    await settle()
    assert await names(client, "WENDY") == ["Wendy Warner"]
    assert await names(client, "wArNeR") == ["Wendy Warner"]
    assert await names(client, "endy") == []  # inside a word is no match
    assert await names(client, "wendyx") == []


async def test_the_last_term_is_also_a_prefix(client, settle) -> None:
    await create_customer(client, "Horse Stables")
    await create_customer(client, "Carl Horsington")
    await settle()
    assert sorted(await names(client, "hor")) == ["Carl Horsington", "Horse Stables"]
    assert await names(client, "stab") == ["Horse Stables"]
    # Only the last term: an earlier one must be a whole word.
    assert await names(client, "hor nothing") == []
    assert await names(client, "horse nothing") == ["Horse Stables"]


async def test_terms_are_ored(client, settle) -> None:
    await create_customer(client, "Wendy Warner")
    await create_customer(client, "Horse Stables")
    await create_customer(client, "Someone Else")
    await settle()
    assert sorted(await names(client, "wendy stables")) == ["Horse Stables", "Wendy Warner"]


async def test_words_typed_together_are_a_phrase(client, settle) -> None:
    await create_customer(client, "Number Owner", customerNumber="C-0004711")
    await create_customer(client, "Other Number", customerNumber="C-0004712")
    await create_customer(client, "Reversed", notes="0004711 c")
    await settle()
    assert await names(client, "C-0004711") == ["Number Owner"]
    assert await names(client, "c-000471 x") == []  # a phrase's words are whole words...
    # ...except the last word typed, which may be the start of a word.
    assert sorted(await names(client, "x c-00047")) == ["Number Owner", "Other Number"]
    assert await names(client, "owner.other") == []  # ...and never span two fields


async def test_matching_more_terms_ranks_higher(client, settle) -> None:
    await create_customer(client, "Anna Svensson")
    await create_customer(client, "Anna Johansson")
    await settle()
    assert await names(client, "anna johansson") == ["Anna Johansson", "Anna Svensson"]


async def test_every_searched_field(client, settle) -> None:
    await create_customer(
        client,
        "Field Test",
        customerNumber="K-77",
        email="wendy.warner@example.org",
        phone="+46 8 123 456",
        mobile="070-999 88 77",
        address="Storgatan 12",
        postalCode="211 22",
        city="Malmö",
        notes="Gate code 4711, beware of the dog",
        customerProjects=[{"name": "Floor installation"}],
    )
    await settle()
    for q in (
        "field",
        "K-77",
        "example",
        "wendy.warner@example.org",
        "123",
        "999",
        "storgatan",
        "211",
        "malmö",
        "installation",
        "dog",
        "4711",
    ):
        assert await names(client, q) == ["Field Test"], q


async def test_fields_not_searched(client, settle) -> None:
    await create_customer(
        client, "Plain", country="Sweden", organization="Umbrella", organizationNumber="55"
    )
    await settle()
    assert await names(client, "sweden") == []
    assert await names(client, "umbrella") == []


async def test_a_name_hit_ranks_above_a_notes_hit(client, settle) -> None:
    await create_customer(client, "Someone", notes="plumbing work in the basement")
    await create_customer(client, "Plumbing Partners")
    await settle()
    assert await names(client, "plumbing") == ["Plumbing Partners", "Someone"]


async def test_field_weights_order_the_results(client, settle) -> None:
    await create_customer(client, "Notes Hit", notes="zebra")
    await create_customer(client, "City Hit", city="Zebra")
    await create_customer(client, "Email Hit", email="zebra@example.org")
    await create_customer(client, "Zebra")
    await settle()
    found = await search(client, "zebra")
    assert [entry["name"] for entry in found] == ["Zebra", "Email Hit", "City Hit", "Notes Hit"]
    scores = [entry["score"] for entry in found]
    assert scores == sorted(scores, reverse=True)


async def test_customer_number_weighs_like_the_name(client, settle) -> None:
    await create_customer(client, "In Notes", notes="A100")
    await create_customer(client, "By Number", customerNumber="A100")
    await settle()
    assert await names(client, "a100") == ["By Number", "In Notes"]


async def test_inactive_only_with_the_flag(client, settle) -> None:
    await create_customer(client, "Active Horse")
    await create_customer(client, "Sleeping Horse", active=False)
    await settle()
    assert await names(client, "horse") == ["Active Horse"]
    assert await names(client, "horse", inactive="false") == ["Active Horse"]
    assert await names(client, "horse", inactive="0") == ["Active Horse"]
    for flag in ("", "true", "1"):
        assert sorted(await names(client, "horse", inactive=flag)) == [
            "Active Horse",
            "Sleeping Horse",
        ]
    found = await search(client, "sleeping", inactive="")
    assert [entry["active"] for entry in found] == [False]


async def test_other_groups_never_appear(acme, globex, settle) -> None:
    await create_customer(acme.client, "Shared Name", notes="acme")
    await create_customer(globex.client, "Shared Name", notes="globex")
    await create_customer(globex.client, "Globex Only")
    await settle()
    acme_found = await search(acme.client, "shared globex only")
    assert [(entry["name"]) for entry in acme_found] == ["Shared Name"]
    globex_found = await search(globex.client, "shared")
    assert len(globex_found) == 1 and globex_found[0]["id"] != acme_found[0]["id"]
    # The group's token in the SQLite index cannot be typed to reach another group either.
    assert await names(acme.client, f"g{globex.group_id}") == []


async def test_limit(client, settle) -> None:
    for number in range(55):
        await create_customer(client, f"Limit {number}")
    await settle()
    assert len(await search(client, "limit")) == 50
    assert len(await search(client, "limit", limit=3)) == 3
    assert len(await search(client, "limit", limit=1000)) == 55
    for bad in ("1001", "-1", "many"):
        response = await client.get(SEARCH, params={"q": "limit", "limit": bad})
        assert response.status_code == 400
        assert "limit" in response.json()["message"]


async def test_changes_show_up(client, settle) -> None:
    customer = await create_customer(client, "Old Name", customerProjects=[{"name": "Greenhouse"}])
    await settle()
    assert await names(client, "greenhouse") == ["Old Name"]

    await client.put(f"/api/1/customer/{customer['id']}", json={"name": "New Name"})
    await settle()
    assert await names(client, "old") == []
    assert await names(client, "new") == ["New Name"]
    assert await names(client, "greenhouse") == ["New Name"]

    # Project names are searched: reconciling the projects re-indexes the customer.
    await client.put(
        f"/api/1/customer/{customer['id']}", json={"customerProjects": [{"name": "Orangery"}]}
    )
    await settle()
    assert await names(client, "greenhouse") == []
    assert await names(client, "orangery") == ["New Name"]

    await client.put(f"/api/1/customer/{customer['id']}", json={"active": False})
    await settle()
    assert await names(client, "new") == []
    assert await names(client, "new", inactive="") == ["New Name"]

    assert (await client.delete(f"/api/1/customer/{customer['id']}")).status_code == 200
    await settle()
    assert await names(client, "new", inactive="") == []


async def test_created_by_put_to_a_new_uuid(client, settle) -> None:
    response = await client.put(f"/api/1/customer/{uuid4()}", json={"name": "Upserted"})
    assert response.status_code == 200
    await settle()
    assert await names(client, "upserted") == ["Upserted"]


async def test_unicode_words(client, settle) -> None:
    await create_customer(client, "Café Åsa", city="Straße", notes="日本 ok")
    await settle()
    assert await names(client, "CAFÉ") == ["Café Åsa"]
    assert await names(client, "åsa") == ["Café Åsa"]
    assert await names(client, "strasse") == ["Café Åsa"]  # case folding: ß is ss
    assert await names(client, "日本") == ["Café Åsa"]
    assert await names(client, "cafe") == []  # accents are part of the word


async def test_a_rebuild_keeps_the_results(app, client, settle) -> None:
    await create_customer(client, "Wendy Warner", customerProjects=[{"name": "Barn"}])
    await create_customer(client, "Horse Stables", active=False)
    await settle()
    before = await search(client, "wendy barn hor", inactive="")

    progress = RecordedProgress()
    assert await app.state.search.rebuild(app.state.database, progress) == 2
    assert progress.total == progress.done == 2
    await settle()
    after = await search(client, "wendy barn hor", inactive="")
    assert [entry["id"] for entry in after] == [entry["id"] for entry in before]
    assert len(after) == 2


HOSTILE = [
    '"',
    "'",
    '"wendy',
    "wendy'",
    "name:wendy",
    "{name}:wendy",
    "-name:wendy",
    "(",
    ")",
    "(wendy",
    "wendy OR",
    "AND",
    "NOT wendy",
    "NEAR(wendy warner)",
    "wendy*",
    "*",
    "^wendy",
    "wendy:*",
    "!",
    "&",
    "|",
    "\\",
    "%",
    "_",
    "wendy & | !",
    "\x00",
    "wendy\x00",
    "😀",
    "wendy 😀",
    "\u200b",
    "'; DROP TABLE customers; --",
    "x" * 500,
    "w" * 200,
    "a\u0301",
    " ".join(f"w{i}" for i in range(32)),
    "-".join(["wendy"] * 83),  # one phrase of 83 words (499 characters)
    ".".join(f"w{i % 32}" for i in range(120)),
    "x" * 64 + "." + "y" * 400,
]


@pytest.mark.parametrize("q", HOSTILE, ids=range(len(HOSTILE)))
async def test_any_text_is_safe(client, settle, q: str) -> None:
    await create_customer(client, "Wendy Warner")
    await settle()
    response = await client.get(SEARCH, params={"q": q})
    assert response.status_code in (200, 204), response.text


async def test_query_syntax_is_taken_as_words(client, settle) -> None:
    await create_customer(client, "Wendy Warner")
    await create_customer(client, "Name Holder")
    await settle()
    assert await names(client, "wendy:*") == ["Wendy Warner"]
    assert await names(client, "(wendy") == ["Wendy Warner"]
    # Words typed together are a phrase, not a field filter: "name wendy" is nowhere.
    assert await names(client, "name:wendy") == []
    assert await names(client, "name:holder") == ["Name Holder"]
    assert await names(client, "NOT wendy") == ["Wendy Warner"]  # "not" is just a word
    assert await names(client, "!!! ((( ***") == []


@pytest.mark.parametrize(
    "q", ["x" * 501, " ".join(f"w{i}" for i in range(33))], ids=["too-long", "too-many-words"]
)
async def test_oversized_queries_are_refused(client, settle, q: str) -> None:
    response = await client.get(SEARCH, params={"q": q})
    assert response.status_code == 400
    assert response.json()["message"].startswith("q")


async def test_search_is_not_a_customer_id(client, settle) -> None:
    await create_customer(client, "Wendy")
    await settle()
    assert (await client.get("/api/1/customer/search", params={"q": "wendy"})).status_code == 200
    # /customer/search answers GET only: a PUT is told so, never taken for a customer's id.
    put = await client.put("/api/1/customer/search", json={"name": "x"})
    assert put.status_code == 405
    assert put.headers["allow"] == "GET"


async def test_constant_statements_whatever_the_result_size(client, settle, count_statements):
    for number in range(20):
        await create_customer(client, f"Count {number}", customerProjects=[{"name": "P"}])
    await settle()
    with count_statements() as few:
        assert len(await search(client, "count", limit=2)) == 2
    with count_statements() as many:
        assert len(await search(client, "count", limit=20)) == 20
    assert few.count == many.count
