"""POST /api/1/document/content: real files stream into the vault; the type is sniffed; bad,
oversize and cut-off uploads leave nothing behind."""

import uuid

import pytest

from tests.documents import files
from tests.documents.helpers import (
    BOUNDARY,
    MULTIPART,
    UPLOAD_LIMIT,
    assert_family_error,
    count_documents,
    multipart_head,
    stored_files,
    upload,
)

DOCUMENT_FIELDS = {
    "uuid",
    "thumbUrl",
    "size",
    "mimeType",
    "lastModified",
    "contentUrl",
    "creationTimeStamp",
    "creatorId",
    "description",
    "fileName",
    "groupId",
    "id",
    "internal",
}


async def test_documented_upload_answers_the_upload_dto(client, acme, vault_dir) -> None:
    content = files.jpeg()
    response = await client.post(
        "/api/1/document/content", files={"file": ("myimage.jpg", content, "image/jpeg")}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"success", "document"}
    assert body["success"] is True
    document = body["document"]
    assert set(document) == DOCUMENT_FIELDS
    uuid.UUID(document["uuid"])
    assert document["contentUrl"] == f"/vault/document/{document['uuid']}"
    assert document["thumbUrl"] == f"/vault/thumbnail/{document['uuid']}"
    assert document["size"] == len(content)
    assert document["mimeType"] == "image/jpeg"
    assert document["fileName"] == "myimage.jpg"
    assert document["groupId"] == acme.group_id
    assert isinstance(document["id"], int)
    assert document["creatorId"] is None
    assert document["description"] is None
    assert document["internal"] is False
    assert document["creationTimeStamp"] == document["lastModified"] > 1_700_000_000_000
    # The bytes are in the vault, complete, and nothing temporary is left.
    kept = stored_files(vault_dir)
    assert len(kept) == 1
    assert kept[0].read_bytes() == content
    assert (await client.get(document["contentUrl"])).content == content


