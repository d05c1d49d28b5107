"""Show, create, update and delete an assignment: by id and by references, internal and
external ids, and every failure the documentation lists."""

import pytest

from tests.helpers import V1, assert_error, assign, create_customer, make_user

BASE = f"{V1}/customerEmployees"
DELETED = {"success": "true", "success_description": "Instance deleted successfully"}


@pytest.fixture
async def pair(client):
    """User U-001 (Lyon) and customer CC-002, not yet assigned; plus a spare user and customer."""
    user = await make_user(client, "U-001", organization="Lyon")
    customer = await create_customer(client, "Joe", customerNumber="CC-002")
    spare_user = await make_user(client, "U-002", organization="Paris")
    spare_customer = await create_customer(client, "Daniel", customerNumber="CC-003")
    return user, customer, spare_user, spare_customer


@pytest.fixture
async def assigned(client, pair):
    user, customer, *_ = pair
    return await assign(client, user["id"], customer["id"])


# Show


async def test_show_by_id_and_by_references(client, assigned) -> None:
    by_id = await client.get(f"{BASE}/{assigned['id']}")
    assert by_id.status_code == 200
    assert by_id.json() == assigned
    by_references = await client.get(f"{BASE}/reference/CC-002/U-001")
    assert by_references.status_code == 200
    assert by_references.json() == assigned


async def test_references_with_spaces_are_addressable(client) -> None:
    user = await make_user(client, "Ref 6654")
    customer = await create_customer(client, "Customer C 001", customerNumber="C 001")
    created = await assign(client, user["id"], customer["id"])
    response = await client.get(f"{BASE}/reference/C%20001/Ref%206654")
    assert response.json()["id"] == created["id"]


async def answers(client, method: str, urls: list[str]) -> dict[str, tuple[int, dict]]:
    body = {"userId": 1, "customerId": 1}
    answered = {}
    for url in urls:
        response = await client.request(method, url, json=body)
        answered[url] = (response.status_code, response.json())
    return answered


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_non_integer_id_is_invalid_param_type(client, method) -> None:
    urls = [f"{BASE}/{bad}" for bad in ("abc", "1.5", "1e3", "0x1", "%20", "12abc", "١٢")]
    error = {
        "error": "invalid_param_type",
        "error_description": "The type of parameter id you provided is not valid for this request.",
    }
    assert await answers(client, method, urls) == dict.fromkeys(urls, (400, error))


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_unknown_id_is_not_found_with_the_documented_sentence(
    client, assigned, method
) -> None:
    unknown = ["999", "0", "-5", "2147483648", "99999999999999999999"]
    expected = {
        f"{BASE}/{key}": (
            404,
            {
                "error": "not_found",
                "error_description": f"The customer employee with the id {key} doesn't exist.",
            },
        )
        for key in unknown
    }
    assert await answers(client, method, list(expected)) == expected


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_unknown_references_are_not_found(client, assigned, method) -> None:
    pairs = [("CC-002", "U-002"), ("CC-003", "U-001"), ("nothing", "U-001"), ("CC-002", "x")]
    expected = {
        f"{BASE}/reference/{customer}/{user}": (
            404,
            {
                "error": "not_found",
                "error_description": f"The customer employee with the customer reference "
                f"{customer} and the user reference {user} doesn't exist.",
            },
        )
        for customer, user in pairs
    }
    assert await answers(client, method, list(expected)) == expected


# Create


async def test_create_with_internal_ids_answers_201_with_the_assignment(client, pair) -> None:
    user, customer, *_ = pair
    response = await client.post(BASE, json={"userId": user["id"], "customerId": customer["id"]})
    assert response.status_code == 201
    body = response.json()
    assert body["customerReference"] == "CC-002"
    assert body["employeeReference"] == "U-001"
    assert body["customer"]["id"] == customer["id"]
    assert body["user"]["id"] == user["id"]
    assert body["organization"] == "Lyon"
    assert body["dateCreated"] == body["lastUpdated"]
    assert (await client.get(f"{BASE}/{body['id']}")).json() == body


@pytest.mark.parametrize("flag", [True, "true", "True", "TRUE", 1, "1"])
async def test_create_with_external_ids(client, pair, flag) -> None:
    response = await client.post(
        BASE, json={"userId": "U-001", "customerId": "CC-002", "useExternalId": flag}
    )
    assert response.status_code == 201, response.text
    assert response.json()["customerReference"] == "CC-002"


