"""/api/v1.0/routes: create, show, list, update and delete, by id and by reference."""

import pytest

from tests.helpers import (
    V1,
    assert_error,
    assign,
    create_customer,
    make_route,
    make_user,
)

ROUTES = f"{V1}/routes"
DELETED = {"success": "true", "success_description": "Instance deleted successfully"}


@pytest.fixture
async def driver(client):
    """User D-1 serving C-1, C-2 and C-3."""
    user = await make_user(client, "D-1")
    customers = []
    for reference in ("C-1", "C-2", "C-3"):
        customer = await create_customer(client, f"Customer {reference}", customerNumber=reference)
        await assign(client, user["id"], customer["id"])
        customers.append(customer)
    return user, customers


async def test_create_keeps_the_order_of_the_stops(client, driver) -> None:
    user, customers = driver
    order = [customers[2]["id"], customers[0]["id"], customers[1]["id"]]
    route = await make_route(client, user["id"], order, reference="R-7", name="Monday")
    assert route["customerIds"] == order
    assert [c["reference"] for c in route["customers"]] == ["C-3", "C-1", "C-2"]
    assert route["customers"][0] == {
        "id": customers[2]["id"],
        "reference": "C-3",
        "name": "Customer C-3",
        "href": f"/api/v1.0/customers/{customers[2]['id']}",
    }
    assert route["userId"] == user["id"]
    assert route["user"] == {
        "id": user["id"],
        "reference": "D-1",
        "href": f"/api/v1.0/users/{user['id']}",
    }
    assert route["reference"] == "R-7"
    assert route["name"] == "Monday"
    assert (await client.get(f"{ROUTES}/{route['id']}")).json() == route
    assert (await client.get(f"{ROUTES}/reference/R-7")).json() == route


async def test_create_with_external_ids(client, driver) -> None:
    response = await client.post(
        ROUTES,
        json={
            "name": "Tuesday",
            "userId": "D-1",
            "customerIds": ["C-2", "C-1"],
            "useExternalId": "true",
        },
    )
    assert response.status_code == 201, response.text
    assert [c["reference"] for c in response.json()["customers"]] == ["C-2", "C-1"]


async def test_update_replaces_the_stops_and_keeps_what_is_left_out(client, driver) -> None:
    user, customers = driver
    route = await make_route(client, user["id"], [customers[0]["id"]], reference="R-1")
    url = f"{ROUTES}/reference/R-1"
    response = await client.put(url, json={"customerIds": ["C-3", "C-1"], "useExternalId": True})
    assert response.status_code == 201, response.text
    body = response.json()
    assert [c["reference"] for c in body["customers"]] == ["C-3", "C-1"]
    assert body["name"] == route["name"] and body["reference"] == "R-1"
    response = await client.put(
        f"{ROUTES}/{route['id']}", json={"name": "Renamed", "reference": None}
    )
    assert response.status_code == 201
    assert response.json()["name"] == "Renamed"
    assert response.json()["reference"] is None
    assert response.json()["customerIds"] == body["customerIds"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"userId": 1, "customerIds": []}, 400, "missing_param"),
        ({"name": "R", "customerIds": []}, 400, "missing_param"),
        ({"name": None, "userId": 1}, 400, "missing_param"),
        ({"name": "R", "userId": 1, "customerIds": "C-1"}, 400, "invalid_param_type"),
        ({"name": "R", "userId": 1, "customerIds": [1.5]}, 400, "invalid_param_type"),
        ({"name": "R", "userId": 1, "customerIds": [None]}, 400, "invalid_param_type"),
        ({"name": "R", "userId": 1, "customerIds": ["C-1"]}, 400, "invalid_param_type"),
        ({"name": "R", "userId": 1, "customerIds": list(range(1001))}, 400, "invalid_param"),
        ({"name": "", "userId": 1}, 400, "invalid_param"),
        ({"name": "R", "userId": 1, "color": "red"}, 400, "invalid_param"),
        ({"name": "R", "userId": 999}, 404, "not_found"),
        ({"name": "R", "userId": 1, "customerIds": [99999999999999999999]}, 404, "not_found"),
        ({"name": "R", "userId": 1, "customerIds": [424242]}, 404, "not_found"),
    ],
)
async def test_invalid_routes(client, driver, body, status, code) -> None:
    user, _ = driver
    if body.get("userId") == 1:
        body = {**body, "userId": user["id"]}
    assert_error(await client.post(ROUTES, json=body), status, code)


