"""ETags on /api/v1.0 records: 304 for a current copy, 412 (in the family's shape) for a write
based on a stale one, and exactly one winner among writers holding the same tag."""

import asyncio

import pytest

from tests.helpers import (
    V1,
    assert_error,
    assign,
    create_customer,
    make_route,
    make_user,
)


async def test_users_routes_and_assignments_carry_etags_and_answer_304(client) -> None:
    user = await make_user(client, "U-1")
    customer = await create_customer(client, "Customer C-1", customerNumber="C-1")
    assignment = await assign(client, user["id"], customer["id"])
    route = await make_route(client, user["id"], [customer["id"]])
    for path in [
        f"{V1}/users/{user['id']}",
        f"{V1}/users/reference/U-1",
        f"{V1}/customerEmployees/{assignment['id']}",
        f"{V1}/customerEmployees/reference/C-1/U-1",
        f"{V1}/routes/{route['id']}",
        f"{V1}/customers/{customer['id']}",
    ]:
        etag = (await client.get(path)).headers["etag"]
        again = await client.get(path, headers={"If-None-Match": etag})
        assert (again.status_code, again.content) == (304, b""), path


async def test_a_write_with_the_current_etag_wins_and_a_stale_one_gets_412(client) -> None:
    await make_user(client, "U-2", firstName="Ann")
    path = f"{V1}/users/reference/U-2"
    etag = (await client.get(path)).headers["etag"]
    first = await client.put(path, json={"firstName": "Anna"}, headers={"If-Match": etag})
    assert first.status_code == 201, first.text
    assert first.headers["etag"] == (await client.get(path)).headers["etag"]
    stale = await client.put(path, json={"firstName": "Annie"}, headers={"If-Match": etag})
    assert_error(stale, 412, "precondition_failed")
    assert (await client.get(path)).json()["firstName"] == "Anna"
    assert_error(await client.delete(path, headers={"If-Match": etag}), 412, "precondition_failed")
    deleted = await client.delete(path, headers={"If-Match": first.headers["etag"]})
    assert deleted.status_code == 200


async def test_an_assignment_changes_its_etag_when_reassigned(client) -> None:
    first, second = await make_user(client, "U-3"), await make_user(client, "U-4")
    customer = await create_customer(client, "Customer C-3", customerNumber="C-3")
    assignment = await assign(client, first["id"], customer["id"])
    path = f"{V1}/customerEmployees/{assignment['id']}"
    etag = (await client.get(path)).headers["etag"]
    moved = await client.put(
        path,
        json={"userId": second["id"], "customerId": customer["id"]},
        headers={"If-Match": etag},
    )
    assert moved.status_code == 201, moved.text
    back = await client.put(
        path, json={"userId": first["id"], "customerId": customer["id"]}, headers={"If-Match": etag}
    )
    assert_error(back, 412, "precondition_failed")


@pytest.mark.parametrize("writers", [2, 4])
async def test_concurrent_writes_with_the_same_etag_let_exactly_one_win(client, writers) -> None:
    user = await make_user(client, f"U-race-{writers}")
    path = f"{V1}/users/{user['id']}"
    etag = (await client.get(path)).headers["etag"]
    answers = await asyncio.gather(
        *(
            client.put(path, json={"lastName": f"Writer {n}"}, headers={"If-Match": etag})
            for n in range(writers)
        )
    )
    assert sorted(a.status_code for a in answers) == [201] + [412] * (writers - 1)
    [winner] = [a for a in answers if a.status_code == 201]
    assert (await client.get(path)).json()["lastName"] == winner.json()["lastName"]
