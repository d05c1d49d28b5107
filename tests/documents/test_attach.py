"""PUT and DELETE /api/1/customer/{id}/document/{did}, and documents in the customer's detail."""

from tests.documents import files
from tests.documents.helpers import (
    assert_family_error,
    count_documents,
    count_links,
    stored_files,
    upload,
)
from tests.helpers import create_customer


async def documents_of(client, customer: dict) -> list[dict]:
    response = await client.get(f"/api/1/customer/{customer['uuid']}")
    assert response.status_code == 200
    return response.json()["documents"]


async def test_documented_three_step_flow(client) -> None:
    customer = await create_customer(client)
    uploaded = await upload(client, files.jpeg(), "myimage.jpg", "image/jpeg")
    await client.put(
        f"/api/1/document/{uploaded['uuid']}",
        json={"description": "Top secret map to customer site", "internal": True},
    )
    response = await client.put(f"/api/1/customer/{customer['uuid']}/document/{uploaded['uuid']}")
    assert response.status_code == 200
    assert response.content == b""
    [attached] = await documents_of(client, customer)
    assert attached["uuid"] == uploaded["uuid"]
    assert attached["description"] == "Top secret map to customer site"
    assert attached["internal"] is True
    assert attached["mimeType"] == "image/jpeg"


async def test_a_new_customer_has_no_documents(client) -> None:
    customer = await create_customer(client)
    assert customer["documents"] == []
    assert await documents_of(client, customer) == []


async def test_attach_is_idempotent_and_keeps_the_order(client) -> None:
    customer = await create_customer(client)
    first = await upload(client, b"one\n", "1.txt")
    second = await upload(client, b"two\n", "2.txt")
    for document in (second, first, second):
        path = f"/api/1/customer/{customer['id']}/document/{document['id']}"
        assert (await client.put(path)).status_code == 200
    assert [d["uuid"] for d in await documents_of(client, customer)] == [
        second["uuid"],
        first["uuid"],
    ]


async def test_attaching_changes_the_customers_modified(client) -> None:
    customer = await create_customer(client)
    document = await upload(client, b"x\n", "x.txt")
    await client.put(f"/api/1/customer/{customer['id']}/document/{document['id']}")
    fetched = (await client.get(f"/api/1/customer/{customer['id']}")).json()
    assert fetched["modified"] >= customer["modified"]
    listed = await client.get(f"/api/1/customer?modified={fetched['modified']}")
    assert [c["id"] for c in listed.json()] == [customer["id"]]


async def test_detach_then_the_document_stays(client, vault_dir) -> None:
    customer = await create_customer(client)
    document = await upload(client, b"keep me\n", "keep.txt")
    path = f"/api/1/customer/{customer['uuid']}/document/{document['uuid']}"
    await client.put(path)
    response = await client.delete(path)
    assert response.status_code == 200
    assert response.content == b""
    assert await documents_of(client, customer) == []
    assert (await client.delete(path)).status_code == 200  # not attached: nothing to do
    assert (await client.get(document["contentUrl"])).content == b"keep me\n"
    assert (await client.put(path)).status_code == 200  # and it can be attached again
    assert len(stored_files(vault_dir)) == 1


async def test_same_document_on_several_customers(client) -> None:
    one, two = await create_customer(client), await create_customer(client, name="Other")
    document = await upload(client, b"shared\n", "shared.txt")
    for customer in (one, two):
        await client.put(f"/api/1/customer/{customer['id']}/document/{document['id']}")
    await client.delete(f"/api/1/customer/{one['id']}/document/{document['id']}")
    assert await documents_of(client, one) == []
    assert [d["id"] for d in await documents_of(client, two)] == [document["id"]]


async def test_deleting_a_customer_removes_its_links_but_not_the_documents(
    client, app, vault_dir
) -> None:
    customer = await create_customer(client)
    document = await upload(client, b"stays\n", "stays.txt")
    await client.put(f"/api/1/customer/{customer['id']}/document/{document['id']}")
    assert await count_links(app) == 1
    assert (await client.delete(f"/api/1/customer/{customer['id']}")).status_code == 200
    assert await count_links(app) == 0
    assert await count_documents(app) == 1
    assert (await client.get(document["contentUrl"])).content == b"stays\n"
    assert len(stored_files(vault_dir)) == 1


async def test_unknown_customer_or_document_is_404(client) -> None:
    customer = await create_customer(client)
    document = await upload(client, b"x\n", "x.txt")
    for path in (
        f"/api/1/customer/999999/document/{document['id']}",
        f"/api/1/customer/{customer['id']}/document/999999",
        f"/api/1/customer/{customer['id']}/document/not-an-id",
    ):
        assert_family_error(await client.put(path), 404)
        assert_family_error(await client.delete(path), 404)


async def test_list_stays_without_documents_and_constant_in_statements(
    client, count_statements
) -> None:
    document = await upload(client, b"x\n", "x.txt")
    for index in range(12):
        customer = await create_customer(client, name=f"c{index}")
        await client.put(f"/api/1/customer/{customer['id']}/document/{document['id']}")
    counts = []
    for limit in (1, 12):
        with count_statements() as counter:
            response = await client.get(f"/api/1/customer?limit={limit}")
        assert len(response.json()) == limit
        assert all("documents" not in customer for customer in response.json())
        counts.append(counter.count)
    assert counts == [1, 1]


async def test_detail_is_constant_in_statements_whatever_the_documents(
    client, count_statements
) -> None:
    customer = await create_customer(client)
    counts = []
    for _ in range(2):
        for index in range(5):
            document = await upload(client, f"{index}\n".encode(), f"{index}.txt")
            await client.put(f"/api/1/customer/{customer['id']}/document/{document['id']}")
        with count_statements() as counter:
            response = await client.get(f"/api/1/customer/{customer['id']}")
        counts.append((len(response.json()["documents"]), counter.count))
    assert [number for number, _ in counts] == [5, 10]
    assert counts[0][1] == counts[1][1] == 1  # the customer, its projects and documents
