"""What every endpoint of /api/v1.0 keeps true: the key, the error body, tenancy, and no 500
whatever a client sends."""

import pytest

from tests.helpers import (
    V1,
    assert_error,
    assign,
    create_customer,
    make_route,
    make_user,
)

ENDPOINTS = [
    ("GET", "/customerEmployees"),
    ("POST", "/customerEmployees"),
    ("GET", "/customerEmployees/1"),
    ("PUT", "/customerEmployees/1"),
    ("DELETE", "/customerEmployees/1"),
    ("GET", "/customerEmployees/reference/C/U"),
    ("PUT", "/customerEmployees/reference/C/U"),
    ("DELETE", "/customerEmployees/reference/C/U"),
    ("GET", "/users"),
    ("POST", "/users"),
    ("GET", "/users/1"),
    ("PUT", "/users/1"),
    ("DELETE", "/users/1"),
    ("GET", "/users/reference/U"),
    ("PUT", "/users/reference/U"),
    ("DELETE", "/users/reference/U"),
    ("GET", "/customers"),
    ("GET", "/customers/1"),
    ("GET", "/customers/reference/C"),
    ("GET", "/routes"),
    ("POST", "/routes"),
    ("GET", "/routes/1"),
    ("PUT", "/routes/1"),
    ("DELETE", "/routes/1"),
    ("GET", "/routes/reference/R"),
    ("PUT", "/routes/reference/R"),
    ("DELETE", "/routes/reference/R"),
]


@pytest.mark.parametrize(
    "headers", [{}, {"API-Key": "cak_not-a-key"}, {"Authorization": "Bearer nope"}]
)
async def test_no_key_or_a_bad_key_is_401_in_the_family_shape(anonymous, headers) -> None:
    for method, path in ENDPOINTS:
        response = await anonymous.request(method, f"{V1}{path}", headers=headers, json={})
        assert_error(response, 401, "unauthorized")


async def test_unknown_routes_and_methods_in_the_family_shape(client) -> None:
    assert_error(await client.get(f"{V1}/nothing"), 404, "not_found")
    assert_error(await client.get(f"{V1}/customerEmployees/1/2"), 404, "not_found")
    assert_error(await client.get(f"{V1}/customerEmployees/reference/only-one"), 404, "not_found")
    assert_error(
        await client.patch(f"{V1}/customerEmployees/1", json={}), 405, "method_not_allowed"
    )
    assert_error(await client.post(f"{V1}/customerEmployees/1", json={}), 405, "method_not_allowed")
    assert_error(await client.delete(f"{V1}/customerEmployees"), 405, "method_not_allowed")


async def test_the_other_family_keeps_its_own_shape(client) -> None:
    body = (await client.get("/api/1/customer/abc")).json()
    assert body["success"] is False and "error_description" not in body


@pytest.fixture
async def theirs(globex):
    """Globex's user, customer, assignment and route."""
    user = await make_user(globex.client, "U-1")
    customer = await create_customer(globex.client, "Customer C-1", customerNumber="C-1")
    assignment = await assign(globex.client, user["id"], customer["id"])
    route = await make_route(globex.client, user["id"], [customer["id"]], reference="R-1")
    return {"user": user, "customer": customer, "assignment": assignment, "route": route}


async def test_other_groups_rows_are_invisible(client, theirs) -> None:
    assignment, user, customer, route = (
        theirs["assignment"],
        theirs["user"],
        theirs["customer"],
        theirs["route"],
    )
    for method in ("GET", "PUT", "DELETE"):
        body = {"userId": user["id"], "customerId": customer["id"]}
        for url, what, key in (
            (f"/customerEmployees/{assignment['id']}", "customer employee", assignment["id"]),
            (f"/users/{user['id']}", "user", user["id"]),
            (f"/routes/{route['id']}", "route", route["id"]),
        ):
            response = await client.request(method, f"{V1}{url}", json=body)
            assert_error(response, 404, "not_found", f"The {what} with the id {key} doesn't exist.")
        for url in (
            "/customerEmployees/reference/C-1/U-1",
            "/users/reference/U-1",
            "/routes/reference/R-1",
        ):
            assert_error(await client.request(method, f"{V1}{url}", json=body), 404, "not_found")
    assert_error(await client.get(f"{V1}/customers/{customer['id']}"), 404, "not_found")
    assert_error(await client.get(f"{V1}/customers/reference/C-1"), 404, "not_found")
    for path in ("/customerEmployees", "/users", "/customers", "/routes"):
        assert (await client.get(f"{V1}{path}")).json()["paging"]["total"] == 0


