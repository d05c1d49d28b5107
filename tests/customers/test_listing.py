"""GET /api/1/customer: flags, paging, the modified filter, and the statement count."""

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest


async def make(client, name, **fields):
    response = await client.post("/api/1/customer", json={"name": name, **fields})
    assert response.status_code == 200
    return response.json()


async def names(client, query: str = "") -> list[str]:
    response = await client.get(f"/api/1/customer{query}")
    if response.status_code == 204:
        return []
    assert response.status_code == 200, response.text
    return [c["name"] for c in response.json()]


async def test_empty_list_is_204(client) -> None:
    response = await client.get("/api/1/customer")
    assert response.status_code == 204
    assert response.content == b""


async def test_list_is_in_id_order_without_documents(client) -> None:
    for name in ("B", "A", "C"):
        await make(client, name, customerProjects=[{"name": f"{name}-p"}])
    response = await client.get("/api/1/customer")
    body = response.json()
    assert [c["name"] for c in body] == ["B", "A", "C"]
    assert [c["id"] for c in body] == sorted(c["id"] for c in body)
    assert body[0]["customerProjects"][0]["name"] == "B-p"
    assert "documents" not in body[0]


@pytest.mark.parametrize(
    ("query", "included"),
    [
        ("", False),
        ("?inactive", True),
        ("?inactive=", True),
        ("?inactive=true", True),
        ("?inactive=yes", True),
        ("?inactive=false", False),
        ("?inactive=FALSE", False),
        ("?inactive=0", False),
    ],
)
async def test_inactive_flag(client, query: str, included: bool) -> None:
    await make(client, "on")
    await make(client, "off", active=False)
    expected = ["on", "off"] if included else ["on"]
    assert await names(client, query) == expected


async def test_limit_and_offset(client) -> None:
    for index in range(5):
        await make(client, f"c{index}")
    assert await names(client, "?limit=2") == ["c0", "c1"]
    assert await names(client, "?limit=2&offset=2") == ["c2", "c3"]
    assert await names(client, "?offset=4") == ["c4"]
    assert await names(client, "?offset=5") == []


@pytest.mark.parametrize(
    "query",
    [
        "?limit=-1",
        "?limit=abc",
        "?limit=1001",
        "?limit=99999999999999999999999999",
        "?offset=-5",
        "?offset=1e3",
        "?modified=yesterday",
        "?modified=2015-13-45",
        "?modified=99999999999999999999",
        "?modified=253402300800000",
        "?modified=0000000000000000000000000000000000000000000000000000000000000000",
    ],
)
async def test_bad_query_parameters_are_400(client, query: str) -> None:
    response = await client.get(f"/api/1/customer{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert body["error"] == "invalid_parameter"
    assert query[1:].split("=")[0] in body["message"]


async def test_modified_filter_accepts_date_iso_and_epoch_ms(client) -> None:
    old = await make(client, "old")
    await make(client, "new")
    # Make "old" really old: a date filter between the two must separate them.
    boundary_ms = old["modified"] + 1
    boundary = datetime.fromtimestamp(boundary_ms / 1000, tz=UTC)
    listed = await names(client, f"?modified={boundary_ms}")
    assert "old" not in listed
    assert await names(client, f"?modified={boundary_ms}.0") == listed  # a whole decimal
    assert (await client.get(f"/api/1/customer?modified={boundary_ms}.5")).status_code == 400
    iso = boundary.isoformat().replace("+00:00", "Z")
    assert "old" not in await names(client, f"?modified={iso}")
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    assert await names(client, f"?modified={yesterday}") == ["old", "new"]
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert await names(client, f"?modified={tomorrow}") == []


@pytest.mark.parametrize(
    "moment", ["0001-01-01T00:00:00+01:00", "0001-01-01", "-62135596800000", "1970-01-01T00:00Z"]
)
async def test_modified_at_the_start_of_the_calendar_lists_everyone(client, moment: str) -> None:
    await make(client, "any")
    assert await names(client, f"?modified={quote(moment)}") == ["any"]


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-01:00", "253402300799999"])
async def test_modified_at_the_end_of_the_calendar_lists_no_one(client, moment: str) -> None:
    await make(client, "any")
    response = await client.get("/api/1/customer", params={"modified": moment})
    assert response.status_code == 204


async def test_modified_filter_is_inclusive(client) -> None:
    created = await make(client, "exact")
    assert await names(client, f"?modified={created['modified']}") == ["exact"]


async def test_list_runs_the_same_number_of_statements_whatever_the_page(
    client, count_statements
) -> None:
    for index in range(30):
        await make(client, f"c{index}", customerProjects=[{"name": "a"}, {"name": "b"}])
    counts = []
    for limit in (1, 10, 30):
        with count_statements() as counter:
            response = await client.get(f"/api/1/customer?limit={limit}")
        assert len(response.json()) == limit
        counts.append(counter.count)
    assert counts == [1, 1, 1]  # the page with its projects; the key is known already