async def test_numeric_references_may_be_sent_as_numbers(client) -> None:
    user = await make_user(client, "9999")
    await create_customer(client, "Customer 777", customerNumber="777")
    response = await client.post(
        BASE, json={"userId": 9999, "customerId": 777, "useExternalId": True}
    )
    assert response.status_code == 201, response.text
    assert response.json()["user"]["id"] == user["id"]


@pytest.mark.parametrize("flag", [False, "false", "False", 0, None])
async def test_internal_ids_by_default_and_with_false(client, pair, flag) -> None:
    user, customer, *_ = pair
    body = {"userId": str(user["id"]), "customerId": customer["id"]}  # a digit string is an id
    if flag is not None:
        body["useExternalId"] = flag
    response = await client.post(BASE, json=body)
    assert response.status_code == 201, response.text


async def test_a_reference_without_use_external_id_is_a_type_error(client, pair) -> None:
    """The documented sentence, then how to give a reference."""
    assert_error(
        await client.post(BASE, json={"userId": "U-001", "customerId": "CC-002"}),
        400,
        "invalid_param_type",
        "The type of parameter userId you provided is not valid for this request. An id is a "
        'whole number; to give a reference, add "useExternalId": true.',
    )


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        ({"customerId": 1}, "userId"),
        ({"userId": 1}, "customerId"),
        ({}, "userId"),
        ({"useExternalId": True}, "userId"),
        ({"userId": None, "customerId": 1}, "userId"),
        ({"userId": 1, "customerId": None}, "customerId"),
    ],
)
@pytest.mark.parametrize("method", ["POST", "PUT"])
async def test_missing_parameters(client, assigned, body, missing, method) -> None:
    url = BASE if method == "POST" else f"{BASE}/{assigned['id']}"
    response = await client.request(method, url, json=body)
    assert_error(response, 400, "missing_param", f"{missing} parameter is missing")


async def test_the_documented_missing_param(client) -> None:
    response = await client.post(BASE, json={"customerId": 1})
    assert response.json() == {
        "error": "missing_param",
        "error_description": "userId parameter is missing",
    }


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ({"userId": 1.5, "customerId": 1}, "userId"),
        ({"userId": True, "customerId": 1}, "userId"),
        ({"userId": [1], "customerId": 1}, "userId"),
        ({"userId": {"id": 1}, "customerId": 1}, "userId"),
        ({"userId": 1, "customerId": "abc"}, "customerId"),
        ({"userId": 1, "customerId": 1, "useExternalId": "maybe"}, "useExternalId"),
        ({"userId": 1, "customerId": 1, "useExternalId": 2}, "useExternalId"),
        ({"userId": 1, "customerId": 1, "useExternalId": []}, "useExternalId"),
    ],
)
async def test_wrong_types(client, pair, body, name) -> None:
    error = assert_error(await client.post(BASE, json=body), 400, "invalid_param_type")
    # The documented sentence (a text that could be a reference also says how to give one).
    assert error["error_description"].startswith(
        f"The type of parameter {name} you provided is not valid for this request."
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"userId": 999, "customerId": 1}, "The user with the id 999 doesn't exist."),
        (
            {"userId": 99999999999999999999, "customerId": 1},
            "The user with the id 99999999999999999999 doesn't exist.",
        ),
        ({"userId": -1, "customerId": 1}, "The user with the id -1 doesn't exist."),
        (
            {"userId": "U-404", "customerId": "CC-002", "useExternalId": True},
            "The user with the reference U-404 doesn't exist.",
        ),
        (
            {"userId": "U-001", "customerId": "CC-404", "useExternalId": True},
            "The customer with the reference CC-404 doesn't exist.",
        ),
    ],
)
async def test_unknown_user_or_customer_is_404(client, pair, body, message) -> None:
    assert_error(await client.post(BASE, json=body), 404, "not_found", message)


async def test_unknown_customer_by_id_is_404(client, pair) -> None:
    user, *_ = pair
    assert_error(
        await client.post(BASE, json={"userId": user["id"], "customerId": 99999}),
        404,
        "not_found",
        "The customer with the id 99999 doesn't exist.",
    )