async def test_other_groups_users_and_customers_cannot_be_used(client, theirs) -> None:
    mine_user = await make_user(client, "U-1")
    mine_customer = await create_customer(client, "Customer C-1", customerNumber="C-1")
    for body in (
        {"userId": theirs["user"]["id"], "customerId": mine_customer["id"]},
        {"userId": mine_user["id"], "customerId": theirs["customer"]["id"]},
    ):
        assert_error(await client.post(f"{V1}/customerEmployees", json=body), 404, "not_found")
    # The same references in my group are mine only.
    response = await client.post(
        f"{V1}/customerEmployees",
        json={"userId": "U-1", "customerId": "C-1", "useExternalId": True},
    )
    assert response.status_code == 201
    assert response.json()["customer"]["id"] == mine_customer["id"]
    mine = await make_route(client, mine_user["id"], [mine_customer["id"]])
    update = await client.put(
        f"{V1}/routes/{mine['id']}", json={"customerIds": [theirs["customer"]["id"]]}
    )
    assert_error(update, 404, "not_found")


HOSTILE_BODIES = [
    b"{",
    b"[]",
    b"null",
    b'{"userId": 99999999999999999999, "customerId": 99999999999999999999}',
    b'{"userId": -99999999999999999999, "customerId": 1}',
    b'{"userId": "99999999999999999999", "customerId": "1"}',
    b'{"userId": 1e999, "customerId": 1}',
    b'{"userId": "\\u0000", "customerId": 1, "useExternalId": true}',
    b'{"reference": "\\ud800", "name": "x", "userId": 1}',
    b'{"userId": {"$gt": 1}, "customerId": 1}',
    b'{"customerIds": [' + b"1," * 2000 + b"1]}",
    b'{"reference": "' + b"x" * 200_000 + b'"}',
    b'{"name": "R", "userId": 1, "customerIds": ["a", 1]}',
    '{"reference": "R\u00e9f-\u2603", "name": "\u00e9", "userId": 1}'.encode(),
]


def assert_client_error_or_success(response) -> None:
    """Never a 5xx; any failure in the family's shape."""
    assert response.status_code < 500, (response.request.url, response.text)
    if response.status_code >= 400:
        assert set(response.json()) == {"error", "error_description"}


@pytest.fixture
async def targets(client):
    """Rows for the PUT and DELETE endpoints to find: ids 1 and references C, U and R."""
    user = await make_user(client, "U")
    customer = await create_customer(client, "Customer C", customerNumber="C")
    await assign(client, user["id"], customer["id"])
    await make_route(client, user["id"], [], reference="R")


@pytest.mark.parametrize(("method", "path"), [e for e in ENDPOINTS if e[0] in ("POST", "PUT")])
async def test_hostile_bodies_never_500(client, targets, method, path) -> None:
    for raw in HOSTILE_BODIES:
        response = await client.request(
            method, f"{V1}{path}", content=raw, headers={"Content-Type": "application/json"}
        )
        assert_client_error_or_success(response)


HOSTILE_PATHS = [
    "/customerEmployees/99999999999999999999",
    "/customerEmployees/-1",
    "/customerEmployees/%00",
    "/customerEmployees/reference/%00/x",
    "/customerEmployees/reference/" + "x" * 5000 + "/y",
    "/users/reference/%F0%9F%98%80",
    "/users/reference/%C3%28",
    "/routes/1%20OR%201=1",
    "/customers/reference/'; DROP TABLE customers; --",
    "/customerEmployees?max=99999999999999999999999999999999999999999999",
    "/customerEmployees?offset=" + "9" * 5000,
    "/customerEmployees?customerReference=%00",
    "/customerEmployees?customerReference=" + "*" * 150,
    "/customerEmployees?dateCreated_gt=" + "2" * 5000,
    "/customerEmployees?sort=id;DROP",
    "/customers?isActive=%00",
    "/users?reference=%25%25%5C",
]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_hostile_paths_never_500(client, targets, method) -> None:
    for path in HOSTILE_PATHS:
        body = {"userId": 1, "customerId": 1}
        assert_client_error_or_success(await client.request(method, f"{V1}{path}", json=body))
