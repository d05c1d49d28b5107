"""Syncing safely with /api/1: changes by ``modified`` paged with the ``after`` cursor, and
deletions from ``/customer/deleted``, while another client writes and deletes."""

import asyncio
import random
import time

CUSTOMERS = "/api/1/customer"
# How far back each round looks again: longer than any write transaction takes to commit.
MARGIN_MS = 5000


async def test_deleted_customers_are_listed_as_tombstones(client, globex) -> None:
    before_ms = int(time.time() * 1000) - 1000
    assert (await client.get(f"{CUSTOMERS}/deleted")).status_code == 204
    kept = (await client.post(CUSTOMERS, json={"name": "Kept"})).json()
    gone = (await client.post(CUSTOMERS, json={"name": "Gone", "customerNumber": "C-9"})).json()
    assert (await client.delete(f"{CUSTOMERS}/{gone['id']}")).status_code == 200
    theirs = (await globex.client.post(CUSTOMERS, json={"name": "Theirs"})).json()
    await globex.client.delete(f"{CUSTOMERS}/{theirs['id']}")

    listed = await client.get(f"{CUSTOMERS}/deleted", params={"since": before_ms})
    assert listed.status_code == 200
    [tombstone] = listed.json()
    assert tombstone["id"] == gone["id"]
    assert tombstone["uuid"] == gone["uuid"]
    assert tombstone["customerNumber"] == "C-9"
    assert tombstone["deleted"] >= before_ms
    assert kept["id"] not in [t["id"] for t in listed.json()]
    later = await client.get(f"{CUSTOMERS}/deleted", params={"since": tombstone["deleted"] + 1})
    assert later.status_code == 204
    bad = await client.get(f"{CUSTOMERS}/deleted", params={"since": "yesterday"})
    assert bad.status_code == 400


async def test_the_after_cursor_pages_without_gaps_when_rows_go(client) -> None:
    ids = [(await client.post(CUSTOMERS, json={"name": f"C{n}"})).json()["id"] for n in range(6)]
    first = (await client.get(CUSTOMERS, params={"limit": 3})).json()
    await client.delete(f"{CUSTOMERS}/{ids[0]}")  # an offset would now skip one
    rest = (await client.get(CUSTOMERS, params={"limit": 3, "after": first[-1]["id"]})).json()
    assert [c["id"] for c in first + rest] == ids


async def sync_round(client, copy: dict[int, dict], since_ms: int | None) -> int:
    """One round of the documented protocol; the ``since`` of the next round."""
    next_since = int(time.time() * 1000) - MARGIN_MS
    params = {"inactive": "true", "limit": 7}
    if since_ms is not None:
        params["modified"] = since_ms
    after = 0
    while True:
        page = await client.get(CUSTOMERS, params={**params, "after": after})
        if page.status_code == 204:
            break
        for customer in page.json():
            copy[customer["id"]] = customer
        after = page.json()[-1]["id"]
        await asyncio.sleep(0)  # let the other client write between pages
    deleted = await client.get(f"{CUSTOMERS}/deleted", params={"since": since_ms or 0})
    for tombstone in deleted.json() if deleted.status_code == 200 else []:
        known = copy.get(tombstone["id"])
        if known is not None and known["modified"] <= tombstone["deleted"]:
            del copy[tombstone["id"]]
    return next_since


async def test_a_sync_that_pages_while_another_client_writes_ends_equal(client) -> None:
    rng = random.Random(7)
    for n in range(30):
        await client.post(CUSTOMERS, json={"name": f"Seed {n}", "active": n % 4 != 0})
    done = asyncio.Event()

    async def other_client() -> None:
        for n in range(60):
            everyone = (await client.get(CUSTOMERS, params={"inactive": "true"})).json()
            action = rng.choice(["create", "update", "delete"])
            if action == "create" or not everyone:
                await client.post(CUSTOMERS, json={"name": f"New {n}"})
            elif action == "update":
                target = rng.choice(everyone)["id"]
                await client.put(f"{CUSTOMERS}/{target}", json={"notes": f"edit {n}"})
            else:
                await client.delete(f"{CUSTOMERS}/{rng.choice(everyone)['id']}")
            await asyncio.sleep(0)
        done.set()

    async def syncing() -> dict[int, dict]:
        copy: dict[int, dict] = {}
        since = await sync_round(client, copy, None)
        while not done.is_set():
            since = await sync_round(client, copy, since)
        await sync_round(client, copy, since)  # once more, after the last write
        return copy

    _, copy = await asyncio.gather(other_client(), syncing())
    server = {c["id"]: c for c in (await client.get(CUSTOMERS, params={"inactive": "true"})).json()}
    assert copy == server
