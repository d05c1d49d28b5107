"""/api/v1.0/users: the group's employees."""

import pytest

from customer_api.assignments.models import Employee
from tests.helpers import V1, assert_error, make_user

USERS = f"{V1}/users"
FIELDS = [
    "id",
    "reference",
    "firstName",
    "lastName",
    "email",
    "mobile",
    "enabled",
    "organization",
    "dateCreated",
    "lastUpdated",
]


async def test_create_show_by_id_and_reference(client) -> None:
    response = await client.post(
        USERS,
        json={
            "reference": "U-001",
            "firstName": "Ada",
            "lastName": "Lovelace",
            "email": "ada@example.com",
            "mobile": "+46 70 123",
            "organization": "Lyon",
        },
    )
    assert response.status_code == 201
    user = response.json()
    assert list(user) == FIELDS
    assert user["enabled"] is True
    assert user["firstName"] == "Ada"
    assert (await client.get(f"{USERS}/{user['id']}")).json() == user
    assert (await client.get(f"{USERS}/reference/U-001")).json() == user


@pytest.mark.parametrize("address", ["id", "reference"])
async def test_update_replaces_given_fields_and_answers_201(client, address) -> None:
    user = await make_user(client, "U-1", firstName="Ada", organization="Lyon")
    url = f"{USERS}/{user['id']}" if address == "id" else f"{USERS}/reference/U-1"
    response = await client.put(url, json={"organization": "Paris", "firstName": None})
    assert response.status_code == 201
    body = response.json()
    assert body["organization"] == "Paris"
    assert body["firstName"] is None
    assert body["reference"] == "U-1"
    response = await client.put(url, json={"reference": "U-2", "enabled": "false"})
    assert response.json()["reference"] == "U-2"
    assert response.json()["enabled"] is False


async def test_reference_is_unique_in_the_group(client, globex) -> None:
    await make_user(client, "U-1")
    other = await make_user(client, "U-2")
    assert_error(
        await client.post(USERS, json={"reference": "U-1"}),
        400,
        "not_unique",
        "reference already used",
    )
    assert_error(
        await client.put(f"{USERS}/{other['id']}", json={"reference": "U-1"}), 400, "not_unique"
    )
    assert (await client.get(f"{USERS}/{other['id']}")).json()["reference"] == "U-2"
    await make_user(globex.client, "U-1")  # another group may


async def test_reference_is_case_sensitive(client) -> None:
    await make_user(client, "u-1")
    await make_user(client, "U-1")


@pytest.mark.parametrize(
    ("body", "code", "name"),
    [
        ({}, "missing_param", "reference"),
        ({"reference": None}, "missing_param", "reference"),
        ({"firstName": "x"}, "missing_param", "reference"),
        ({"reference": 12}, "invalid_param_type", "reference"),
        ({"reference": "U", "enabled": "perhaps"}, "invalid_param_type", "enabled"),
        ({"reference": "U", "email": ["a"]}, "invalid_param_type", "email"),
        ({"reference": "   "}, "invalid_param", "reference"),
        ({"reference": "x" * 101}, "invalid_param", "reference"),
        ({"reference": "U", "lastName": "x" * 256}, "invalid_param", "lastName"),
        ({"reference": "U", "mobile": "a\x00"}, "invalid_param", "mobile"),
        ({"reference": "U", "password": "x"}, "invalid_param", "password"),
        ({"reference": "U", "id": 4}, "invalid_param", "id"),
    ],
)
async def test_invalid_users(client, body, code, name) -> None:
    response = await client.post(USERS, json=body)
    assert_error(response, 400, code)
    assert name in response.json()["error_description"]


async def test_the_missing_reference_sentence(client) -> None:
    assert_error(
        await client.post(USERS, json={"firstName": "x"}),
        400,
        "missing_param",
        "reference parameter is missing",
    )


async def test_null_reference_on_update_is_refused(client) -> None:
    user = await make_user(client, "U-1")
    assert_error(
        await client.put(f"{USERS}/{user['id']}", json={"reference": None}), 400, "missing_param"
    )


async def test_delete_by_id_and_by_reference(client) -> None:
    first = await make_user(client, "U-1")
    await make_user(client, "U-2")
    deleted = {"success": "true", "success_description": "Instance deleted successfully"}
    assert (await client.delete(f"{USERS}/{first['id']}")).json() == deleted
    assert (await client.delete(f"{USERS}/reference/U-2")).json() == deleted
    assert (await client.get(USERS)).json()["paging"]["total"] == 0


async def test_not_found_sentences(client) -> None:
    assert_error(
        await client.get(f"{USERS}/999"),
        404,
        "not_found",
        "The user with the id 999 doesn't exist.",
    )
    assert_error(
        await client.get(f"{USERS}/reference/U-9"),
        404,
        "not_found",
        "The user with the reference U-9 doesn't exist.",
    )
    assert_error(await client.delete(f"{USERS}/abc"), 400, "invalid_param_type")


async def test_list_sort_and_filters(client, set_times) -> None:
    from datetime import UTC, datetime

    for index, reference in enumerate(("U-b", "U-a", "X-c")):
        user = await make_user(client, reference)
        moment = datetime(2020, 1, 1, 0, 0, index, tzinfo=UTC)
        await set_times(Employee, user["id"], created=moment, modified=moment)
    references = lambda body: [u["reference"] for u in body["data"]]  # noqa: E731
    assert references((await client.get(USERS)).json()) == ["U-b", "U-a", "X-c"]
    assert references((await client.get(f"{USERS}?sort=reference")).json()) == [
        "U-a",
        "U-b",
        "X-c",
    ]
    assert references((await client.get(f"{USERS}?reference=U-*&order=desc")).json()) == [
        "U-a",
        "U-b",
    ]
    body = (await client.get(f"{USERS}?dateCreated_gt=2020-01-01T00:00:00Z&max=1")).json()
    assert references(body) == ["U-a"]
    assert body["paging"]["next"] == (
        "/api/v1.0/users?max=1&sort=dateCreated&order=asc"
        "&dateCreated_gt=2020-01-01T00:00:00Z&offset=1"
    )
    assert_error(await client.get(f"{USERS}?sort=firstName"), 400, "invalid_param")
    assert_error(await client.get(f"{USERS}?employeeReference=x"), 400, "invalid_param")


async def test_list_runs_a_constant_number_of_statements(client, count_statements) -> None:
    for index in range(12):
        await make_user(client, f"U-{index:02}")
    counts = []
    for max_ in (1, 5, 12):
        with count_statements() as counter:
            assert len((await client.get(f"{USERS}?max={max_}")).json()["data"]) == max_
        counts.append(counter.count)
    assert counts == [2, 2, 2]  # the count and the page (the key is known by then)
