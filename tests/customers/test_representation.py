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
