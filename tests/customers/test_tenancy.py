"""Another group's customers are invisible: every route answers as for an id that does not exist."""


async def test_other_groups_customer_is_404_on_every_route(client, globex) -> None:
    theirs = (await globex.client.post("/api/1/customer", json={"name": "Theirs"})).json()
    for ref in (theirs["id"], theirs["uuid"]):
        assert (await client.get(f"/api/1/customer/{ref}")).status_code == 404
        assert (await client.delete(f"/api/1/customer/{ref}")).status_code == 404
    assert (
        await client.put(f"/api/1/customer/{theirs['id']}", json={"name": "x"})
    ).status_code == 404
    assert (await client.get("/api/1/customer?inactive")).status_code == 204
    # Untouched for its owner.
    fetched = await globex.client.get(f"/api/1/customer/{theirs['id']}")
    assert fetched.json()["name"] == "Theirs"


async def test_put_with_another_groups_uuid_creates_a_separate_customer(client, globex) -> None:
    theirs = (await globex.client.post("/api/1/customer", json={"name": "Theirs"})).json()
    mine = await client.put(f"/api/1/customer/{theirs['uuid']}", json={"name": "Mine"})
    assert mine.status_code == 200
    assert mine.json()["id"] != theirs["id"]
    assert (await globex.client.get(f"/api/1/customer/{theirs['uuid']}")).json()["name"] == "Theirs"
    assert (await client.get(f"/api/1/customer/{theirs['uuid']}")).json()["name"] == "Mine"


async def test_lists_are_scoped(client, globex) -> None:
    await client.post("/api/1/customer", json={"name": "Mine"})
    await globex.client.post("/api/1/customer", json={"name": "Theirs"})
    assert [c["name"] for c in (await client.get("/api/1/customer")).json()] == ["Mine"]
    assert [c["name"] for c in (await globex.client.get("/api/1/customer")).json()] == ["Theirs"]