async def test_a_customer_is_visited_once_per_route(client, driver) -> None:
    user, customers = driver
    for ids, external in (
        ([customers[0]["id"], customers[0]["id"]], False),
        (["C-1", "C-1"], True),
    ):
        response = await client.post(
            ROUTES,
            json={
                "name": "R",
                "userId": "D-1" if external else user["id"],
                "customerIds": ids,
                "useExternalId": external,
            },
        )
        assert_error(response, 400, "invalid_param")


async def test_route_reference_is_unique_in_the_group(client, driver, globex) -> None:
    user, _ = driver
    await make_route(client, user["id"], [], reference="R-1")
    response = await client.post(
        ROUTES, json={"name": "x", "userId": user["id"], "reference": "R-1"}
    )
    assert_error(response, 400, "not_unique", "reference already used")
    other = await make_route(client, user["id"], [], reference="R-2")
    assert_error(
        await client.put(f"{ROUTES}/{other['id']}", json={"reference": "R-1"}), 400, "not_unique"
    )
    # Another group may use the same reference.
    their_user = await make_user(globex.client, "D-1")
    await make_route(globex.client, their_user["id"], [], reference="R-1")


@pytest.mark.parametrize("address", ["id", "reference"])
async def test_delete(client, driver, address) -> None:
    user, customers = driver
    route = await make_route(client, user["id"], [customers[0]["id"]], reference="R-9")
    url = f"{ROUTES}/{route['id']}" if address == "id" else f"{ROUTES}/reference/R-9"
    response = await client.delete(url)
    assert response.status_code == 200
    assert response.json() == DELETED
    assert_error(await client.get(url), 404, "not_found")


async def test_not_found_sentences(client) -> None:
    assert_error(
        await client.get(f"{ROUTES}/77"),
        404,
        "not_found",
        "The route with the id 77 doesn't exist.",
    )
    assert_error(
        await client.get(f"{ROUTES}/reference/R-77"),
        404,
        "not_found",
        "The route with the reference R-77 doesn't exist.",
    )
    assert_error(await client.get(f"{ROUTES}/x"), 400, "invalid_param_type")


async def test_list_sort_filter_and_statement_count(client, driver, count_statements) -> None:
    user, customers = driver
    ids = [c["id"] for c in customers]
    for index, name in enumerate(("Wed", "Mon", "Tue", "Mon 2")):
        await make_route(
            client, user["id"], ids[: index % 3 + 1], reference=f"R-{index}", name=name
        )
    body = (await client.get(f"{ROUTES}?sort=name")).json()
    assert [r["name"] for r in body["data"]] == ["Mon", "Mon 2", "Tue", "Wed"]
    body = (await client.get(f"{ROUTES}?name=Mon*&sort=reference&order=desc")).json()
    assert [r["reference"] for r in body["data"]] == ["R-3", "R-1"]
    assert (await client.get(f"{ROUTES}?reference=R-2")).json()["data"][0]["name"] == "Tue"
    counts = []
    for max_ in (1, 2, 4):
        with count_statements() as counter:
            body = (await client.get(f"{ROUTES}?max={max_}")).json()
        assert len(body["data"]) == max_
        counts.append(counter.count)
    assert counts == [3, 3, 3]  # the count, the page, and the stops of the page
    assert counts[0] <= 4  # the key, the count, the page with users, the stops with customers
    assert_error(await client.get(f"{ROUTES}?sort=customerReference"), 400, "invalid_param")