async def test_a_customer_is_assigned_only_once(client, assigned, pair) -> None:
    _, customer, spare_user, _ = pair
    for user_id in (assigned["user"]["id"], spare_user["id"]):
        assert_error(
            await client.post(BASE, json={"userId": user_id, "customerId": customer["id"]}),
            400,
            "already_assigned",
            "customer is already assigned to employee.",
        )
    assert (await client.get(BASE)).json()["paging"]["total"] == 1


async def test_an_employee_serves_many_customers(client, pair) -> None:
    user, customer, _, spare_customer = pair
    await assign(client, user["id"], customer["id"])
    await assign(client, user["id"], spare_customer["id"])
    body = (await client.get(f"{BASE}?employeeReference=U-001")).json()
    assert body["paging"]["total"] == 2


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"userId": 1, "customerId": 1, "foo": 1}, "foo"),
        ({"userId": 1, "customerId": 1, "user_id": 1, "bar": 2}, "user_id, bar"),
        ({"userID": 1, "customerId": 1}, "userID"),
        ({"userId": 1, "customerId": 1, "id": 5}, "id"),
    ],
)
async def test_unknown_body_fields_are_named(client, pair, body, names) -> None:
    assert_error(
        await client.post(BASE, json=body),
        400,
        "invalid_param",
        f"The parameters [{names}] you provided are not valid for this request.",
    )


@pytest.mark.parametrize(
    ("raw", "content_type", "description"),
    [
        (b"{", "application/json", "The request body is not valid JSON."),
        (b'{"userId": 1,}', "application/json", "The request body is not valid JSON."),
        (b"not json", "application/json", "The request body is not valid JSON."),
        (b"\xff\xfe", "application/json", None),
        (b"[1, 2]", "application/json", "The request body must be a JSON object."),
        (b"null", "application/json", "The request body must be a JSON object."),
        (b'"text"', "application/json", "The request body must be a JSON object."),
        (b"42", "application/json", "The request body must be a JSON object."),
        (b"", "application/json", "The request body must be a JSON object."),
        (b"userId=1&customerId=1", "application/x-www-form-urlencoded", None),
        (b"userId=1", "text/plain", None),
        # What curl -d sends without -H 'Content-Type: application/json': the answer says so.
        (
            b'{"userId": 1, "customerId": 1}',
            "application/x-www-form-urlencoded",
            "The request body must be a JSON object sent as Content-Type: application/json.",
        ),
    ],
)
async def test_malformed_bodies_are_400(client, pair, raw, content_type, description) -> None:
    response = await client.post(BASE, content=raw, headers={"Content-Type": content_type})
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"error", "error_description"}
    if description is not None:
        assert_error(response, 400, "invalid_json", description)


async def test_body_without_content_type_is_read_as_json(client, pair) -> None:
    user, customer, *_ = pair
    raw = f'{{"userId": {user["id"]}, "customerId": {customer["id"]}}}'.encode()
    response = await client.post(BASE, content=raw)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("number", [b"1e400", b"NaN", b"Infinity", b"-Infinity", b"1.5"])
