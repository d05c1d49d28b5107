"""The route rule: a route visits only customers assigned to its user, and an assignment whose
customer and employee share a route can be neither moved nor deleted."""

import pytest

from tests.helpers import (
    V1,
    assert_error,
    assign,
    create_customer,
    make_route,
    make_user,
)

ASSIGNMENTS = f"{V1}/customerEmployees"
ROUTES = f"{V1}/routes"


@pytest.fixture
async def scene(client):
    """Anna serves C-1 and C-2, on route R-1 (C-1 only); Bert serves C-3; C-4 is unassigned."""
    anna = await make_user(client, "anna")
    bert = await make_user(client, "bert")
    customers = {
        ref: await create_customer(client, f"Customer {ref}", customerNumber=ref)
        for ref in ("C-1", "C-2", "C-3", "C-4")
    }
    assignments = {
        "C-1": await assign(client, anna["id"], customers["C-1"]["id"]),
        "C-2": await assign(client, anna["id"], customers["C-2"]["id"]),
        "C-3": await assign(client, bert["id"], customers["C-3"]["id"]),
    }
    route = await make_route(client, anna["id"], [customers["C-1"]["id"]], reference="R-1")
    return {
        "anna": anna,
        "bert": bert,
        "customers": customers,
        "assignments": assignments,
        "route": route,
    }


ON_ROUTE_DELETE = "Customer and employee are assigned to route"
ON_ROUTE_UPDATE = "the current customer and employee are assigned to route"


@pytest.mark.parametrize("address", ["id", "references"])
async def test_an_assignment_on_a_route_cannot_be_deleted(client, scene, address) -> None:
    assignment = scene["assignments"]["C-1"]
    url = (
        f"{ASSIGNMENTS}/{assignment['id']}"
        if address == "id"
        else f"{ASSIGNMENTS}/reference/C-1/anna"
    )
    assert_error(await client.delete(url), 400, "delete_not_authorized", ON_ROUTE_DELETE)
    assert (await client.get(url)).status_code == 200


@pytest.mark.parametrize("address", ["id", "references"])
@pytest.mark.parametrize("move", ["employee", "customer"])
async def test_an_assignment_on_a_route_cannot_be_moved(client, scene, address, move) -> None:
    assignment = scene["assignments"]["C-1"]
    url = (
        f"{ASSIGNMENTS}/{assignment['id']}"
        if address == "id"
        else f"{ASSIGNMENTS}/reference/C-1/anna"
    )
    body = (
        {"userId": "bert", "customerId": "C-1", "useExternalId": True}
        if move == "employee"
        else {"userId": "anna", "customerId": "C-4", "useExternalId": True}
    )
    assert_error(await client.put(url, json=body), 400, "update_not_authorized", ON_ROUTE_UPDATE)
    assert (await client.get(url)).json() == assignment


async def test_a_no_change_update_on_a_route_is_allowed(client, scene) -> None:
    assignment = scene["assignments"]["C-1"]
    response = await client.put(
        f"{ASSIGNMENTS}/{assignment['id']}",
        json={"userId": "anna", "customerId": "C-1", "useExternalId": True},
    )
    assert response.status_code == 201


async def test_assignments_off_the_route_move_and_delete_freely(client, scene) -> None:
    c2 = scene["assignments"]["C-2"]
    response = await client.put(
        f"{ASSIGNMENTS}/{c2['id']}",
        json={"userId": "bert", "customerId": "C-2", "useExternalId": True},
    )
    assert response.status_code == 201
    assert (await client.delete(f"{ASSIGNMENTS}/{c2['id']}")).status_code == 200


async def test_deleting_the_route_frees_the_pair(client, scene) -> None:
    assert (await client.delete(f"{ROUTES}/{scene['route']['id']}")).status_code == 200
    c1 = scene["assignments"]["C-1"]
    assert (await client.delete(f"{ASSIGNMENTS}/{c1['id']}")).status_code == 200


