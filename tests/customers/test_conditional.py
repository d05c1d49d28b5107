"""ETags on /api/1 customers: 304 for a current copy, 412 for a write based on a stale one."""

import asyncio

import pytest

from tests.helpers import create_customer

CUSTOMERS = "/api/1/customer"


async def test_a_customer_carries_an_etag_and_a_current_copy_gets_304(client) -> None:
    customer = await create_customer(client, "Wendy")
    first = await client.get(f"/api/1/customer/{customer['id']}")
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    again = await client.get(f"/api/1/customer/{customer['uuid']}", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    weak = await client.get(
        f"/api/1/customer/{customer['id']}", headers={"If-None-Match": f"W/{etag}"}
    )
    assert weak.status_code == 304


async def test_the_etag_changes_with_what_the_customer_shows(client) -> None:
    customer = await create_customer(client, "Wendy", customerProjects=[{"name": "Barn"}])
    path = f"/api/1/customer/{customer['id']}"
    before = (await client.get(path)).headers["etag"]
    # A change of a project alone (the customer's own fields stay) is a change of the answer.
    projects = [{"id": customer["customerProjects"][0]["id"], "name": "Stable"}]
    put = await client.put(path, json={"customerProjects": projects})
    after = await client.get(path, headers={"If-None-Match": before})
    assert after.status_code == 200
    assert after.headers["etag"] != before
    assert put.headers["etag"] == after.headers["etag"]  # the write's answer is the new version


async def test_a_write_with_the_current_etag_succeeds_and_a_stale_one_gets_412(client) -> None:
    customer = await create_customer(client, "Wendy")
    path = f"/api/1/customer/{customer['id']}"
    etag = (await client.get(path)).headers["etag"]
    first = await client.put(path, json={"phone": "1"}, headers={"If-Match": etag})
    assert first.status_code == 200, first.text
    stale = await client.put(path, json={"phone": "2"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert stale.json() == {
        "success": False,
        "error": "precondition_failed",
        "message": stale.json()["message"],
    }
    assert (await client.get(path)).json()["phone"] == "1"
    assert (await client.delete(path, headers={"If-Match": etag})).status_code == 412
    current = first.headers["etag"]
    assert (await client.delete(path, headers={"If-Match": current})).status_code == 200


async def test_if_match_star_needs_an_existing_customer(client) -> None:
    missing = "/api/1/customer/0847ed17-b060-4599-a38c-be9a8b9cbb34"
    upsert = await client.put(missing, json={"name": "New"}, headers={"If-Match": "*"})
    assert upsert.status_code == 412
    assert (await client.get(missing)).status_code == 404
    customer = await create_customer(client, "Wendy")
    path = f"/api/1/customer/{customer['id']}"
    assert (
        await client.put(path, json={"phone": "3"}, headers={"If-Match": "*"})
    ).status_code == 200


async def test_without_if_match_writes_behave_as_before(client) -> None:
    customer = await create_customer(client, "Wendy")
    path = f"/api/1/customer/{customer['id']}"
    assert (await client.put(path, json={"phone": "4"})).status_code == 200
    assert (await client.delete(path)).status_code == 200


@pytest.mark.parametrize("writers", [2, 5])
async def test_concurrent_writes_with_the_same_etag_let_exactly_one_win(client, writers) -> None:
    customer = await create_customer(client, "Wendy")
    path = f"/api/1/customer/{customer['id']}"
    etag = (await client.get(path)).headers["etag"]
    answers = await asyncio.gather(
        *(
            client.put(path, json={"notes": f"writer {n}"}, headers={"If-Match": etag})
            for n in range(writers)
        )
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [412] * (writers - 1)
    [winner] = [a for a in answers if a.status_code == 200]
    assert (await client.get(path)).json()["notes"] == winner.json()["notes"]


async def test_a_missing_customer_is_404_whatever_if_match_says(client) -> None:
    for method in ("put", "delete"):
        kwargs = {"json": {"phone": "1"}} if method == "put" else {}
        answer = await getattr(client, method)(
            f"{CUSTOMERS}/999999", headers={"If-Match": '"abc"'}, **kwargs
        )
        assert answer.status_code == 404
