"""A customer's ``documents`` list on POST and PUT: external links and references to uploads."""

import pytest

from tests.documents.helpers import (
    assert_family_error,
    count_documents,
    upload,
)
from tests.helpers import create_customer

WEB_LINK = {
    "contentUrl": "http://www.cbu.edu.zm/downloads/pdf-sample.pdf",
    "mimeType": "application/pdf",
    "fileName": "pdf-sample.pdf",
    "description": "Very important instructions",
}


async def put_documents(client, customer: dict, documents: list):
    return await client.put(f"/api/1/customer/{customer['id']}", json={"documents": documents})


async def test_documented_external_link_flow(client, acme) -> None:
    customer = await create_customer(client)
    response = await put_documents(client, customer, [WEB_LINK])
    assert response.status_code == 200
    [link] = response.json()["documents"]
    assert link["contentUrl"] == WEB_LINK["contentUrl"]
    assert link["mimeType"] == "application/pdf"
    assert link["fileName"] == "pdf-sample.pdf"
    assert link["description"] == "Very important instructions"
    assert link["size"] is None
    assert link["thumbUrl"] == f"/vault/thumbnail/{link['uuid']}"
    assert link["internal"] is False
    assert link["groupId"] == acme.group_id
    assert link["creatorId"] is None
    fetched = (await client.get(f"/api/1/customer/{customer['id']}")).json()
    assert fetched["documents"] == [link]


async def test_the_list_becomes_the_customers_documents_in_order(client) -> None:
    customer = await create_customer(client)
    uploaded = await upload(client, b"scan\n", "scan.txt")
    first = await put_documents(client, customer, [WEB_LINK, {"uuid": uploaded["uuid"]}])
    link, referenced = first.json()["documents"]
    assert link["contentUrl"] == WEB_LINK["contentUrl"]
    assert referenced["uuid"] == uploaded["uuid"]
    assert referenced["contentUrl"] == uploaded["contentUrl"]
    # Reordered and shortened: the link is detached, the upload stays.
    second = await put_documents(client, customer, [{"id": uploaded["id"]}])
    assert [d["uuid"] for d in second.json()["documents"]] == [uploaded["uuid"]]
    emptied = await put_documents(client, customer, [])
    assert emptied.json()["documents"] == []


async def test_documents_left_out_are_left_alone(client) -> None:
    customer = await create_customer(client, documents=[WEB_LINK])
    assert len(customer["documents"]) == 1
    response = await client.put(f"/api/1/customer/{customer['id']}", json={"city": "Lund"})
    assert response.json()["documents"] == customer["documents"]


async def test_sending_back_the_documents_as_read_changes_nothing(client, app) -> None:
    uploaded = await upload(client, b"scan\n", "scan.txt")
    customer = await create_customer(client, documents=[WEB_LINK, {"uuid": uploaded["uuid"]}])
    before = await count_documents(app)
    fetched = (await client.get(f"/api/1/customer/{customer['id']}")).json()
    response = await client.put(f"/api/1/customer/{customer['id']}", json=fetched)
    assert response.status_code == 200, response.text
    assert response.json()["documents"] == fetched["documents"]
    assert await count_documents(app) == before


async def test_a_reference_changes_no_meta_data(client) -> None:
    uploaded = await upload(client, b"scan\n", "scan.txt")
    customer = await create_customer(client)
    response = await put_documents(
        client, customer, [{"uuid": uploaded["uuid"], "description": "ignored"}]
    )
    assert response.json()["documents"][0]["description"] is None