async def test_taking_the_customer_off_the_route_frees_the_pair(client, scene) -> None:
    route = scene["route"]
    response = await client.put(f"{ROUTES}/{route['id']}", json={"customerIds": []})
    assert response.status_code == 201
    c1 = scene["assignments"]["C-1"]
    assert (await client.delete(f"{ASSIGNMENTS}/{c1['id']}")).status_code == 200


@pytest.mark.parametrize(
    ("customer", "external"),
    [("C-3", False), ("C-3", True), ("C-4", False), ("C-4", True)],
)
async def test_a_route_may_only_visit_customers_assigned_to_its_user(
    client, scene, customer, external
) -> None:
    customer_id = customer if external else scene["customers"][customer]["id"]
    first = "C-1" if external else scene["customers"]["C-1"]["id"]
    user = "anna" if external else scene["anna"]["id"]
    body = {"name": "R", "userId": user, "customerIds": [first, customer_id]}
    if external:
        body["useExternalId"] = True
    response = await client.post(ROUTES, json=body)
    assert_error(
        response,
        400,
        "save_not_authorized",
        f"The customer {customer} is not assigned to the user anna.",
    )
    assert (await client.get(ROUTES)).json()["paging"]["total"] == 1
    update = await client.put(f"{ROUTES}/{scene['route']['id']}", json=body)
    assert_error(update, 400, "save_not_authorized")
    assert (await client.get(f"{ROUTES}/{scene['route']['id']}")).json() == scene["route"]


async def test_giving_a_route_to_another_user_needs_its_customers_assigned_to_them(
    client, scene
) -> None:
    route = scene["route"]
    response = await client.put(f"{ROUTES}/{route['id']}", json={"userId": scene["bert"]["id"]})
    assert_error(response, 400, "save_not_authorized")
    response = await client.put(
        f"{ROUTES}/{route['id']}",
        json={"userId": "bert", "customerIds": ["C-3"], "useExternalId": True},
    )
    assert response.status_code == 201, response.text
    # C-1 is free to move now; C-3 (bert's, on bert's route) is not.
    c1, c3 = scene["assignments"]["C-1"], scene["assignments"]["C-3"]
    assert (await client.delete(f"{ASSIGNMENTS}/{c1['id']}")).status_code == 200
    assert_error(await client.delete(f"{ASSIGNMENTS}/{c3['id']}"), 400, "delete_not_authorized")


async def test_deleting_a_customer_through_api_1_removes_its_stop_and_assignment(
    client, scene
) -> None:
    customer = scene["customers"]["C-1"]
    assert (await client.delete(f"/api/1/customer/{customer['id']}")).status_code == 200
    route = (await client.get(f"{ROUTES}/{scene['route']['id']}")).json()
    assert route["customerIds"] == []
    assert (
        await client.get(f"{ASSIGNMENTS}/{scene['assignments']['C-1']['id']}")
    ).status_code == 404


async def test_a_user_with_assignments_or_routes_cannot_be_deleted(client, scene) -> None:
    anna, bert = scene["anna"], scene["bert"]
    assert_error(
        await client.delete(f"{V1}/users/{anna['id']}"),
        400,
        "delete_not_authorized",
        "The user is assigned to customers",
    )
    # Bert loses his only customer: no assignment, no route, so he may go.
    await client.delete(f"{ASSIGNMENTS}/{scene['assignments']['C-3']['id']}")
    assert (await client.delete(f"{V1}/users/reference/bert")).json()["success"] == "true"
    assert (await client.get(f"{V1}/users/{bert['id']}")).status_code == 404


async def test_a_user_with_a_route_but_no_assignment_cannot_be_deleted(client) -> None:
    user = await make_user(client, "solo")
    await make_route(client, user["id"], [])
    assert_error(
        await client.delete(f"{V1}/users/{user['id']}"),
        400,
        "delete_not_authorized",
        "The user is assigned to routes",
    )


async def test_disabling_a_user_keeps_their_assignments(client, scene) -> None:
    response = await client.put(f"{V1}/users/{scene['anna']['id']}", json={"enabled": False})
    assert response.status_code == 201
    assert response.json()["enabled"] is False
    body = (await client.get(f"{ASSIGNMENTS}?employeeReference=anna")).json()
    assert body["paging"]["total"] == 2
