"""/api/1/customer: create, read, update, upsert, delete, as a client sees them."""

import uuid

import pytest

from tests.helpers import create_customer

WENDY = {
    "name": "Wendy Warner",
    "customerProjects": [{"name": "Floor installation"}, {"name": "General maintenance"}],
}


async def test_create_with_projects_as_documented(client) -> None:
    response = await client.post("/api/1/customer", json=WENDY)
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body["id"], int)
    uuid.UUID(body["uuid"])
    assert body["name"] == "Wendy Warner"
    assert body["active"] is True
    assert [p["name"] for p in body["customerProjects"]] == [
        "Floor installation",
        "General maintenance",
    ]
    assert all(p["active"] and isinstance(p["id"], int) for p in body["customerProjects"])
    assert body["created"] == body["modified"]
    assert body["created"] > 1_700_000_000_000  # epoch milliseconds


async def test_every_field_round_trips(client) -> None:
    fields = {
        "name": "Horse & Co",
        "customerNumber": "C-001",
        "organizationNumber": "556677-8899",
        "email": "info@horse.example",
        "phone": "+46 8 123",
        "mobile": "+46 70 123",
        "address": "Stallvägen 1",
        "postalCode": "123 45",
        "city": "Uppsala",
        "country": "SE",
        "latitude": 59.85,
        "longitude": 17.64,
        "notes": "Gate code 1234",
        "organization": "Lyon",
        "active": False,
    }
    created = await create_customer(client, **fields)
    fetched = (await client.get(f"/api/1/customer/{created['id']}")).json()
    for name, value in fields.items():
        assert fetched[name] == value, name


async def test_get_by_id_and_by_uuid(client) -> None:
    created = await create_customer(client, "Someone")
    by_id = await client.get(f"/api/1/customer/{created['id']}")
    by_uuid = await client.get(f"/api/1/customer/{created['uuid']}")
    assert by_id.status_code == by_uuid.status_code == 200
    assert by_id.json() == by_uuid.json()


@pytest.mark.parametrize(
    "ref",
    ["999999", "0", "-1", "99999999999999999999999", "not-an-id", str(uuid.uuid4()), "1.5"],
)
async def test_unknown_customer_is_404(client, ref: str) -> None:
    response = await client.get(f"/api/1/customer/{ref}")
    assert response.status_code == 404
    assert response.json()["success"] is False
    assert response.json()["error"] == "not_found"


async def test_read_only_fields_in_the_body_are_ignored(client) -> None:
    forced = str(uuid.uuid4())
    body = await create_customer(
        client, "Someone", id=5, uuid=forced, created=1, modified=2, groupId=99
    )
    assert body["uuid"] != forced
    assert body["created"] > 1


async def test_put_replaces_given_fields_and_keeps_the_rest(client) -> None:
    created = await create_customer(client, "Someone", email="a@example.com", phone="1")
    response = await client.put(
        f"/api/1/customer/{created['id']}", json={"phone": "2", "notes": None}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["phone"] == "2"
    assert body["email"] == "a@example.com"
    assert body["name"] == "Someone"
    assert body["modified"] >= created["modified"]
    assert body["created"] == created["created"]


async def test_put_on_unknown_uuid_creates_with_that_uuid(client) -> None:
    chosen = "0847ed17-b060-4599-a38c-be9a8b9cbb34"
    response = await client.put(f"/api/1/customer/{chosen}", json=WENDY)
    assert response.status_code == 200
    assert response.json()["uuid"] == chosen
    fetched = await client.get(f"/api/1/customer/{chosen}")
    assert fetched.json()["name"] == "Wendy Warner"
    again = await client.put(f"/api/1/customer/{chosen}", json={"city": "Lund"})
    assert again.json()["id"] == response.json()["id"]
    assert again.json()["city"] == "Lund"


async def test_put_on_unknown_integer_id_is_404(client) -> None:
    response = await client.put("/api/1/customer/4242", json={"name": "x"})
    assert response.status_code == 404


async def test_upsert_needs_a_name(client) -> None:
    response = await client.put(f"/api/1/customer/{uuid.uuid4()}", json={"city": "Lund"})
    assert response.status_code == 404
    assert "give a name" in response.json()["message"]


async def test_delete_then_gone(client) -> None:
    created = await create_customer(client, "Someone", customerProjects=[{"name": "P"}])
    response = await client.delete(f"/api/1/customer/{created['uuid']}")
    assert response.status_code == 200
    assert response.content == b""
    assert (await client.get(f"/api/1/customer/{created['id']}")).status_code == 404
    assert (await client.delete(f"/api/1/customer/{created['id']}")).status_code == 404


async def test_customer_number_unique_in_group(client, globex) -> None:
    await create_customer(client, "Someone", customerNumber="C-1")
    duplicate = await client.post("/api/1/customer", json={"name": "B", "customerNumber": "C-1"})
    assert duplicate.status_code == 409
    assert "customerNumber" in duplicate.json()["message"]
    other = await create_customer(client, "Someone", customerNumber="C-2")
    clash = await client.put(f"/api/1/customer/{other['id']}", json={"customerNumber": "C-1"})
    assert clash.status_code == 409
    # Another group may use the same number.
    assert (await create_customer(globex.client, "Someone", customerNumber="C-1"))[
        "customerNumber"
    ] == "C-1"


async def test_customers_without_number_do_not_clash(client) -> None:
    await create_customer(client, "Someone", customerNumber="")
    second = await create_customer(client, "Someone", customerNumber="")
    assert second["customerNumber"] is None


async def test_saving_own_number_again_is_not_a_conflict(client) -> None:
    created = await create_customer(client, "Someone", customerNumber="C-9")
    response = await client.put(
        f"/api/1/customer/{created['id']}", json={"customerNumber": "C-9", "city": "Lund"}
    )
    assert response.status_code == 200
