"""The answers built by hand on the hot paths have exactly the shape the OpenAPI document
declares (CustomerRead, CustomerDetail, DocumentRead), on every path that builds one."""

from customer_api.customers.schemas import CustomerDetail, CustomerRead
from customer_api.documents.schemas import DocumentRead
from tests.documents.helpers import upload


def assert_documented(model, answer: dict) -> None:
    """Every field the model declares, no other, each of its declared type."""
    documented = model.model_validate(answer).model_dump(by_alias=True, mode="json")
    assert documented == answer


async def test_every_customer_answer_is_the_documented_shape(client) -> None:
    stored = await upload(client, b"%PDF-1.4\n", "plan.pdf")
    assert_documented(DocumentRead, stored)
    created = await client.post(
        "/api/1/customer",
        json={
            "name": "Wendy Warner",
            "customerNumber": "C-1",
            "latitude": 59.3,
            "customerProjects": [{"name": "Floor"}, {"name": "Roof", "active": False}],
        },
    )
    assert_documented(CustomerDetail, created.json())
    customer_id = created.json()["id"]
    linked = await client.put(
        f"/api/1/customer/{customer_id}",
        json={
            "documents": [
                {"uuid": stored["uuid"]},
                {"contentUrl": "https://files.example/a.pdf", "mimeType": "application/pdf"},
            ]
        },
    )
    assert_documented(CustomerDetail, linked.json())
    detail = (await client.get(f"/api/1/customer/{customer_id}")).json()
    assert_documented(CustomerDetail, detail)
    assert len(detail["documents"]) == 2 and len(detail["customerProjects"]) == 2
    assert detail == linked.json()
    [listed] = (await client.get("/api/1/customer?inactive")).json()
    assert_documented(CustomerRead, listed)
    assert listed == {key: value for key, value in detail.items() if key != "documents"}


async def test_the_list_shows_every_customer_as_its_detail_does(client) -> None:
    """On Postgres the database writes the list's JSON and Python the detail's: the two must
    agree, for every kind of value a customer can hold, in the same field order."""
    awkward = [
        {"name": 'Quote " and backslash \\ and slash /', "notes": "line\nbreak\ttab\u0001"},
        {"name": "Åsa Öberg 🚚", "city": "Malmö", "latitude": 55.605, "longitude": -0.00001},
        {"name": "Zero", "latitude": 0.0, "longitude": 179.99999999999997, "customerNumber": ""},
        {"name": "Projects", "customerProjects": [{"name": f"P{i}"} for i in range(4)]},
        {"name": "Inactive", "active": False, "customerProjects": [{"name": "Old"}]},
        {"name": "x" * 255, "email": "a@b.se", "organizationNumber": "556000-0000"},
    ]
    details = []
    for body in awkward:
        created = await client.post("/api/1/customer", json=body)
        assert created.status_code == 200, created.text
        details.append((await client.get(f"/api/1/customer/{created.json()['id']}")).json())
    listed = (await client.get("/api/1/customer?inactive")).json()
    expected = [{k: v for k, v in detail.items() if k != "documents"} for detail in details]
    assert listed == expected
    assert [list(item) for item in listed] == [list(item) for item in expected]
    for item in listed:
        assert_documented(CustomerRead, item)
