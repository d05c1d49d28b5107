"""Another group's document answers 404 on every route, exactly like one that does not exist."""

from tests.documents import files
from tests.documents.helpers import assert_family_error, upload
from tests.helpers import create_customer


async def test_other_groups_document_is_404_everywhere(client, globex) -> None:
    theirs = await upload(globex.client, files.jpeg(), "theirs.jpg")
    mine = await create_customer(client)
    for ref in (theirs["id"], theirs["uuid"]):
        assert_family_error(
            await client.put(f"/api/1/document/{ref}", json={"description": "mine now"}), 404
        )
        attach_path = f"/api/1/customer/{mine['id']}/document/{ref}"
        assert_family_error(await client.put(attach_path), 404)
        assert_family_error(await client.delete(attach_path), 404)
    assert_family_error(await client.get(f"/vault/document/{theirs['uuid']}"), 404)
    assert (await client.head(f"/vault/document/{theirs['uuid']}")).status_code == 404
    assert_family_error(await client.get(f"/vault/thumbnail/{theirs['uuid']}"), 404)
    for item in ({"uuid": theirs["uuid"]}, {"id": theirs["id"]}):
        response = await client.put(f"/api/1/customer/{mine['id']}", json={"documents": [item]})
        assert_family_error(response, 404)
    assert (await client.get(f"/api/1/customer/{mine['id']}")).json()["documents"] == []
    # Untouched for its owner.
    response = await globex.client.put(f"/api/1/document/{theirs['uuid']}", json={})
    assert response.json()["description"] is None
    assert (await globex.client.get(theirs["contentUrl"])).status_code == 200


async def test_own_document_cannot_be_attached_to_another_groups_customer(client, globex) -> None:
    mine = await upload(client, b"x\n", "x.txt")
    theirs = await create_customer(globex.client)
    path = f"/api/1/customer/{theirs['id']}/document/{mine['id']}"
    assert_family_error(await client.put(path), 404)
    assert (await globex.client.get(f"/api/1/customer/{theirs['id']}")).json()["documents"] == []


async def test_other_groups_link_is_invisible_too(client, globex) -> None:
    customer = await create_customer(
        globex.client, documents=[{"contentUrl": "https://files.example/secret.pdf"}]
    )
    link = customer["documents"][0]
    assert_family_error(await client.get(f"/vault/thumbnail/{link['uuid']}"), 404)
    assert_family_error(await client.put(f"/api/1/document/{link['uuid']}", json={}), 404)
