"""Reconciling a customer's projects on PUT."""


async def make(client, projects):
    response = await client.post(
        "/api/1/customer", json={"name": "C", "customerProjects": projects}
    )
    assert response.status_code == 200
    return response.json()


async def put_projects(client, customer, projects):
    response = await client.put(
        f"/api/1/customer/{customer['id']}", json={"customerProjects": projects}
    )
    assert response.status_code == 200, response.text
    return response.json()["customerProjects"]


async def test_match_by_id_renames_and_keeps_identity(client) -> None:
    customer = await make(client, [{"name": "A"}, {"name": "B"}])
    a, b = customer["customerProjects"]
    projects = await put_projects(client, customer, [{"id": a["id"], "name": "A2"}, b])
    assert [(p["id"], p["name"]) for p in projects] == [(a["id"], "A2"), (b["id"], "B")]
    assert projects[0]["uuid"] == a["uuid"]


async def test_match_by_uuid_and_by_name(client) -> None:
    customer = await make(client, [{"name": "A"}, {"name": "B"}])
    a, b = customer["customerProjects"]
    projects = await put_projects(
        client, customer, [{"uuid": a["uuid"], "name": "A-renamed"}, {"name": "B", "active": False}]
    )
    assert projects[0]["id"] == a["id"] and projects[0]["name"] == "A-renamed"
    assert projects[1]["id"] == b["id"] and projects[1]["active"] is False


async def test_unlisted_projects_are_removed_and_new_ones_added(client) -> None:
    customer = await make(client, [{"name": "A"}, {"name": "B"}])
    a, _ = customer["customerProjects"]
    projects = await put_projects(client, customer, [{"name": "A"}, {"name": "C"}])
    assert [p["name"] for p in projects] == ["A", "C"]
    assert projects[0]["id"] == a["id"]
    fetched = await client.get(f"/api/1/customer/{customer['id']}")
    assert [p["name"] for p in fetched.json()["customerProjects"]] == ["A", "C"]


async def test_empty_list_removes_all_and_absent_list_keeps_all(client) -> None:
    customer = await make(client, [{"name": "A"}])
    kept = await client.put(f"/api/1/customer/{customer['id']}", json={"city": "X"})
    assert len(kept.json()["customerProjects"]) == 1
    assert await put_projects(client, customer, []) == []


async def test_foreign_project_id_is_refused(client) -> None:
    first = await make(client, [{"name": "A"}])
    second = await make(client, [{"name": "B"}])
    foreign = first["customerProjects"][0]["id"]
    response = await client.put(
        f"/api/1/customer/{second['id']}", json={"customerProjects": [{"id": foreign, "name": "A"}]}
    )
    assert response.status_code == 409
    assert "customerProjects[0].id" in response.json()["message"]


async def test_a_new_customer_cannot_claim_a_project_by_id(client) -> None:
    first = await make(client, [{"name": "A"}])
    claimed = first["customerProjects"][0]["id"]
    response = await client.post(
        "/api/1/customer",
        json={"name": "New", "customerProjects": [{"name": "A"}, {"id": claimed, "name": "A"}]},
    )
    assert response.status_code == 409
    assert "customerProjects[1].id" in response.json()["message"]
    assert len((await client.get("/api/1/customer")).json()) == 1  # nothing was created


async def test_project_listed_twice_is_refused(client) -> None:
    customer = await make(client, [{"name": "A"}])
    a = customer["customerProjects"][0]
    response = await client.put(
        f"/api/1/customer/{customer['id']}",
        json={"customerProjects": [{"id": a["id"], "name": "A"}, {"id": a["id"], "name": "B"}]},
    )
    assert response.status_code == 409


async def test_project_without_name_is_refused(client) -> None:
    response = await client.post(
        "/api/1/customer", json={"name": "C", "customerProjects": [{"active": True}]}
    )
    assert response.status_code == 406
    assert "customerProjects[0].name" in response.json()["message"]