async def test_upsert_with_documents(client) -> None:
    chosen = "0847ed17-b060-4599-a38c-be9a8b9cbb34"
    response = await client.put(
        f"/api/1/customer/{chosen}", json={"name": "Wendy", "documents": [WEB_LINK]}
    )
    assert response.status_code == 200
    assert response.json()["documents"][0]["fileName"] == "pdf-sample.pdf"


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"contentUrl": "https://files.example/a/Plan%20B.pdf"}, ("Plan B.pdf", "application/pdf")),
        ({"contentUrl": "https://files.example/x", "fileName": "a.png"}, ("a.png", "image/png")),
        ({"contentUrl": "https://files.example/"}, (None, "application/octet-stream")),
        (
            {"contentUrl": "https://files.example/x.pdf", "mimeType": "Text/Plain; charset=utf-8"},
            ("x.pdf", "text/plain"),
        ),
    ],
)
async def test_link_file_name_and_type_are_completed(client, item, expected) -> None:
    customer = await create_customer(client, documents=[item])
    link = customer["documents"][0]
    assert (link["fileName"], link["mimeType"]) == expected


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"contentUrl": "javascript:alert(1)"}, "documents[0].contentUrl"),
        ({"contentUrl": "file:///etc/passwd"}, "documents[0].contentUrl"),
        ({"contentUrl": "/relative/path.pdf"}, "documents[0].contentUrl"),
        ({"contentUrl": "https://x.example/a b"}, "documents[0].contentUrl"),
        ({"contentUrl": "https://" + "x" * 2100}, "documents[0].contentUrl"),
        ({"contentUrl": "https://x.example/", "thumbUrl": "data:image/png,x"}, "thumbUrl"),
        ({"contentUrl": "http://x@evil/"}, "documents[0].contentUrl"),
        ({"contentUrl": "https://user:secret@files.example/a.pdf"}, "documents[0].contentUrl"),
        ({"contentUrl": "https://files.example\\@evil.example/a.pdf"}, "documents[0].contentUrl"),
        ({"contentUrl": "https://x.example/", "thumbUrl": "https://x@evil/t.png"}, "thumbUrl"),
        ({"contentUrl": "https://x.example/", "mimeType": "pdf"}, "mimeType"),
        ({"description": "no url"}, "documents[0]"),
        ({}, "documents[0]"),
        ({"uuid": "not-a-uuid"}, "documents[0].uuid"),
        ({"id": 10**20}, "documents[0].id"),
        ({"contentUrl": "https://x.example/", "colour": "red"}, "colour"),
        ({"contentUrl": "https://x.example/", "internal": "maybe"}, "internal"),
    ],
)
async def test_invalid_items_are_406_naming_the_field(client, app, item, field: str) -> None:
    customer = await create_customer(client)
    response = await put_documents(client, customer, [item])
    assert field in assert_family_error(response, 406)["message"]
    assert await count_documents(app) == 0


async def test_a_link_with_user_info_is_refused_and_says_why(client) -> None:
    response = await client.post(
        "/api/1/customer", json={"name": "W", "documents": [{"contentUrl": "http://x@evil/"}]}
    )
    body = assert_family_error(response, 406)
    assert body["error"] == "invalid_body"
    assert "user name or password" in body["message"]
    assert (await client.get("/api/1/customer")).status_code == 204


async def test_an_at_sign_after_the_host_is_an_ordinary_url(client) -> None:
    customer = await create_customer(client)
    url = "https://files.example/@team/a.pdf?by=me@example.com"
    response = await put_documents(client, customer, [{"contentUrl": url}])
    assert response.status_code == 200, response.text
    assert response.json()["documents"][0]["contentUrl"] == url


async def test_a_document_listed_twice_is_406(client) -> None:
    uploaded = await upload(client, b"x\n", "x.txt")
    customer = await create_customer(client)
    response = await put_documents(
        client, customer, [{"uuid": uploaded["uuid"]}, {"id": uploaded["id"]}]
    )
    assert "documents[1]" in assert_family_error(response, 406)["message"]


async def test_an_unknown_reference_is_404_and_changes_nothing(client, app) -> None:
    customer = await create_customer(client, documents=[WEB_LINK])
    response = await put_documents(
        client,
        customer,
        [{"contentUrl": "https://x.example/new"}, {"uuid": "00000000-0000-0000-0000-000000000001"}],
    )
    assert "documents[1].uuid" in assert_family_error(response, 404)["message"]
    fetched = (await client.get(f"/api/1/customer/{customer['id']}")).json()
    assert fetched["documents"] == customer["documents"]
    assert await count_documents(app) == 1


async def test_a_post_with_an_unknown_reference_creates_nothing(client) -> None:
    response = await client.post(
        "/api/1/customer", json={"name": "W", "documents": [{"id": 424242}]}
    )
    assert_family_error(response, 404)
    assert (await client.get("/api/1/customer")).status_code == 204


async def test_too_many_documents_is_406(client) -> None:
    customer = await create_customer(client)
    items = [{"contentUrl": f"https://x.example/{i}"} for i in range(1001)]
    assert_family_error(await put_documents(client, customer, items), 406)