async def test_non_integer_numbers_are_type_errors(client, pair, number) -> None:
    raw = b'{"userId": ' + number + b', "customerId": 1}'
    response = await client.post(BASE, content=raw, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_param_type")


async def test_a_whole_number_written_with_a_fraction_is_an_id(client, pair) -> None:
    """JSON Schema's integer (what the document declares) includes 7.0, as in /api/1."""
    user, customer, *_ = pair
    raw = f'{{"userId": {user["id"]}.0, "customerId": {customer["id"]}.0}}'.encode()
    response = await client.post(BASE, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    assert response.json()["user"]["id"] == user["id"]
    listed = await client.get(f"{BASE}?max=1.0&offset=0.0")
    assert listed.status_code == 200 and listed.json()["paging"]["max"] == 1


async def test_overlong_and_nul_references_are_refused(client, pair) -> None:
    for value in ("x" * 101, "a\x00b", ""):
        response = await client.post(
            BASE, json={"userId": value, "customerId": "CC-002", "useExternalId": True}
        )
        assert_error(response, 400, "invalid_param")
        assert "userId" in response.json()["error_description"]


# Update


@pytest.mark.parametrize("address", ["id", "references"])
async def test_update_moves_the_customer_to_another_employee(
    client, assigned, pair, address
) -> None:
    _, _, spare_user, _ = pair
    url = f"{BASE}/{assigned['id']}" if address == "id" else f"{BASE}/reference/CC-002/U-001"
    response = await client.put(url, json={"userId": spare_user["id"], "customerId": "CC-002"})
    assert_error(response, 400, "invalid_param_type")  # a reference needs useExternalId
    response = await client.put(
        url, json={"userId": "U-002", "customerId": "CC-002", "useExternalId": "true"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"] == assigned["id"]
    assert body["employeeReference"] == "U-002"
    assert body["user"]["id"] == spare_user["id"]
    assert body["organization"] == "Paris"  # the employee's
    assert body["dateCreated"] == assigned["dateCreated"]
    assert (await client.get(f"{BASE}/{assigned['id']}")).json() == body
    assert (await client.get(f"{BASE}/reference/CC-002/U-002")).json() == body
    assert (await client.get(f"{BASE}/reference/CC-002/U-001")).status_code == 404


async def test_update_can_change_the_customer(client, assigned, pair) -> None:
    user, _, _, spare_customer = pair
    response = await client.put(
        f"{BASE}/{assigned['id']}", json={"userId": user["id"], "customerId": spare_customer["id"]}
    )
    assert response.status_code == 201
    assert response.json()["customerReference"] == "CC-003"
    # The first customer is free again.
    await assign(client, user["id"], pair[1]["id"])


async def test_update_to_an_assigned_customer_is_already_assigned(client, assigned, pair) -> None:
    _, taken, spare_user, spare_customer = pair
    other = await assign(client, spare_user["id"], spare_customer["id"])
    response = await client.put(
        f"{BASE}/{other['id']}", json={"userId": spare_user["id"], "customerId": taken["id"]}
    )
    assert_error(response, 400, "already_assigned", "customer is already assigned to employee.")


async def test_update_to_the_same_pair_changes_nothing(client, assigned, pair) -> None:
    user, customer, *_ = pair
    response = await client.put(
        f"{BASE}/{assigned['id']}", json={"userId": user["id"], "customerId": customer["id"]}
    )
    assert response.status_code == 201
    assert response.json() == assigned


async def test_update_with_unknown_user_is_404(client, assigned) -> None:
    response = await client.put(f"{BASE}/{assigned['id']}", json={"userId": 999, "customerId": 1})
    assert_error(response, 404, "not_found", "The user with the id 999 doesn't exist.")


# Delete


@pytest.mark.parametrize("address", ["id", "references"])
async def test_delete_answers_the_documented_success(client, assigned, address) -> None:
    url = f"{BASE}/{assigned['id']}" if address == "id" else f"{BASE}/reference/CC-002/U-001"
    response = await client.delete(url)
    assert response.status_code == 200
    assert response.json() == DELETED
    assert (await client.get(f"{BASE}/{assigned['id']}")).status_code == 404
    assert (await client.delete(url)).status_code == 404
    # The customer and the user remain.
    assert (await client.get(assigned["customer"]["href"])).status_code == 200
    assert (await client.get(assigned["user"]["href"])).status_code == 200


async def test_deleting_the_customer_through_api_1_removes_its_assignment(client, assigned) -> None:
    assert (await client.delete(f"/api/1/customer/{assigned['customer']['id']}")).status_code == 200
    assert (await client.get(f"{BASE}/{assigned['id']}")).status_code == 404
    assert (await client.get(BASE)).json()["paging"]["total"] == 0


async def test_renaming_a_customer_number_is_seen_at_once(client, assigned) -> None:
    await client.put(
        f"/api/1/customer/{assigned['customer']['id']}", json={"customerNumber": "CC-NEW"}
    )
    body = (await client.get(f"{BASE}/{assigned['id']}")).json()
    assert body["customerReference"] == body["customer"]["reference"] == "CC-NEW"
    assert (await client.get(f"{BASE}/reference/CC-NEW/U-001")).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/1"), ("PUT", "/1"), ("DELETE", "/1"), ("POST", ""), ("GET", "/reference/a/b")],
)
async def test_unknown_parameters_on_every_endpoint(client, assigned, method, path) -> None:
    response = await client.request(
        method, f"{BASE}{path}?verbose=1", json={"userId": 1, "customerId": 1}
    )
    assert_error(
        response,
        400,
        "invalid_param",
        "The parameters [verbose] you provided are not valid for this request.",
    )
