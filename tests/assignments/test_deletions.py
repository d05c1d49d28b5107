"""/api/v1.0 lists asked with dateDeleted_gte / dateDeleted_gt answer tombstones, in the
family's envelope and date style."""

from tests.helpers import V1, assert_error, assign, create_customer, make_user

SINCE = "2000-01-01T00:00:00Z"


async def test_deleted_users_and_assignments_are_listed(client, globex) -> None:
    user = await make_user(client, "U-DEL")
    customer = await create_customer(client, "Customer C-DEL", customerNumber="C-DEL")
    assignment = await assign(client, user["id"], customer["id"])
    assert (await client.delete(f"{V1}/customerEmployees/{assignment['id']}")).status_code == 200
    assert (await client.delete(f"{V1}/users/{user['id']}")).status_code == 200
    await make_user(globex.client, "U-THEIRS")
    await globex.client.delete(f"{V1}/users/reference/U-THEIRS")

    users = (await client.get(f"{V1}/users", params={"dateDeleted_gte": SINCE})).json()
    assert users["paging"]["total"] == 1
    [tombstone] = users["data"]
    assert tombstone["id"] == user["id"]
    assert tombstone["reference"] == "U-DEL"
    assert tombstone["dateDeleted"].endswith("Z")
    gone = (await client.get(f"{V1}/customerEmployees", params={"dateDeleted_gte": SINCE})).json()
    assert [(t["id"], t["reference"]) for t in gone["data"]] == [(assignment["id"], "C-DEL/U-DEL")]
    later = {"dateDeleted_gt": tombstone["dateDeleted"]}
    assert (await client.get(f"{V1}/users", params=later)).json()["data"] == []


async def test_a_customer_deleted_through_api_1_leaves_its_assignment_a_tombstone(client):
    user = await make_user(client, "U-CASCADE")
    customer = await create_customer(client, "Customer C-CASCADE", customerNumber="C-CASCADE")
    assignment = await assign(client, user["id"], customer["id"])
    assert (await client.delete(f"/api/1/customer/{customer['id']}")).status_code == 200
    gone = (await client.get(f"{V1}/customerEmployees", params={"dateDeleted_gte": SINCE})).json()
    assert [t["id"] for t in gone["data"]] == [assignment["id"]]
    customers = (await client.get(f"{V1}/customers", params={"dateDeleted_gte": SINCE})).json()
    assert [(t["id"], t["reference"]) for t in customers["data"]] == [(customer["id"], "C-CASCADE")]


async def test_a_bad_deletion_date_is_the_family_s_error(client) -> None:
    answer = await client.get(f"{V1}/users", params={"dateDeleted_gte": "soon"})
    assert_error(answer, 400, "invalid_datetime_format")