@pytest.mark.parametrize(
    ("content", "claimed_name", "claimed_type", "sniffed"),
    [
        (files.png(), "image.png", "image/png", "image/png"),
        (files.pdf(), "manual.pdf", "application/pdf", "application/pdf"),
        ("Gate code 1234\nRing twice. Åke\n".encode(), "notes.txt", "text/plain", "text/plain"),
        # Mislabelled: the name and the claimed type say JPEG, the content is a PNG.
        (files.png(), "photo.jpg", "image/jpeg", "image/png"),
        # An HTML page claiming to be an image is stored as the text it is.
        (b"<html><script>alert(1)</script></html>", "x.png", "image/png", "text/plain"),
        (bytes(range(256)) * 4, "data.png", "image/png", "application/octet-stream"),
        (b"", "empty.txt", "text/plain", "application/octet-stream"),
    ],
)
async def test_mime_type_is_sniffed_from_the_content(
    client, content: bytes, claimed_name: str, claimed_type: str, sniffed: str
) -> None:
    document = await upload(client, content, claimed_name, claimed_type)
    assert document["mimeType"] == sniffed
    assert document["fileName"] == claimed_name
    assert document["size"] == len(content)


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\eve\\report.pdf", "report.pdf"),
        ("/absolute/path/x.txt", "x.txt"),
        ("bad\x01\x1f\x7fname.txt", "badname.txt"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),  # right-to-left override removed
        ("  spaced.txt  ", "spaced.txt"),
        ("..", None),
        ("dir/", None),
        ("Ärende №5 — 日本.txt", "Ärende №5 — 日本.txt"),
        ('say "hi".txt', 'say "hi".txt'),
        ("a" * 300 + ".pdf", "a" * 251 + ".pdf"),
    ],
)
async def test_hostile_file_names_are_reduced_to_a_base_name(client, sent, stored) -> None:
    # Built by hand: a client library would escape some of these characters itself.
    disposition = 'form-data; name="file"; filename="' + sent.replace('"', "%22") + '"'
    raw = (
        f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        + b"plain text\n"
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    response = await client.post("/api/1/document/content", content=raw, headers=MULTIPART)
    assert response.status_code == 200, response.text
    assert response.json()["document"]["fileName"] == stored


async def test_a_file_name_with_a_line_break_cannot_split_headers(client) -> None:
    document = await upload(client, b"text\n", "evil\r\nX-Injected: 1.txt", "text/plain")
    assert document["fileName"] == "evilX-Injected: 1.txt"
    response = await client.get(document["contentUrl"])
    assert "x-injected" not in response.headers


async def test_upload_up_to_the_limit_is_accepted(client) -> None:
    document = await upload(client, b"x" * UPLOAD_LIMIT)
    assert document["size"] == UPLOAD_LIMIT


async def test_oversize_upload_is_413_and_nothing_is_kept(client, app, vault_dir) -> None:
    response = await client.post(
        "/api/1/document/content", files={"file": ("big.bin", b"x" * (UPLOAD_LIMIT + 1))}
    )
    body = assert_family_error(response, 413)
    assert "file" in body["message"]
    assert stored_files(vault_dir) == []
    assert await count_documents(app) == 0


async def test_oversize_upload_without_length_is_stopped_while_streaming(
    client, app, vault_dir
) -> None:
    sent = 0

    async def body():
        nonlocal sent
        yield multipart_head()
        for _ in range(100):  # 100 x 64 KiB = 6.4 MiB offered, far past the limit
            sent += 64 * 1024
            yield b"y" * (64 * 1024)
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    response = await client.post("/api/1/document/content", content=body(), headers=MULTIPART)
    assert_family_error(response, 413)
    assert sent < 1024 * 1024  # the server stopped reading soon after the limit
    assert stored_files(vault_dir) == []
    assert await count_documents(app) == 0


async def test_cut_off_upload_leaves_no_file_and_no_row(client, app, vault_dir) -> None:
    async def body():
        yield multipart_head()
        yield b"z" * 100_000
        # ... and the body ends here, without the closing boundary.

    response = await client.post("/api/1/document/content", content=body(), headers=MULTIPART)
    body_json = assert_family_error(response, 406)
    assert "closing boundary" in body_json["message"]
    assert stored_files(vault_dir) == []
    assert await count_documents(app) == 0


@pytest.mark.parametrize(
    ("content_type", "raw", "named"),
    [
        ("application/json", b'{"file": "x"}', "multipart/form-data"),
        ("multipart/form-data", b"--x\r\n", "boundary"),
        (MULTIPART["Content-Type"], b"this is not multipart at all", "multipart"),
        (MULTIPART["Content-Type"], b"", "closing boundary"),
        (
            MULTIPART["Content-Type"],
            f"--{BOUNDARY}\r\nX-Nothing: 1\r\n\r\ndata\r\n--{BOUNDARY}--\r\n".encode(),
            "Content-Disposition",
        ),
        (
            MULTIPART["Content-Type"],
            multipart_head(name="attachment") + f"data\r\n--{BOUNDARY}--\r\n".encode(),
            "attachment",
        ),
        (
            MULTIPART["Content-Type"],
            multipart_head()
            + b"a\r\n"
            + multipart_head()
            + b"b\r\n"
            + f"--{BOUNDARY}--\r\n".encode(),
            "only one file",
        ),
        (MULTIPART["Content-Type"], f"--{BOUNDARY}--\r\n".encode(), "file"),
        (
            MULTIPART["Content-Type"],
            f"--{BOUNDARY}\r\n".encode()
            + b"Content-Disposition: form-data; name=file\r\n"
            + b"X-Long: "
            + b"h" * 10_000
            + b"\r\n\r\ndata\r\n",
            "malformed",
        ),
        (f"multipart/form-data; boundary={'b' * 300}", b"--", "body"),
    ],
)
async def test_malformed_multipart_is_406(
    client, app, vault_dir, content_type: str, raw: bytes, named: str
) -> None:
    response = await client.post(
        "/api/1/document/content", content=raw, headers={"Content-Type": content_type}
    )
    body = assert_family_error(response, 406)
    assert named in body["message"]
    assert stored_files(vault_dir) == []
    assert await count_documents(app) == 0


async def test_upload_needs_a_key_and_keeps_nothing_without_one(anonymous, app, vault_dir) -> None:
    response = await anonymous.post(
        "/api/1/document/content", files={"file": ("a.txt", b"hello\n", "text/plain")}
    )
    assert_family_error(response, 401)
    assert stored_files(vault_dir) == []
    assert await count_documents(app) == 0


async def test_each_upload_is_a_new_document(client, vault_dir) -> None:
    first = await upload(client, b"same bytes\n", "a.txt")
    second = await upload(client, b"same bytes\n", "a.txt")
    assert first["uuid"] != second["uuid"]
    assert len(stored_files(vault_dir)) == 2
