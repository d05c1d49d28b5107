"""Changes through /api/v1.0 (users, routes, customerEmployees) arrive as their events, with
the representation that family answers with."""

from customer_api.webhooks.dispatcher import Dispatcher
from tests.helpers import V1, Tenant, assign, create_customer, make_route, make_user
from tests.webhooks.helpers import subscribe, until
from tests.webhooks.receiver import Receiver


async def test_users_routes_and_assignments(
    acme: Tenant, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    hook = await subscribe(acme, receiver, channels=["user", "route", "customerEmployee"])
    client = acme.client
    customer = await create_customer(client, "Customer C-1", customerNumber="C-1")
    user = await make_user(client, "U-1", firstName="Ann")
    other = await make_user(client, "U-2")
    changed_user = (await client.put(f"{V1}/users/{user['id']}", json={"lastName": "Lee"})).json()
    assignment = await assign(client, user["id"], customer["id"])
    route = await make_route(client, user["id"], [customer["id"]])
    renamed = (await client.put(f"{V1}/routes/{route['id']}", json={"name": "North"})).json()
    assert (await client.delete(f"{V1}/routes/{route['id']}")).status_code == 200
    moved = await client.put(
        f"{V1}/customerEmployees/{assignment['id']}",
        json={"userId": other["id"], "customerId": customer["id"]},
    )
    assert moved.status_code == 201, moved.text
    assert (await client.delete(f"{V1}/customerEmployees/{assignment['id']}")).status_code == 200
    assert (await client.delete(f"{V1}/users/{user['id']}")).status_code == 200

    expected = [
        "user.created",
        "user.created",
        "user.updated",
        "customerEmployee.created",
        "route.created",
        "route.updated",
        "route.deleted",
        "customerEmployee.updated",
        "customerEmployee.deleted",
        "user.deleted",
    ]
    await until(lambda: len(receiver.accepted()) >= len(expected), dispatcher)
    await dispatcher.drain()
    payloads = receiver.verified(hook["secret"])
    assert sorted(p["type"] for p in payloads) == sorted(expected)
    data = {}
    for payload in payloads:  # different resources may arrive in any order
        data.setdefault(payload["type"], []).append(payload["data"])
    for items in data.values():
        items.sort(key=lambda item: item["id"])
    assert data["user.created"] == [user, other]
    assert data["user.updated"] == [changed_user]
    assert data["customerEmployee.created"] == [assignment]
    assert data["customerEmployee.updated"] == [moved.json()]
    assert data["route.created"] == [route]
    assert data["route.updated"] == [renamed]
    assert data["route.deleted"] == [{"id": route["id"], "reference": route["reference"]}]
    assert data["user.deleted"] == [{"id": user["id"], "reference": "U-1"}]
    assert data["customerEmployee.deleted"] == [{"id": assignment["id"], "reference": "C-1/U-2"}]
    user_events = [
        p["type"]
        for p in payloads
        if p["type"].startswith("user.") and p["data"]["id"] == user["id"]
    ]
    assert user_events == ["user.created", "user.updated", "user.deleted"]


async def test_a_deleted_customer_takes_its_assignment_and_route_stops_along(
    acme: Tenant, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    client = acme.client
    gone, kept, other = [
        await create_customer(client, f"Customer C-{n}", customerNumber=f"C-{n}") for n in (1, 2, 3)
    ]
    user = await make_user(client, "U-1")
    assignment = await assign(client, user["id"], gone["id"])
    untouched = await assign(client, user["id"], kept["id"])
    await assign(client, user["id"], other["id"])
    north = await make_route(client, user["id"], [kept["id"], gone["id"], other["id"]])
    south = await make_route(client, user["id"], [gone["id"]], name="South")
    elsewhere = await make_route(client, user["id"], [kept["id"]], name="West")
    hook = await subscribe(acme, receiver, channels=["customer", "route", "customerEmployee"])

    assert (await client.delete(f"/api/1/customer/{gone['id']}")).status_code == 200

    await until(lambda: len(receiver.accepted()) >= 4, dispatcher)
    await dispatcher.drain()
    payloads = receiver.verified(hook["secret"])
    assert sorted(p["type"] for p in payloads) == [
        "customer.deleted",
        "customerEmployee.deleted",
        "route.updated",
        "route.updated",
    ]
    data = {}
    for payload in payloads:
        data.setdefault(payload["type"], []).append(payload["data"])
    assert data["customerEmployee.deleted"] == [{"id": assignment["id"], "reference": "C-1/U-1"}]
    routes = sorted(data["route.updated"], key=lambda route: route["id"])
    assert routes == [(await client.get(f"{V1}/routes/{r['id']}")).json() for r in (north, south)]
    assert [route["customerIds"] for route in routes] == [[kept["id"], other["id"]], []]
    assert routes[0]["lastUpdated"] >= north["lastUpdated"]
    assert (await client.get(f"{V1}/routes/{elsewhere['id']}")).json() == elsewhere
    assert (await client.get(f"{V1}/customerEmployees/{untouched['id']}")).json() == untouched
