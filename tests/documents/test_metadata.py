"""PUT /api/1/document/{did}: description, fileName and internal."""

import pytest

from tests.documents.helpers import assert_family_error, upload


async def test_documented_metadata_update(client) -> None:
    document = await upload(client, b"map\n", "map.txt")
    response = await client.put(
        f"/api/1/document/{document['uuid']}",
        json={"description": "Top secret map to customer site", "internal": True},
    )
    assert response.status_code == 200
    updated = response.json()
    assert updated["description"] == "Top secret map to customer site"
    assert updated["internal"] is True
    assert updated["fileName"] == "map.txt"
    assert updated["lastModified"] >= document["lastModified"]
    assert updated["creationTimeStamp"] == document["creationTimeStamp"]
    for unchanged in ("uuid", "id", "size", "mimeType", "contentUrl", "thumbUrl", "groupId"):
        assert updated[unchanged] == document[unchanged]


async def test_by_id_and_fields_left_out_stay(client) -> None:
    document = await upload(client, b"x\n", "x.txt")
    await client.put(f"/api/1/document/{document['id']}", json={"description": "first"})
    response = await client.put(f"/api/1/document/{document['id']}", json={"fileName": "y.txt"})
    assert response.json()["description"] == "first"
    assert response.json()["fileName"] == "y.txt"
    cleared = await client.put(f"/api/1/document/{document['id']}", json={"description": None})
    assert cleared.json()["description"] is None


async def test_file_name_is_cleaned_like_an_upload(client) -> None:
    document = await upload(client, b"x\n", "x.txt")
    response = await client.put(
        f"/api/1/document/{document['uuid']}", json={"fileName": "../../secret\u0000.txt"}
    )
    assert response.status_code == 200
    assert response.json()["fileName"] == "secret.txt"


async def test_sending_back_the_document_as_read_is_accepted(client) -> None:
    document = await upload(client, b"x\n", "x.txt")
    sent_back = {**document, "description": "annotated", "size": 1, "mimeType": "image/gif"}
    response = await client.put(f"/api/1/document/{document['uuid']}", json=sent_back)
    assert response.status_code == 200
    assert response.json()["description"] == "annotated"
    assert response.json()["size"] == document["size"]
    assert response.json()["mimeType"] == "text/plain"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"internal": None}, "internal"),
        ({"internal": "maybe"}, "internal"),
        # A boolean, as the document says: not 0 or "true" (the /api/v1.0 family reads those).
        ({"internal": 0}, "internal"),
        ({"internal": "true"}, "internal"),
        ({"description": 5}, "description"),
        ({"description": "x" * 10_001}, "description"),
        ({"colour": "red"}, "colour"),
        ([1, 2], "body"),
    ],
)
async def test_invalid_metadata_is_406_naming_the_field(client, body, field: str) -> None:
    document = await upload(client, b"x\n", "x.txt")
    response = await client.put(f"/api/1/document/{document['uuid']}", json=body)
    assert field in assert_family_error(response, 406)["message"]


async def test_malformed_json_is_406(client) -> None:
    document = await upload(client, b"x\n", "x.txt")
    response = await client.put(
        f"/api/1/document/{document['uuid']}",
        content=b"{",
        headers={"Content-Type": "application/json"},
    )
    assert_family_error(response, 406)


@pytest.mark.parametrize("ref", ["424242", "00000000-0000-0000-0000-000000000000", "x"])
async def test_unknown_document_is_404(client, ref: str) -> None:
    assert_family_error(await client.put(f"/api/1/document/{ref}", json={}), 404)
